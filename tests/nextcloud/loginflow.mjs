// Login Flow v2, browser sessions and app passwords for the Nextcloud stand-in (standin.mjs). An
// imitation written from nextcloud/server's sources (no code of theirs is copied):
//
//   - core/Controller/ClientFlowLoginV2Controller.php: the routes, their answers and status codes
//     (POST /login/v2 → {poll: {token, endpoint}, login}; GET /login/v2/flow/{token} → 303 to the
//     auth picker; GET /login/v2/grant needs a logged-in session and the state token; POST
//     /login/v2/grant with the CSRF request token makes the app password and shows "Account
//     connected"; POST /login/v2/apptoken; POST /login/v2/poll → 404 `[]` until granted, then the
//     credentials once); the 403 pages' messages ("Your login token is invalid or has expired",
//     "State token missing", "State token does not match", "Could not complete login", "Invalid
//     app password");
//   - core/Service/LoginFlowV2Service.php: 128-character poll and login tokens (digits, lower,
//     upper), the poll token stored only as sha512(token . secret), the client name from the
//     User-Agent, the app password (72 characters of A-Z a-z 0-9, ISecureRandom) generated for the
//     user of the session that grants — whoever that is: the flow is not bound to the person who
//     started it (GHSA-84qv-22q6-x82r; kept on purpose, the product must detect it) — stored
//     encrypted with a key only the poll token opens, deleted from the flow at the first
//     successful poll;
//   - core/Db/LoginFlowV2Mapper.php: a flow lives 1200 s (20 minutes) from its creation; an
//     expired flow is deleted when looked up (here `loginFlowLifetimeSec` shortens it for tests);
//   - core/templates/loginflowv2/{authpicker,grant,done}.php and core/templates/403.php: the pages'
//     texts, the picker's security warning and its "Alternative log in using app password" form
//     (as plain HTML without scripts; the picker's "Log in" is a link);
//   - lib/private/Authentication/Token/PublicKeyTokenProvider.php: app passwords are looked up by
//     sha512(password . secret), carry uid, login name, name (the client), last activity;
//     invalidateTokenById deletes one;
//   - core/Controller/LoginController.php and lib/private/AppFramework/Middleware/Security/
//     SecurityMiddleware.php: a page that needs a user redirects (303) to
//     /index.php/login?redirect_url=<request URI>; a POST without the session's request token is
//     refused (412 "CSRF check failed"); a successful login regenerates the session id and
//     redirects to redirect_url (local paths only).
//
// Not imitated: the ephemeral login-flow session (FlowV2EphemeralSessionsMiddleware),
// `login_flow_v2.allowed_user_agents` ("Please use original client"), password confirmation on
// the grant (the login just happened), brute-force throttling, two-factor.
//
// Single sign-on, with an IdP configured: (a) with `oidc` (the IdP client id and secret), the
// login page links to user_oidc's code-flow login (useroidc.mjs), which a person completes by
// clicks at the IdP; (b) a page request that carries `Authorization: Bearer <token>` logs the
// session in as userinfo's `sub` (user_oidc's bearer validation does this for any request).
//
// Secrets (app passwords, poll and login tokens, session ids) are never logged; the state
// accessors list app passwords without them.
import { createCipheriv, createDecipheriv, createHash, createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';

/** ISecureRandom::CHAR_UPPER . CHAR_LOWER . CHAR_DIGITS (the app password alphabet). */
export const APP_PASSWORD_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
export const APP_PASSWORD_LENGTH = 72;
/** LoginFlowV2Mapper::lifetime. */
export const LOGIN_FLOW_LIFETIME_SEC = 1200;

export function secureRandom(length, chars) {
  let s = '';
  for (let i = 0; i < length; i += 1) s += chars[randomInt(chars.length)];
  return s;
}
const sha512 = (s) => createHash('sha512').update(s).digest('hex');
const htmlEscape = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#039;');
const sameSecret = (a, b) => typeof a === 'string' && typeof b === 'string' && a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/**
 * App passwords (PublicKeyTokenProvider, permanent tokens): `add` (a given password, e.g. the
 * configured basicUsers), `generate` (72 characters), `find(loginName, password)` → entry,
 * `remove(id)`, `list(uid)` (no secrets). `now()` is the clock in ms.
 */
export function appPasswordStore({ secret, now }) {
  const byHash = new Map();
  let nextId = 1;
  const t = () => Math.floor(now() / 1000);
  const store = {
    add(uid, loginName, password, name) {
      const entry = { id: nextId++, uid, loginName, name: [...String(name)].length > 128 ? `${[...String(name)].slice(0, 120).join('')}…` : String(name), created: t(), lastActivity: t() };
      byHash.set(sha512(password + secret), entry);
      return entry;
    },
    generate(uid, loginName, name) {
      const password = secureRandom(APP_PASSWORD_LENGTH, APP_PASSWORD_CHARS);
      return { password, entry: store.add(uid, loginName, password, name) };
    },
    find(loginName, password) {
      const entry = byHash.get(sha512(password + secret));
      if (!entry || entry.loginName !== loginName) return null;
      entry.lastActivity = t();
      return entry;
    },
    remove(id) {
      for (const [h, e] of byHash) if (e.id === id) { byHash.delete(h); return true; }
      return false;
    },
    list(uid) {
      return [...byHash.values()].filter((e) => uid === undefined || e.uid === uid).sort((a, b) => a.id - b.id).map((e) => ({ ...e }));
    },
  };
  return store;
}

// A granted flow's app password is readable only with the poll token, as in LoginFlowV2Service
// (there: an RSA key pair per flow, the private key encrypted with the poll token, the password
// encrypted to the public key; here X25519 + AES-256-GCM, which is quicker to make).
function sealWith(data, keyMaterial) {
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', createHash('sha256').update(keyMaterial).digest(), iv);
  const body = Buffer.concat([c.update(data), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]);
}
function openWith(sealed, keyMaterial) {
  const d = createDecipheriv('aes-256-gcm', createHash('sha256').update(keyMaterial).digest(), sealed.subarray(0, 12));
  d.setAuthTag(sealed.subarray(12, 28));
  return Buffer.concat([d.update(sealed.subarray(28)), d.final()]);
}
function flowKeys(pollToken) {
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  return { publicKey, privateKey: sealWith(privateKey.export({ type: 'pkcs8', format: 'der' }), pollToken) };
}
function encryptTo(publicKey, password) {
  const eph = generateKeyPairSync('x25519');
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey });
  return { eph: eph.publicKey.export({ type: 'spki', format: 'der' }), box: sealWith(Buffer.from(password, 'utf8'), shared) };
}
function decryptWith(sealedPrivateKey, pollToken, { eph, box }) {
  const privateKey = createPrivateKey({ key: openWith(sealedPrivateKey, pollToken), format: 'der', type: 'pkcs8' });
  const shared = diffieHellman({ privateKey, publicKey: createPublicKey({ key: eph, format: 'der', type: 'spki' }) });
  return openWith(box, shared).toString('utf8');
}

