// Nextcloud stand-in: an HTTP server that answers the part of Nextcloud's API that the MCP
// server's Nextcloud tools use, for end-to-end tests on a machine where Nextcloud itself cannot
// run. What is real and what is imitation:
//
//   - DAV (/remote.php/dav/: WebDAV files, SEARCH, CalDAV, CardDAV, principals) is REAL: every
//     such request is authenticated here, then proxied unchanged to the real sabre/dav that
//     Nextcloud 32 runs (tests/sabredav/: sabre/dav 4.7.0, sabre/vobject 4.5.6, icewind/searchdav;
//     only Nextcloud's own file nodes and path layout are imitated there, see its README.md).
//     Without a `dav` server, DAV paths answer 503.
//   - Everything else here is an IMITATION, written from Nextcloud's and the Notes app's sources
//     and documentation (no code of theirs is copied):
//       * Notes API v1 (nextcloud/notes: lib/Controller/NotesApiController.php, Service/NoteUtil.php,
//         docs/api/v1.md): ETag/If-Match with quoted tags, 412 with the current note, "New note"
//         for an empty title, " (2)" suffixes, X-Notes-API-Versions;
//       * OCS GET /ocs/v{1,2}.php/cloud/user (apps/provisioning_api/lib/Controller/UsersController.php
//         getCurrentUser, AUserDataOCSController.php getUserData; the envelopes of
//         lib/private/AppFramework/OCS/V1Response.php and V2Response.php, unauthenticated requests as
//         AppFramework/Middleware/OCSMiddleware.php turns them into 997), the OCS CSRF rule
//         (OCS-APIRequest: true, or Bearer auth), /ocs/v{1,2}.php/cloud/capabilities, /status.php,
//         with Nextcloud 32.0.x as the version;
//       * authentication as Nextcloud with the user_oidc app and bearer validation enabled:
//         `Authorization: Bearer <token>` is checked by calling the IdP's userinfo endpoint (found
//         by discovery) with that token, the user id is userinfo's `sub`; HTTP Basic takes an app
//         password (the configured `basicUsers`, and those Login Flow v2 makes) or a user's login
//         password (`loginUsers`). A refused request gets Nextcloud's 401 and never reaches
//         sabre/dav;
//       * Login Flow v2, the login and grant pages, app passwords (loginflow.mjs, which cites its
//         sources) and DELETE /ocs/v{1,2}.php/core/apppassword (core/Controller/
//         AppPasswordController.php deleteAppPassword: deletes the app password the request
//         authenticated with; 403 "no app password in use" otherwise);
//       * `stock`: a stock Nextcloud's CORSMiddleware (lib/private/AppFramework/Middleware/
//         Security/CORSMiddleware.php; nextcloud/server issue 44365) on the app APIs that carry
//         #[CORS] in the real app — here the Notes API: unless HTTP Basic credentials log in, the
//         request is answered 401 {"message":"CORS requires basic auth"}, a Bearer token included.
//         This is the DEFAULT (`stock: true`), what the product's default `app-password`
//         strategy (issue 11) meets in the wild. `stock: false` is Nextcloud with the patched
//         user_oidc (server PR 55878 / user_oidc PR 1221), where Bearer works there too: the
//         `bearer` strategy's tests use it.
//
// For DAV, an authenticated user is provisioned in sabre/dav once (as at a first login, with an
// internal random password kept here), then the request goes to sabre/dav with
// `Authorization: Basic <user:internal password>`: same method, raw path and query, headers
// (less Authorization, Host, Cookie, Connection) and body; sabre's status, headers and body come
// back unchanged (less the hop-by-hop headers, and the Host header PHP's built-in server adds).
//
// Nothing here talks to anything but 127.0.0.1, and tokens are never logged or stored (the
// validation cache is keyed by a SHA-256 of the token).
//
// Use: `const nc = await startNextcloud({ idpIssuer, basicUsers: { alice: 'pw' }, loginUsers, stock, dav })` → `{ base,
// port, close(), pause(), resume(), state }` (`state.davFetch(user, path, init)` reaches sabre/dav
// as a user directly; `state.appPasswords(user)`, `state.loginFlows()` list without secrets;
// `pause()` stops listening and drops every open connection — a real outage at the TCP level,
// connections are refused — and `resume()` listens on the same port again, all state kept)
// (`dav`: what tests/sabredav/sabredav.mjs startSabreDav() returns; the harness's startNextcloud
// starts both), or as a program (cli.mjs), which starts sabre/dav itself unless given --no-dav:
//   node tests/nextcloud/standin.mjs --port 9500 --idp-issuer http://127.0.0.1:9400 \
//        [--basic-user alice:app-password]… [--login-user bob:password]… [--patched-user-oidc]
//        [--oidc-client-id ID --oidc-client-secret-file F] [--no-dav]
import http from 'node:http';
import path from 'node:path';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { notesApp } from './notes.mjs';
import { appPasswordStore, loginFlowApp, LOGIN_FLOW_LIFETIME_SEC } from './loginflow.mjs';
import { userOidcLogin } from './useroidc.mjs';
import { deckApp } from './deck.mjs';
import { talkApp } from './talk.mjs';
import { sharingApp } from './sharing.mjs';
import { searchApp } from './search.mjs';