/**
 * Login Flow v2 and the browser pages over the stand-in's plumbing. `base` is the server URL (the
 * `server` of the credentials), `appPasswords` an appPasswordStore, `checkLoginPassword(user, pw)`
 * → bool (the login form), `bearerUser(token)` → user info {id, email, name} or null (user_oidc's
 * bearer validation; `sso`: whether an IdP is configured), `oidc` a userOidcLogin() or null,
 * `getUser(id, info)` the stand-in's user record, `onAppPasswordIssued(uid, password)` a test tap
 * told each app password a grant makes.
 * Returns { handle(ctx) → true when the route was one of these, flows() for the test state }.
 */
export function loginFlowApp({ base, send, sendJson, readBody, appPasswords, checkLoginPassword, bearerUser, sso = false, oidc = null, getUser, now, lifetimeSec = LOGIN_FLOW_LIFETIME_SEC, instanceName = 'Nextcloud', onAppPasswordIssued = null }) {
  const secret = randomBytes(24).toString('hex');
  const cookieName = `oc${secureRandom(10, 'abcdefghijklmnopqrstuvwxyz0123456789')}`;
  const sessions = new Map(); // session id → { user: {uid, loginName} | null, data: Map, requestToken }
  const flows = new Map(); // login token → flow
  const t = () => Math.floor(now() / 1000);

  // ---- flows (LoginFlowV2Mapper + LoginFlowV2Service) ----------------------------------------

  function valid(flow) {
    if (!flow) return null;
    if (flow.timestamp < t() - lifetimeSec) { flows.delete(flow.loginToken); return null; }
    return flow;
  }
  const byLoginToken = (token) => (typeof token === 'string' ? valid(flows.get(token)) : null);
  function byPollToken(token) {
    const h = sha512(token + secret);
    for (const f of flows.values()) if (f.pollHash === h) return valid(f);
    return null;
  }

  // ---- sessions -----------------------------------------------------------------------------

  function cookieValue(ctx) {
    for (const part of (ctx.req.headers.cookie ?? '').split(';')) {
      const i = part.indexOf('=');
      if (i > 0 && part.slice(0, i).trim() === cookieName) return part.slice(i + 1).trim();
    }
    return null;
  }
  function newSession(ctx, from = null) {
    const id = secureRandom(32, APP_PASSWORD_CHARS);
    const s = { user: from?.user ?? null, data: new Map(from?.data ?? []), requestToken: secureRandom(43, APP_PASSWORD_CHARS) };
    sessions.set(id, s);
    if (sessions.size > 10000) sessions.delete(sessions.keys().next().value); // bounded: the oldest goes
    ctx.setCookie = `${cookieName}=${id}; Path=/; HttpOnly; SameSite=Lax`;
    return s;
  }
  async function session(ctx) {
    const id = cookieValue(ctx);
    let s = (id && sessions.get(id)) || newSession(ctx);
    if (!s.user) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(ctx.req.headers.authorization ?? '');
      const info = m ? await bearerUser(m[1]) : null;
      if (info) {
        getUser(info.id, info);
        if (id && sessions.get(id) === s) { sessions.delete(id); s = newSession(ctx, s); }
        s.user = { uid: info.id, loginName: info.id };
      }
    }
    return s;
  }

  // ---- pages --------------------------------------------------------------------------------

  const page = (ctx, status, title, body, headers = {}) => send(ctx, status, `<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>${htmlEscape(title)} - ${htmlEscape(instanceName)}</title></head>\n<body class="guest">\n<div class="picker-window">\n${body}\n</div>\n</body></html>\n`, {
    'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache, no-store, must-revalidate', ...(ctx.setCookie ? { 'Set-Cookie': ctx.setCookie } : {}), ...headers,
  });
  const forbidden = (ctx, message) => page(ctx, 403, 'Access forbidden', `<h2>Access forbidden</h2>\n<p class="hint">${htmlEscape(message)}</p>`);
  const redirect = (ctx, location) => send(ctx, 303, '', { Location: location, ...(ctx.setCookie ? { 'Set-Cookie': ctx.setCookie } : {}) });

  async function formParams(ctx) {
    const body = (await readBody(ctx)).toString('utf8');
    const ct = (ctx.req.headers['content-type'] ?? '').toLowerCase();
    const params = Object.fromEntries(ctx.url.searchParams);
    if (ct.startsWith('application/json')) {
      try { const j = JSON.parse(body); if (j && typeof j === 'object') Object.assign(params, j); } catch { /* ignored, as Request does */ }
    } else if (body) Object.assign(params, Object.fromEntries(new URLSearchParams(body)));
    return params;
  }
  const passesCsrf = (s, params, ctx) => sameSecret(params.requesttoken ?? ctx.req.headers.requesttoken, s.requestToken);
  const csrfFailed = (ctx) => page(ctx, 412, 'Access forbidden', '<h2>Access forbidden</h2>\n<p class="hint">CSRF check failed</p>');
  const loginRedirect = (ctx) => redirect(ctx, `/index.php/login?redirect_url=${encodeURIComponent(ctx.req.url)}`);

  function loginPage(ctx, s, { user = '', redirectUrl = '', failed = false }) {
    const link = oidc ? `\n<p id="sso"><a id="sso-login" href="${base}/index.php/apps/user_oidc/login/1?redirectUrl=${htmlEscape(encodeURIComponent(redirectUrl))}">Log in with OpenID Connect</a></p>` : '';
    const ssoNote = sso ? `${link}\n<p class="info" id="sso-bearer">Requests with <code>Authorization: Bearer &lt;token of the identity provider&gt;</code> are logged in as the token's user (user_oidc bearer validation).</p>` : '';
    return page(ctx, 200, 'Login', `<h2>Log in to ${htmlEscape(instanceName)}</h2>${failed ? '\n<p class="warning" id="login-error">Wrong login or password.</p>' : ''}
<form method="post" name="login" action="/index.php/login">
<input type="text" name="user" autocomplete="username" value="${htmlEscape(user)}" required>
<input type="password" name="password" autocomplete="current-password" required>
<input type="hidden" name="requesttoken" value="${htmlEscape(s.requestToken)}">
<input type="hidden" name="redirect_url" value="${htmlEscape(redirectUrl)}">
<button type="submit">Log in</button>
</form>${ssoNote}`);
  }

  // ---- routes -------------------------------------------------------------------------------

  /** A successful login: Session::login regenerates the session id. */
  function logIn(ctx, s, uid) {
    const id = cookieValue(ctx);
    if (id) sessions.delete(id);
    const fresh = newSession(ctx, s);
    fresh.data.delete('loginFailed');
    fresh.user = { uid, loginName: uid };
    return fresh;
  }

  async function handleOidc(ctx, route) {
    if (!oidc || ctx.method !== 'GET') return false;
    const s = await session(ctx);
    if (route !== 'code') return redirect(ctx, await oidc.start(s.data, ctx.url.searchParams.get('redirectUrl'))), true;
    const result = await oidc.finish(s.data, ctx.url.searchParams);
    if (result.error) return forbidden(ctx, result.error), true;
    getUser(result.user.id, result.user);
    logIn(ctx, s, result.user.id);
    return redirect(ctx, safeRedirect(result.redirectUrl)), true;
  }

  async function handle(ctx) {
    const o = /^(?:\/index\.php)?\/apps\/user_oidc\/(login\/\d+|code)$/.exec(ctx.url.pathname);
    if (o) return handleOidc(ctx, o[1]);
    const m = /^(?:\/index\.php)?(\/login(?:\/v2(?:\/flow(?:\/[^/]+)?|\/grant|\/poll|\/apptoken)?)?)$/.exec(ctx.url.pathname);
    if (!m) return false;
    const route = m[1].startsWith('/login/v2/flow/') ? '/login/v2/flow/{token}' : m[1];
    ctx.logPath = ctx.url.pathname.replace(/\/flow\/[^/]+$/, '/flow/{token}');
    const key = `${ctx.method} ${route}`;
    const allowed = { '/login': ['GET', 'POST'], '/login/v2': ['POST'], '/login/v2/poll': ['POST'], '/login/v2/flow/{token}': ['GET'], '/login/v2/flow': ['GET'], '/login/v2/grant': ['GET', 'POST'], '/login/v2/apptoken': ['POST'] }[route];
    if (!allowed.includes(ctx.method)) { send(ctx, 405, 'Method Not Allowed\n', { 'Content-Type': 'text/plain; charset=utf-8', Allow: allowed.join(', ') }); return true; }

    if (key === 'POST /login/v2') { // init()
      await readBody(ctx);
      for (const f of [...flows.values()]) valid(f); // LoginFlowV2Mapper::cleanup (a background job there)
      const pollToken = secureRandom(128, '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ');
      const loginToken = secureRandom(128, '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ');
      flows.set(loginToken, { loginToken, pollHash: sha512(pollToken + secret), started: 0, timestamp: t(), clientName: ctx.req.headers['user-agent'] ?? '', loginName: null, server: null, appPassword: null, uid: null, ...flowKeys(pollToken) });
      sendJson(ctx, 200, { poll: { token: pollToken, endpoint: `${base}/index.php/login/v2/poll` }, login: `${base}/index.php/login/v2/flow/${loginToken}` });
      return true;
    }
    if (key === 'POST /login/v2/poll') { // poll()
      const { token } = await formParams(ctx);
      const flow = typeof token === 'string' && token ? byPollToken(token) : null;
      if (!flow || flow.appPassword === null) { sendJson(ctx, 404, []); return true; }
      flows.delete(flow.loginToken);
      let appPassword;
      try { appPassword = decryptWith(flow.privateKey, token, flow.appPassword); } catch { sendJson(ctx, 404, []); return true; }
      sendJson(ctx, 200, { server: flow.server, loginName: flow.loginName, appPassword });
      return true;
    }

    const s = await session(ctx);
    const flowOfSession = () => byLoginToken(s.data.get('client.flow.v2.login.token'));
    /** The checks both ways of finishing a flow share (CSRF, state token, a live flow), then the
     *  session forgets the flow; an error page has been sent when it returns null. */
    const finishingFlow = (params) => {
      if (!passesCsrf(s, params, ctx)) return csrfFailed(ctx), null;
      const err = stateError(params.stateToken);
      if (err) return forbidden(ctx, err), null;
      const flow = flowOfSession();
      if (!flow) return forbidden(ctx, 'Your login token is invalid or has expired'), null;
      s.data.delete('client.flow.v2.login.token');
      s.data.delete('client.flow.v2.state.token');
      return flow;
    };
    const stateError = (stateToken) => {
      if (stateToken === undefined || stateToken === null) return 'State token missing';
      return sameSecret(stateToken, s.data.get('client.flow.v2.state.token')) ? null : 'State token does not match';
    };

    switch (key) {
      case 'GET /login/v2/flow/{token}': { // landing()
        const token = decodeURIComponent(ctx.url.pathname.slice(ctx.url.pathname.lastIndexOf('/') + 1));
        const flow = byLoginToken(token);
        if (!flow) return forbidden(ctx, 'Your login token is invalid or has expired'), true;
        flow.started = 1;
        s.data.set('client.flow.v2.login.token', token);
        const user = ctx.url.searchParams.get('user') ?? '';
        const direct = Number.parseInt(ctx.url.searchParams.get('direct') ?? '0', 10) || 0;
        return redirect(ctx, `${base}/index.php/login/v2/flow?user=${encodeURIComponent(user)}&direct=${direct}`), true;
      }
      case 'GET /login/v2/flow': { // showAuthPickerPage()
        const flow = flowOfSession();
        if (!flow) return forbidden(ctx, 'Your login token is invalid or has expired'), true;
        const stateToken = secureRandom(64, 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789');
        s.data.set('client.flow.v2.state.token', stateToken);
        const grantUrl = `${base}/index.php/login/v2/grant?stateToken=${stateToken}`;
        return page(ctx, 200, 'Connect to your account', `<h2>Connect to your account</h2>
<p class="info">Please log in before granting <strong>${htmlEscape(flow.clientName)}</strong> access to your ${htmlEscape(instanceName)} account.</p>
<div class="notecard warning"><h3>Security warning</h3><p>If you are not trying to set up a new device or app, someone is trying to trick you into granting them access to your data. In this case do not proceed and instead contact your system administrator.</p></div>
<p id="redirect-link"><a href="${htmlEscape(grantUrl)}">Log in</a></p>
<form action="${base}/index.php/login/v2/apptoken" method="post" id="app-token-login-field">
<input type="text" name="user" placeholder="Login">
<input type="password" name="password" placeholder="App password">
<input type="hidden" name="stateToken" value="${htmlEscape(stateToken)}">
<input type="hidden" name="requesttoken" value="${htmlEscape(s.requestToken)}">
<input type="submit" value="Grant access">
</form>
<p><a id="app-token-login" href="#app-token-login-field">Alternative log in using app password</a></p>`), true;
      }
      case 'GET /login/v2/grant': { // grantPage(): login required (SecurityMiddleware)
        if (!s.user) return loginRedirect(ctx), true;
        const err = stateError(ctx.url.searchParams.get('stateToken') ?? undefined);
        if (err) return forbidden(ctx, err), true;
        const flow = flowOfSession();
        if (!flow) return forbidden(ctx, 'Your login token is invalid or has expired'), true;
        const u = getUser(s.user.uid);
        const stateToken = ctx.url.searchParams.get('stateToken');
        return page(ctx, 200, 'Account access', `<h2>Account access</h2>
<p class="info" id="logged-in-as">Currently logged in as ${htmlEscape(u.displayName)} (${htmlEscape(u.id)}).</p>
<p class="info">You are about to grant <strong>${htmlEscape(flow.clientName)}</strong> access to your ${htmlEscape(instanceName)} account.</p>
<form method="POST" action="${base}/index.php/login/v2/grant">
<input type="hidden" name="requesttoken" value="${htmlEscape(s.requestToken)}">
<input type="hidden" name="stateToken" value="${htmlEscape(stateToken)}">${ctx.url.searchParams.get('direct') === '1' ? '\n<input type="hidden" name="direct" value="1">' : ''}
<input type="submit" class="login primary" value="Grant access">
</form>`), true;
      }
      case 'POST /login/v2/grant': { // generateAppPassword() → LoginFlowV2Service::flowDone
        if (!s.user) return loginRedirect(ctx), true;
        const params = await formParams(ctx);
        const flow = finishingFlow(params);
        if (!flow) return true;
        const { password } = appPasswords.generate(s.user.uid, s.user.loginName, flow.clientName);
        onAppPasswordIssued?.(s.user.uid, password);
        return flowDone(ctx, flow, s.user, password), true;
      }
      case 'POST /login/v2/apptoken': { // apptokenRedirect(): an existing app password finishes the flow
        const params = await formParams(ctx);
        const flow = finishingFlow(params);
        if (!flow) return true;
        const entry = typeof params.password === 'string' ? appPasswords.find(String(params.user ?? ''), params.password) : null;
        if (!entry) return forbidden(ctx, 'Invalid app password'), true;
        return flowDone(ctx, flow, entry, params.password), true;
      }
      case 'GET /login': {
        if (s.user) return redirect(ctx, safeRedirect(ctx.url.searchParams.get('redirect_url'))), true;
        return loginPage(ctx, s, { user: ctx.url.searchParams.get('user') ?? '', redirectUrl: ctx.url.searchParams.get('redirect_url') ?? '', failed: s.data.get('loginFailed') === true }), true;
      }
      case 'POST /login': { // LoginController::tryLogin
        const params = await formParams(ctx);
        if (!passesCsrf(s, params, ctx)) return csrfFailed(ctx), true;
        const user = String(params.user ?? '').trim();
        const redirectUrl = typeof params.redirect_url === 'string' ? params.redirect_url : '';
        if (!user || typeof params.password !== 'string' || !checkLoginPassword(user, params.password)) {
          s.data.set('loginFailed', true);
          return redirect(ctx, `/index.php/login?user=${encodeURIComponent(user)}&direct=1${redirectUrl ? `&redirect_url=${encodeURIComponent(redirectUrl)}` : ''}`), true;
        }
        logIn(ctx, s, user);
        getUser(user);
        return redirect(ctx, safeRedirect(redirectUrl)), true;
      }
      default:
        return false;
    }
  }

  function safeRedirect(u) {
    return typeof u === 'string' && u.startsWith('/') && !u.startsWith('//') && !u.includes('@') ? `${base}${u}` : `${base}/index.php/apps/dashboard/`;
  }

  /** LoginFlowV2Service::flowDone / flowDoneWithAppPassword, then the "done" page. */
  function flowDone(ctx, flow, who, password) {
    if (!byLoginToken(flow.loginToken)) return forbidden(ctx, 'Could not complete login');
    Object.assign(flow, { loginName: who.loginName, uid: who.uid, server: base, appPassword: encryptTo(flow.publicKey, password) });
    return page(ctx, 200, 'Account connected', `<h2>Account connected</h2>
<p class="info">Your client should now be connected! You can close this window.</p>`);
  }

  /** For tests: the flows, without any token. */
  const flowList = () => [...flows.values()].filter((f) => valid(f)).map((f) => ({ clientName: f.clientName, started: f.started === 1, granted: f.appPassword !== null, uid: f.uid, loginName: f.loginName, timestamp: f.timestamp }));

  return { handle, flows: flowList, sessionCount: () => sessions.size };
}