/**
 * Apps beyond Notes, each `make(kit)` → `{ route?(ctx, path) → handled?, ocs?(ctx, v, route) →
 * handled?, capabilities?(user) → object }` (see `appKit` in startNextcloud for the kit).
 */
const APP_MODULES = [
  { id: 'deck', make: deckApp },
  { id: 'spreed', make: talkApp },
  { id: 'files_sharing', make: sharingApp },
  { id: 'search', make: searchApp },
];
const DEFAULT_APPS = { notes: true, deck: true, spreed: true, files_sharing: true, search: true };

const MAX_BODY = 10 * 1024 * 1024;
/** Uploads proxied to sabre/dav may be larger than API bodies. */
const MAX_DAV_BODY = 256 * 1024 * 1024;
const DAV_ROOT = '/remote.php/dav/';
const NC_VERSION = { major: 32, minor: 0, micro: 2, string: '32.0.2', edition: '', extendedSupport: false };
/** Request headers not passed on to sabre/dav, and response headers not passed back. */
const DAV_DROP_REQUEST = new Set(['authorization', 'host', 'cookie', 'connection', 'keep-alive', 'transfer-encoding', 'content-length', 'proxy-connection', 'upgrade', 'te', 'trailer']);
const DAV_DROP_RESPONSE = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host']);

// ---------------------------------------------------------------------------------------------
// Small helpers

const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const nowSec = () => Math.floor(Date.now() / 1000);

/** XML text escaping as PHP's XMLWriter does it. */
export function xmlEscape(s) {
  return String(s)
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
    .replace(/\r/g, '&#13;');
}
const esc = xmlEscape;

function isLoopbackUrl(u) {
  try {
    const { hostname, protocol } = new URL(u);
    return (protocol === 'http:' || protocol === 'https:') && ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(hostname);
  } catch {
    return false;
  }
}

class BodyTooLarge extends Error {
  constructor(limit) { super('request body too large'); this.limit = limit; }
}

// ---------------------------------------------------------------------------------------------
// The server

/**
 * Starts the stand-in. `idpIssuer` (loopback only) enables Bearer auth; `basicUsers` maps user id →
 * app password for Basic auth. `bearerCacheTtlMs` (≤ 60000) bounds how long a good token is trusted
 * without asking the IdP again. `dav` is a started sabre/dav test server (startSabreDav()), which
 * answers everything under /remote.php/dav/. `admins` lists user ids that are administrators (the
 * OCS user document then also carries `enabled` and `storageLocation`). `log` (function) receives
 * one line per request; never tokens. `loginUsers` maps user id → login password (the login page,
 * and Basic as in Nextcloud; basicUsers' passwords also work on the login page). `stock` (default
 * TRUE, a stock Nextcloud, see the header) refuses Bearer on #[CORS] app APIs; `stock: false` is
 * the patched user_oidc. `loginFlowLifetimeSec` (default 1200) and `clock` (→ ms, default
 * Date.now) are for Login Flow v2 tests. `oidcClient` ({clientId, clientSecret} at `idpIssuer`)
 * adds user_oidc's SSO login to the login page. `onAppPasswordIssued(uid, password)` (tests only)
 * is told every app password a Login Flow grant makes, so a test can look for it in logs.
 */
export async function startNextcloud({ port = 0, idpIssuer, basicUsers = {}, loginUsers = {}, stock = true, loginFlowLifetimeSec = LOGIN_FLOW_LIFETIME_SEC, clock = Date.now, oidcClient = null, bearerCacheTtlMs = 60000, dav = null, admins = [], log = null, onAppPasswordIssued = null, apps = {} } = {}) {
  if (idpIssuer !== undefined && idpIssuer !== null && idpIssuer !== '') {
    if (!isLoopbackUrl(idpIssuer)) throw new Error(`idpIssuer must be a loopback http(s) URL, got ${idpIssuer}`);
    idpIssuer = idpIssuer.replace(/\/+$/, '');
  } else {
    idpIssuer = null;
  }
  const ttl = Math.max(0, Math.min(60000, bearerCacheTtlMs));
  const basic = new Map(Object.entries(basicUsers));
  const logins = new Map(Object.entries(loginUsers));
  const appPasswords = appPasswordStore({ secret: randomBytes(24).toString('hex'), now: clock });
  for (const [user, pw] of basic) appPasswords.add(user, user, pw, 'basicUsers');
  const samePw = (a, b) => typeof b === 'string' && timingSafeEqual(Buffer.from(sha256(a)), Buffer.from(sha256(b)));
  const checkLoginPassword = (user, pw) => samePw(pw, logins.get(user)) || samePw(pw, basic.get(user));
  if (dav && !(Number.isInteger(dav.port) && typeof dav.addUser === 'function' && isLoopbackUrl(dav.base))) throw new Error('dav must be what startSabreDav() returns (on loopback)');
  const adminIds = new Set(admins);
  const users = new Map();
  /** user id → Promise of the internal password the user has in sabre/dav (provisioned once). */
  const davUsers = new Map();
  const tokenCache = new Map(); // sha256(token) → { info, expires }
  let discovery = null;

  // ---- per-user data ------------------------------------------------------------------------

  function getUser(id, info = {}) {
    let u = users.get(id);
    if (!u) {
      const t = nowSec();
      u = {
        id,
        displayName: id,
        email: null,
        notes: new Map(),
        notesSettings: { fileSuffix: '.md', notesPath: 'Notes', noteMode: 'edit' },
        firstLogin: t,
        lastLogin: t,
      };
      users.set(id, u);
    }
    if (info.email) u.email = info.email;
    if (info.name) u.displayName = info.name;
    return u;
  }

  // ---- state for tests ----------------------------------------------------------------------

  const state = {
    /** How many times the IdP's userinfo endpoint was asked about a token. */
    bearerChecks: 0,
    /** How many requests carried a Bearer token that was refused. */
    rejectedBearer: 0,
    /** One entry per request: { method, path, user, auth, status } (no query strings, no tokens). */
    requests: [],
    users: () => [...users.keys()],
    notes: (user) => [...(users.get(user)?.notes.values() ?? [])].sort((a, b) => a.id - b.id).map((n) => publicNote(users.get(user), n)),
    /** How many requests were passed on to sabre/dav. */
    davProxied: 0,
    /**
     * fetch() straight to sabre/dav as `user` (provisioned there first if needed), for tests to
     * seed or inspect data without going through the stand-in (nothing is logged in `requests`).
     * `davPath` is below /remote.php/dav/ and URL-encoded, e.g. 'files/alice/a%20b.txt'.
     */
    davFetch: async (user, davPath, init = {}) => {
      if (!dav) throw new Error('no DAV server is configured');
      const u = getUser(user);
      const password = await davPassword(u);
      return fetch(`${dav.base}${DAV_ROOT}${davPath.replace(/^\/+/, '')}`, { ...init, headers: { ...init.headers, authorization: davAuthorization(u, password) } });
    },
    seed: {
      note: (user, fields = {}) => publicNote(getUser(user), createNote(getUser(user), fields)),
    },
    /** A user's app passwords, without the passwords: [{id, uid, loginName, name, created, lastActivity}]. */
    appPasswords: (user) => appPasswords.list(user),
    /**
     * Revokes app password `id`, as the user does under Settings → Security → Devices & sessions
     * (settings AuthSettingsController::destroy → IProvider::invalidateTokenById); `true` if it existed.
     */
    revokeAppPassword: (id) => appPasswords.remove(id),
    /** Makes an app password for `user` (as Settings → Security would); returns it. */
    createAppPassword: (user, name = 'test') => { getUser(user); return appPasswords.generate(user, user, name).password; },
    /** Login Flow v2 flows alive now (no tokens): [{clientName, started, granted, uid, loginName, timestamp}]. */
    loginFlows: () => flowApp.flows(),
    /** Forgets cached Bearer validations (the next request with a token asks the IdP again). */
    forgetTokens: () => tokenCache.clear(),
    reset: () => { users.clear(); tokenCache.clear(); state.requests.length = 0; state.bearerChecks = 0; state.rejectedBearer = 0; for (const t of Object.values(state.apps ?? {})) t.reset?.(); },
  };

  // ---- authentication -----------------------------------------------------------------------

  async function discoverUserinfo() {
    if (!discovery) {
      discovery = (async () => {
        const r = await fetch(`${idpIssuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000), redirect: 'error' });
        if (r.status !== 200) throw new Error(`discovery answered ${r.status}`);
        const doc = await r.json();
        if (typeof doc.userinfo_endpoint !== 'string' || !isLoopbackUrl(doc.userinfo_endpoint)) throw new Error('discovery has no loopback userinfo_endpoint');
        return doc.userinfo_endpoint;
      })();
      discovery.catch(() => { discovery = null; });
    }
    return discovery;
  }

  async function validateBearer(token) {
    if (!idpIssuer || !token) return null;
    const key = sha256(token);
    const hit = tokenCache.get(key);
    if (hit && hit.expires > Date.now()) return hit.info;
    tokenCache.delete(key);
    let endpoint;
    try {
      endpoint = await discoverUserinfo();
    } catch (e) {
      log?.(`bearer validation impossible: ${e.message}`);
      return null;
    }
    state.bearerChecks += 1;
    let info;
    try {
      const r = await fetch(endpoint, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: AbortSignal.timeout(5000), redirect: 'error' });
      if (r.status !== 200) { await r.arrayBuffer().catch(() => {}); return null; }
      info = await r.json();
    } catch {
      return null;
    }
    if (!info || typeof info.sub !== 'string' || !info.sub || info.sub.includes('/')) return null;
    const result = { id: info.sub, email: typeof info.email === 'string' ? info.email : null, name: typeof info.name === 'string' ? info.name : null };
    if (ttl > 0) {
      if (tokenCache.size > 1000) for (const [kk, v] of tokenCache) if (v.expires <= Date.now()) tokenCache.delete(kk);
      tokenCache.set(key, { info: result, expires: Date.now() + ttl });
    }
    return result;
  }

  /** → the user record, or null (no/failed credentials). Sets ctx.authKind. */
  async function authenticate(ctx) {
    const h = ctx.req.headers.authorization;
    if (!h) return null;
    const m = /^(\S+)\s+(\S.*)$/.exec(h.trim());
    if (!m) return null;
    const scheme = m[1].toLowerCase();
    if (scheme === 'bearer') {
      ctx.authKind = 'bearer';
      const info = await validateBearer(m[2].trim());
      if (!info) { state.rejectedBearer += 1; return null; }
      return getUser(info.id, info);
    }
    if (scheme === 'basic') {
      ctx.authKind = 'basic';
      const decoded = Buffer.from(m[2].trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return null;
      const user = decoded.slice(0, colon);
      const pw = decoded.slice(colon + 1);
      // Session::logClientIn: an app password (for this login name), else the login password.
      const token = appPasswords.find(user, pw);
      if (token) { ctx.appPasswordId = token.id; return getUser(token.uid); }
      return samePw(pw, logins.get(user)) ? getUser(user) : null;
    }
    return null;
  }

  // ---- responses ----------------------------------------------------------------------------

  function send(ctx, status, body = '', headers = {}) {
    ctx.status = status;
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    const h = { 'X-Content-Type-Options': 'nosniff', ...headers };
    if (status !== 304 && status !== 204) h['Content-Length'] = String(buf.length);
    ctx.res.writeHead(status, h);
    ctx.res.end(status === 304 || status === 204 || ctx.method === 'HEAD' ? undefined : buf);
  }
  const sendJson = (ctx, status, obj, headers = {}) => send(ctx, status, JSON.stringify(obj), { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  const challenge = (dav) => (dav ? ['Bearer realm="Nextcloud"', 'Basic realm="Nextcloud", charset="UTF-8"'] : 'Bearer realm="Nextcloud"');

  // ---- request entry ------------------------------------------------------------------------

  async function readBody(ctx, limit = MAX_BODY) {
    const { req } = ctx;
    const declared = Number(req.headers['content-length']);
    if (declared > limit * 10) { ctx.res.setHeader('Connection', 'close'); throw new BodyTooLarge(limit); }
    return new Promise((resolve, reject) => {
      const chunks = [];
      let size = 0;
      let tooLarge = declared > limit;
      req.on('data', (c) => {
        size += c.length;
        if (size > limit) tooLarge = true;
        if (!tooLarge) chunks.push(c);
        if (size > limit * 10) req.destroy();
      });
      req.on('end', () => (tooLarge ? reject(new BodyTooLarge(limit)) : resolve(Buffer.concat(chunks))));
      req.on('error', reject);
    });
  }

  async function onRequest(req, res) {
    const ctx = { req, res, method: req.method.toUpperCase(), url: new URL(req.url, 'http://127.0.0.1'), user: null, authKind: null, status: 0 };
    try {
      await route(ctx);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        if (!res.headersSent) send(ctx, 413, `Request body too large (limit ${e.limit / 1024 / 1024} MB)\n`, { 'Content-Type': 'text/plain; charset=utf-8' });
      } else {
        log?.(`internal error: ${e.stack ?? e}`);
        if (!res.headersSent) send(ctx, 500, 'Internal Server Error\n', { 'Content-Type': 'text/plain; charset=utf-8' });
        else res.destroy();
      }
    }
    const entry = { method: ctx.method, path: ctx.logPath ?? ctx.url.pathname, user: ctx.user?.id ?? null, auth: ctx.authKind, status: ctx.status || res.statusCode };
    state.requests.push(entry);
    if (state.requests.length > 10000) state.requests.splice(0, state.requests.length - 10000);
    log?.(`${entry.method} ${entry.path} -> ${entry.status} (${entry.user ?? '-'}${entry.auth ? `/${entry.auth}` : ''})`);
  }

  async function route(ctx) {
    const p = ctx.url.pathname;
    if (p === '/status.php') {
      if (!['GET', 'HEAD'].includes(ctx.method)) return send(ctx, 405, '', { Allow: 'GET, HEAD' });
      return sendJson(ctx, 200, { installed: true, maintenance: false, needsDbUpgrade: false, version: `${NC_VERSION.string}.0`, versionstring: NC_VERSION.string, edition: '', productname: 'Nextcloud', extendedSupport: false });
    }
    if (p === '/.well-known/caldav' || p === '/.well-known/carddav') return send(ctx, 301, '', { Location: DAV_ROOT });
    let m;
    if ((m = /^\/ocs\/v([12])\.php(\/.*)?$/.exec(p))) return handleOcs(ctx, Number(m[1]), m[2] ?? '/');
    if (enabled.notes !== false && (m = /^(?:\/index\.php)?\/apps\/notes(\/.*)?$/.exec(p))) return handleNotes(ctx, m[1] ?? '/');
    if (p === '/remote.php/dav' || p.startsWith(DAV_ROOT)) return handleDav(ctx);
    for (const app of extraApps) if (app.route && await app.route(ctx, p)) return undefined;
    if (await flowApp.handle(ctx)) return undefined;
    return send(ctx, 404, 'Not Found\n', { 'Content-Type': 'text/plain; charset=utf-8' });
  }

  // ---- OCS ----------------------------------------------------------------------------------

  /** The OCS envelope: V1Response (always totalitems/itemsperpage) or V2Response (only when set). */
  function ocsSend(ctx, v, httpStatus, ocsStatus, message, data) {
    const ok = ocsStatus === (v === 1 ? 100 : 200);
    const meta = { status: ok ? 'ok' : 'failure', statuscode: ocsStatus, message: ok ? 'OK' : message };
    if (v === 1) Object.assign(meta, { totalitems: '', itemsperpage: '' });
    const fmt = ctx.url.searchParams.get('format') ?? ((ctx.req.headers.accept ?? '').includes('application/json') ? 'json' : 'xml');
    if (fmt === 'json') return sendJson(ctx, httpStatus, { ocs: { meta, data } });
    const toXml = (val, ind) => {
      if (val === null || val === undefined) return '';
      if (Array.isArray(val)) return val.map((x) => `\n${ind}<element>${toXml(x, `${ind} `)}</element>`).join('') + (val.length ? `\n${ind.slice(1)}` : '');
      if (typeof val === 'object') {
        const ents = Object.entries(val);
        return ents.map(([kk, x]) => `\n${ind}<${kk}>${toXml(x, `${ind} `)}</${kk}>`).join('') + (ents.length ? `\n${ind.slice(1)}` : '');
      }
      return esc(typeof val === 'boolean' ? (val ? '1' : '') : val);
    };
    const xml = `<?xml version="1.0"?>\n<ocs>\n <meta>${toXml(meta, '  ')}</meta>\n <data>${toXml(data, '  ')}</data>\n</ocs>\n`;
    return send(ctx, httpStatus, xml, { 'Content-Type': 'application/xml; charset=utf-8' });
  }

  async function handleOcs(ctx, v, sub) {
    const ok = v === 1 ? 100 : 200;
    const route = sub.replace(/\/+$/, '');
    if (route === '/cloud/capabilities') {
      if (ctx.method !== 'GET') return send(ctx, 405, '');
      ctx.user = await authenticate(ctx);
      return ocsSend(ctx, v, 200, ok, 'OK', {
        version: NC_VERSION,
        capabilities: {
          core: { pollinterval: 60, 'webdav-root': 'remote.php/webdav' },
          dav: { chunking: '1.0', bulkupload: '1.0' },
          // files_trashbin and files_versions lib/Capabilities.php (`apps`: files_trashbin,
          // files_versions false to switch them off; tests/sabredav's setApps does it there).
          files: {
            ...(enabled.files_trashbin !== false ? { undelete: true, delete_from_trash: true } : {}),
            ...(enabled.files_versions !== false ? { versioning: true, version_labeling: true, version_deletion: true } : {}),
          },
          ...(enabled.notes !== false ? { notes: { api_version: ['0.2', '1.3', '1.4'], version: '4.12.0' } } : {}),
          ...Object.assign({}, ...extraApps.map((a) => a.capabilities?.(ctx.user) ?? {})),
        },
      });
    }
    if (route === '/core/apppassword') return deleteAppPassword(ctx, v);
    for (const app of extraApps) if (app.ocs && await app.ocs(ctx, v, route)) return undefined;
    if (route !== '/cloud/user') {
      return ocsSend(ctx, v, 404, v === 1 ? 998 : 404, 'Invalid query, please check the syntax. API specifications are here: http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.', []);
    }
    if (ctx.method !== 'GET') return send(ctx, 405, '', { Allow: 'GET' });
    ctx.user = await authenticate(ctx);
    if (!ctx.user) {
      ctx.res.setHeader('WWW-Authenticate', challenge(false));
      return ocsSend(ctx, v, 401, 997, 'Current user is not logged in', []);
    }
    // SecurityMiddleware: OCS controllers pass the CSRF check only with OCS-APIRequest: true or
    // a Bearer Authorization header.
    const ocsHeader = ctx.req.headers['ocs-apirequest'];
    if (ocsHeader !== 'true' && ctx.authKind !== 'bearer') return sendJson(ctx, 412, { message: 'CSRF check failed' });
    return ocsSend(ctx, v, 200, ok, 'OK', await userDocument(ctx.user, ctx.authKind));
  }

  /** AppPasswordController::deleteAppPassword: only the app password this request logged in with. */
  async function deleteAppPassword(ctx, v) {
    if (ctx.method !== 'DELETE') return send(ctx, 405, '', { Allow: 'DELETE' });
    ctx.user = await authenticate(ctx);
    if (!ctx.user) {
      ctx.res.setHeader('WWW-Authenticate', challenge(false));
      return ocsSend(ctx, v, 401, 997, 'Current user is not logged in', []);
    }
    if (ctx.req.headers['ocs-apirequest'] !== 'true' && ctx.authKind !== 'bearer') return sendJson(ctx, 412, { message: 'CSRF check failed' });
    // OCSForbiddenException → OCSMiddleware: V2 answers HTTP 403, V1 HTTP 200, both statuscode 403.
    if (!ctx.appPasswordId || !appPasswords.remove(ctx.appPasswordId)) return ocsSend(ctx, v, v === 1 ? 200 : 403, 403, 'no app password in use', []);
    log?.(`app password ${ctx.appPasswordId} of ${ctx.user.id} deleted`);
    return ocsSend(ctx, v, 200, v === 1 ? 100 : 200, 'OK', []);
  }

  /**
   * AUserDataOCSController::getUserData($uid, includeScopes: true) for the signed-in user, in its
   * key order: since Nextcloud 27 (server PR 36665) both `displayname` and `display-name`
   * (IAccountManager::PROPERTY_DISPLAYNAME_LEGACY); `enabled` and `storageLocation` only for
   * administrators; account properties with the default scopes of AccountManager; no quota set
   * (FileInfo::SPACE_UNLIMITED, -3), `used` being the size of the user's files in sabre/dav.
   */
  async function userDocument(u, authKind) {
    const database = (basic.has(u.id) || logins.has(u.id)) && authKind === 'basic';
    const used = await davUsedBytes(u);
    const doc = {};
    if (adminIds.has(u.id)) Object.assign(doc, { enabled: true, storageLocation: `/var/www/html/data/${u.id}` });
    const federated = 'v2-federated';
    const local = 'v2-local';
    Object.assign(doc, {
      id: u.id,
      firstLoginTimestamp: u.firstLogin,
      lastLoginTimestamp: u.lastLogin,
      lastLogin: u.lastLogin * 1000,
      backend: database ? 'Database' : 'user_oidc',
      subadmin: [],
      quota: { free: -3, used, total: -3, relative: 0, quota: -3 },
      manager: '',
      avatarScope: federated,
      email: u.email,
      emailScope: federated,
      additional_mail: [],
      additional_mailScope: [],
      displayname: u.displayName,
      'display-name': u.displayName,
      displaynameScope: federated,
    });
    for (const [key, value, scope] of [
      ['phone', '', local], ['address', '', local], ['website', '', local], ['twitter', '', local],
      ['bluesky', '', local], ['fediverse', '', local], ['organisation', '', local], ['role', '', local],
      ['headline', '', local], ['biography', '', local], ['profile_enabled', '1', local], ['pronouns', '', federated],
    ]) {
      doc[key] = value;
      doc[`${key}Scope`] = scope;
    }
    return Object.assign(doc, {
      groups: [],
      language: 'en',
      locale: '',
      timezone: '',
      notify_email: u.email,
      backendCapabilities: { setDisplayName: database, setPassword: database },
    });
  }

  // ---- Notes API (notes.mjs) -----------------------------------------------------------------

  // CORSMiddleware::beforeController for #[CORS] methods (the Notes API's): without a CSRF token,
  // the session is logged out and only HTTP Basic credentials may log the request in. It runs
  // before SecurityMiddleware (lib/private/AppFramework/DependencyInjection/DIContainer.php), so
  // a request without credentials gets this answer too.
  async function corsGate(ctx) {
    if (!stock) return true;
    const basicAuth = /^basic\s/i.test(ctx.req.headers.authorization ?? '');
    if (basicAuth && (ctx.user = await authenticate(ctx))) return true;
    ctx.user = null;
    // Recorded as what it was (state.requests' `auth`), though never validated here.
    if (/^bearer\s/i.test(ctx.req.headers.authorization ?? '')) ctx.authKind = 'bearer';
    sendJson(ctx, 401, { message: 'CORS requires basic auth' });
    return false;
  }
  const { handle: handleNotes, publicNote, createNote } = notesApp({ send, sendJson, readBody, authenticate, challenge, corsGate });

  // ---- Further apps (deck.mjs, talk.mjs, sharing.mjs, search.mjs) ----------------------------

  // Each module imitates one Nextcloud app (its header cites the sources) and gets the same
  // plumbing. `apps` switches apps off (`{ deck: false }`, also `{ notes: false }` for the Notes
  // app above): a disabled app's routes are unknown to Nextcloud (404 like any unknown route;
  // OCS 998/404) and its capabilities are absent.
  const enabled = { ...DEFAULT_APPS, ...apps };
  /** IUserManager::userExists for this stand-in: seen, configured (basicUsers, loginUsers), or holding an app password. */
  const userExists = (id) => typeof id === 'string' && id !== '' && (users.has(id) || basic.has(id) || logins.has(id) || appPasswords.list(id).length > 0);
  const appKit = { send, sendJson, readBody, authenticate, challenge, corsGate, ocsSend, getUser, userExists, state, clock, base: () => base, enabled: (id) => enabled[id] !== false, log: (line) => log?.(line) };
  const extraApps = APP_MODULES.map(({ id, make }) => ({ id, ...make(appKit) })).filter((a) => enabled[a.id] !== false);
  // Each app's test helpers (`testing`), e.g. state.apps.spreed.post(token, user, text).
  state.apps = Object.fromEntries(extraApps.filter((a) => a.testing).map((a) => [a.id, a.testing]));

  // ---- Login Flow v2, login page, sessions (loginflow.mjs) -----------------------------------

  let flowApp = null; // made once the base URL is known (below)


  // ---- DAV (proxied to sabre/dav) ----------------------------------------------------------

  /** sabre/dav's NotAuthenticated body with the messages of Nextcloud's auth backends. */
  const notAuthenticatedBody = '<?xml version="1.0" encoding="utf-8"?>\n<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n'
    + `  <s:exception>Sabre\\DAV\\Exception\\NotAuthenticated</s:exception>\n  <s:message>${esc("No public access to this resource., No 'Authorization: Basic' header found. Either the client didn't send one, or the server is misconfigured, No 'Authorization: Bearer' header found. Either the client didn't send one, or the server is mis-configured")}</s:message>\n`
    + '</d:error>\n';

  /** The user's internal sabre/dav password; the user is provisioned there on first use. */
  function davPassword(u) {
    let pending = davUsers.get(u.id);
    if (!pending) {
      const password = randomBytes(24).toString('base64url');
      pending = dav.addUser(u.id, password, { displayname: u.displayName, email: u.email ?? undefined }).then(() => password);
      davUsers.set(u.id, pending);
      pending.catch(() => davUsers.delete(u.id));
    }
    return pending;
  }

  const davAuthorization = (u, password) => `Basic ${Buffer.from(`${u.id}:${password}`).toString('base64')}`;

  /** Bytes used by the user's files (oc:size of the home folder), 0 before any DAV use. */
  async function davUsedBytes(u) {
    if (!dav || !davUsers.has(u.id)) return 0;
    try {
      const password = await davUsers.get(u.id);
      const r = await fetch(`${dav.base}${DAV_ROOT}files/${encodeURIComponent(u.id)}/`, {
        method: 'PROPFIND',
        headers: { authorization: davAuthorization(u, password), depth: '0', 'content-type': 'application/xml' },
        body: '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:size/></d:prop></d:propfind>',
      });
      const m = /<oc:size>(\d+)<\/oc:size>/.exec(await r.text());
      return m ? Number(m[1]) : 0;
    } catch {
      return 0;
    }
  }

  async function handleDav(ctx) {
    if (!dav) {
      return send(ctx, 503, 'No DAV server is configured for this Nextcloud stand-in: start it with a sabre/dav server (tests/sabredav/sabredav.mjs; the harness\'s startNextcloud does).\n', { 'Content-Type': 'text/plain; charset=utf-8' });
    }
    ctx.user = await authenticate(ctx);
    if (!ctx.user) {
      return send(ctx, 401, notAuthenticatedBody, { 'Content-Type': 'application/xml; charset=utf-8', 'WWW-Authenticate': challenge(true) });
    }
    const password = await davPassword(ctx.user);
    const body = await readBody(ctx, MAX_DAV_BODY);
    const headers = [];
    const raw = ctx.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      if (!DAV_DROP_REQUEST.has(raw[i].toLowerCase())) headers.push(raw[i], raw[i + 1]);
    }
    headers.push('Host', `127.0.0.1:${dav.port}`, 'Authorization', davAuthorization(ctx.user, password));
    if (body.length || ctx.req.headers['content-length'] !== undefined) headers.push('Content-Length', String(body.length));
    state.davProxied += 1;
    try {
      await new Promise((resolve, reject) => {
        const upstream = http.request({ host: '127.0.0.1', port: dav.port, method: ctx.req.method, path: ctx.req.url, headers, setHost: false }, (up) => {
          const back = [];
          for (let i = 0; i < up.rawHeaders.length; i += 2) {
            if (!DAV_DROP_RESPONSE.has(up.rawHeaders[i].toLowerCase())) back.push(up.rawHeaders[i], up.rawHeaders[i + 1]);
          }
          ctx.status = up.statusCode;
          ctx.res.writeHead(up.statusCode, up.statusMessage, back);
          up.on('error', reject);
          up.on('end', resolve);
          up.pipe(ctx.res);
        });
        upstream.on('error', reject);
        upstream.end(body);
      });
    } catch (e) {
      log?.(`sabre/dav: ${e.message}`);
      if (!ctx.res.headersSent) send(ctx, 502, 'Bad Gateway: sabre/dav did not answer\n', { 'Content-Type': 'text/plain; charset=utf-8' });
      else ctx.res.destroy();
    }
  }

  // ---- listen -------------------------------------------------------------------------------

  const server = http.createServer((req, res) => { onRequest(req, res).catch((e) => { log?.(`unhandled: ${e?.message ?? e}`); try { res.destroy(); } catch { /* gone */ } }); });
  const listen = (p) => new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const stopListening = () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections?.(); });
  await listen(port);
  const actualPort = server.address().port;
  let paused = false;
  const base = `http://127.0.0.1:${actualPort}`;
  flowApp = loginFlowApp({
    base, send, sendJson, readBody, appPasswords, checkLoginPassword, getUser, now: clock, lifetimeSec: loginFlowLifetimeSec,
    bearerUser: (token) => validateBearer(token), sso: Boolean(idpIssuer),
    oidc: idpIssuer && oidcClient ? userOidcLogin({ base, idpIssuer, ...oidcClient }) : null,
    onAppPasswordIssued,
  });
  return {
    base,
    port: actualPort,
    state,
    /** Nextcloud goes down: the port stops accepting connections and open ones are dropped. */
    pause: async () => { if (!paused) { paused = true; await stopListening(); } },
    /** Nextcloud comes back on the same port with everything it knew. */
    resume: async () => { if (paused) { await listen(actualPort); paused = false; } },
    get paused() { return paused; },
    close: () => (paused ? Promise.resolve() : stopListening()),
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { main } = await import('./cli.mjs');
  await main(startNextcloud);
}
