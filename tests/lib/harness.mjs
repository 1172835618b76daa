// Test harness: real processes on free loopback ports (redis-server, the oidc-provider dev IdP,
// auth-proxy), readiness by polling (never fixed sleeps), and a browserless "user" that walks
// the HTML forms with its own cookie jar, following redirects by hand.
//
// Everything binds to and talks to 127.0.0.1 only.
import { connect } from 'node:net';
import { createHash, randomBytes, generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { freePort, waitFor, launch, stopAll } from './procs.mjs';
import { startSabreDav } from '../sabredav/sabredav.mjs';

export { freePort, waitFor, stopAll, startSabreDav };

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const proxyBin = process.env.AUTH_PROXY_BIN ?? path.join(repoRoot, 'target', 'debug', 'auth-proxy');

/** Every auth-proxy started in this process (kept after they stop, for their logs). */
export const startedProxies = [];

// ---------------------------------------------------------------------------------------------
// Processes (freePort, waitFor, launch, stopAll: ./procs.mjs)

function redisPing(port) {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.setTimeout(1000, () => { sock.destroy(); resolve(false); });
    sock.on('error', () => resolve(false));
    sock.on('data', (d) => { sock.destroy(); resolve(d.toString().startsWith('+PONG')); });
    sock.write('PING\r\n');
  });
}

/** A fresh redis-server on a free loopback port, no persistence. */
export async function startRedis() {
  const port = await freePort();
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const proc = launch('redis-server', bin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  try {
    await waitFor('redis-server', () => redisPing(port), { proc });
  } catch (e) {
    if (proc.spawnError) {
      throw new Error(`cannot start redis-server: ${proc.spawnError.message}. Install it (\`apt-get install -y redis-server\`; \`make deps\` does).`);
    }
    throw e;
  }
  return { port, url: `redis://127.0.0.1:${port}`, proc, stop: () => proc.stop() };
}

/** The oidc-provider development IdP (tests/idp/dev-idp.mjs) with one confidential client. */
export async function startIdp({ redirectUris, clientId = 'auth-proxy', clientSecret = randomBytes(24).toString('base64url'), port } = {}) {
  port ??= await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const args = [path.join(repoRoot, 'tests', 'idp', 'dev-idp.mjs'), `--port=${port}`, `--client-id=${clientId}`, `--client-secret=${clientSecret}`];
  for (const r of redirectUris) args.push(`--redirect-uri=${r}`);
  const proc = launch('dev IdP', process.execPath, args);
  await waitFor('dev IdP', () => proc.output().includes(`dev-idp listening on ${issuer}`), { proc });
  return { issuer, port, clientId, clientSecret, proc, stop: () => proc.stop(), output: () => proc.output() };
}

export function newSigningKeyPem() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' });
}

export function newEncryptionKey() {
  return randomBytes(32).toString('base64');
}

/**
 * Starts auth-proxy and waits for `GET /readyz` → 200. `port` and `issuer` may be given (two
 * replicas behind one issuer); `keys` ({signing, encryption}) must be shared by replicas; any
 * other variable comes from `env` (which wins over the defaults here).
 */
export async function startProxy({ idp, redis, env = {}, port, issuer, resource = 'http://127.0.0.1:18000/mcp', keys = {}, readyTimeoutMs = 20000 } = {}) {
  if (!existsSync(proxyBin)) throw new Error(`${proxyBin} missing: run \`cargo build -p auth-proxy\` (make test does), or set AUTH_PROXY_BIN`);
  env = { ...nextcloudDefaults(port, env), ...env };
  port ??= await freePort();
  const metricsPort = await freePort();
  issuer ??= `http://127.0.0.1:${port}`;
  const fullEnv = {
    AUTH_PROXY_ISSUER: issuer,
    AUTH_PROXY_BIND: `127.0.0.1:${port}`,
    AUTH_PROXY_METRICS_BIND: `127.0.0.1:${metricsPort}`,
    AUTH_PROXY_RESOURCES: resource,
    AUTH_PROXY_UPSTREAM_ISSUER: idp.issuer,
    AUTH_PROXY_UPSTREAM_CLIENT_ID: idp.clientId,
    AUTH_PROXY_UPSTREAM_CLIENT_SECRET: idp.clientSecret,
    AUTH_PROXY_SIGNING_KEYS: keys.signing ?? newSigningKeyPem(),
    AUTH_PROXY_ENCRYPTION_KEYS: keys.encryption ?? newEncryptionKey(),
    AUTH_PROXY_SHUTDOWN_TIMEOUT_SECS: '1',
    // Debug level on purpose: the log-hygiene test wants as much log output as there is.
    RUST_LOG: 'debug,h2=info,hyper=info,hyper_util=info,reqwest=info,rustls=info,actix_server=info',
    ...(redis ? {
      AUTH_PROXY_REDIS_URL: redis.url,
      AUTH_PROXY_REDIS_PREFIX: `e2e-${randomBytes(4).toString('hex')}`,
    } : {}),
    ...env,
  };
  const proc = launch('auth-proxy', proxyBin, [], fullEnv);
  const base = `http://127.0.0.1:${port}`;
  const proxy = {
    base, issuer, port, metrics: `http://127.0.0.1:${metricsPort}`, resource: resource.split(',')[0], proc, env: fullEnv,
    stop: () => proc.stop(), output: () => proc.output(),
  };
  startedProxies.push(proxy);
  await waitFor('auth-proxy', async () => (await fetch(`${base}/readyz`)).status === 200, { proc, timeoutMs: readyTimeoutMs });
  return proxy;
}

/**
 * The Nextcloud side of a proxy's configuration when `env` does not say it. With token exchange
 * on (AUTH_PROXY_EXCHANGE_CLIENT_SECRET) the default `app-password` strategy needs
 * AUTH_PROXY_NEXTCLOUD_URL: a proxy restarted on the port of an earlier one (same issuer, same
 * store) gets that one's AUTH_PROXY_NEXTCLOUD_* settings; any other proxy with exchange must say
 * which strategy it tests (startStack always does), rather than get one silently.
 */
function nextcloudDefaults(port, env) {
  if (!env.AUTH_PROXY_EXCHANGE_CLIENT_SECRET || env.AUTH_PROXY_NEXTCLOUD_URL || env.AUTH_PROXY_NEXTCLOUD_CREDENTIALS) return {};
  const earlier = port && [...startedProxies].reverse().find((p) => p.port === port && (p.env.AUTH_PROXY_NEXTCLOUD_CREDENTIALS !== undefined || p.env.AUTH_PROXY_NEXTCLOUD_URL !== undefined));
  if (earlier) return Object.fromEntries(Object.entries(earlier.env).filter(([k]) => k.startsWith('AUTH_PROXY_NEXTCLOUD_')));
  throw new Error('startProxy with token exchange: set AUTH_PROXY_NEXTCLOUD_URL (app-password) or AUTH_PROXY_NEXTCLOUD_CREDENTIALS=bearer');
}

// ---------------------------------------------------------------------------------------------
// OAuth client helpers

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/** RFC 7591 registration; throws unless 201. Defaults: a public client named "E2E Client". */
export async function register(proxy, metadata) {
  const res = await fetch(`${proxy.base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'E2E Client', grant_types: ['authorization_code', 'refresh_token'], ...metadata }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  return res.json();
}

/** The token request that redeems `run`'s authorization code for `client` (overrides win). */
export function redeemCode(proxy, client, run, overrides = {}) {
  return token(proxy, {
    grant_type: 'authorization_code',
    code: run.query.code,
    redirect_uri: client.redirect_uris[0],
    client_id: client.client_id,
    code_verifier: run.pkce.verifier,
    resource: proxy.resource,
    ...overrides,
  });
}

function basicAuth([id, secret]) {
  return `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;
}

/** POST /token (form-encoded); `basic: [id, secret]` adds client_secret_basic. */
export async function token(proxy, form, { basic, base = proxy.base } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = basicAuth(basic);
  const body = new URLSearchParams(Object.entries(form).filter(([, v]) => v !== undefined && v !== null));
  const res = await fetch(`${base}/token`, { method: 'POST', headers, body });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = { unparsable: text }; }
  return { status: res.status, headers: res.headers, body: json };
}

/** POST /revoke (RFC 7009). */
export async function revoke(proxy, form, { basic } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = basicAuth(basic);
  const res = await fetch(`${proxy.base}/revoke`, { method: 'POST', headers, body: new URLSearchParams(form) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

// ---------------------------------------------------------------------------------------------
// A browser without a browser

/**
 * Cookies as a browser keeps them: per host name (RFC 6265 cookies do not isolate ports, so
 * the IdP and the proxy on two loopback ports share a jar, exactly as in Chromium), with path
 * matching and deletion by Max-Age/Expires.
 */
export class CookieJar {
  constructor() { this.hosts = new Map(); }

  /** Stores the Set-Cookie headers of `res`, a response to `url`. */
  store(url, res) {
    const u = new URL(url);
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attrs] = line.split(';');
      const i = pair.indexOf('=');
      if (i < 0) continue;
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      let cookiePath = u.pathname.replace(/\/[^/]*$/, '') || '/';
      let expired = false;
      const flags = {};
      for (const a of attrs) {
        const [k, ...rest] = a.split('=');
        const key = k.trim().toLowerCase();
        const val = rest.join('=').trim();
        flags[key] = val || true;
        if (key === 'path' && val.startsWith('/')) cookiePath = val;
        if (key === 'max-age' && Number(val) <= 0) expired = true;
        if (key === 'expires' && Date.parse(val) <= Date.now()) expired = true;
      }
      const jar = this.hosts.get(u.hostname) ?? new Map();
      const key = `${name};${cookiePath}`;
      if (expired) jar.delete(key);
      else jar.set(key, { name, value, path: cookiePath, flags, raw: line });
      this.hosts.set(u.hostname, jar);
    }
  }

  /** The Cookie header a browser would send to `url`, or undefined. */
  header(url) {
    const u = new URL(url);
    const jar = this.hosts.get(u.hostname);
    if (!jar) return undefined;
    const matching = [...jar.values()].filter((c) => u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`));
    return matching.length ? matching.map((c) => `${c.name}=${c.value}`).join('; ') : undefined;
  }

  /** All cookies (objects with name, value, path, flags, raw), every host. */
  all() { return [...this.hosts.values()].flatMap((jar) => [...jar.values()]); }

  get(hostname, name) { return [...(this.hosts.get(hostname)?.values() ?? [])].find((c) => c.name === name); }
}

/** One request as a browser sends it: cookies from/to `jar`, redirects not followed. */
export async function browserlessFetch(jar, url, init = {}) {
  const headers = { ...(init.headers ?? {}) };
  const cookie = jar.header(url);
  if (cookie) headers.cookie = cookie;
  const res = await fetch(url, { ...init, headers, redirect: 'manual' });
  jar.store(url, res);
  return res;
}

const ENTITIES = { amp: '&', quot: '"', apos: "'", lt: '<', gt: '>' };
export function decodeHtml(s) {
  return s.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') return String.fromCodePoint(e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function attr(tag, name) {
  const m = tag.match(new RegExp(`\\s${name}\\s*=\\s*(?:"([^"]*)"|'([^']*)'|([^\\s>]+))`, 'i'));
  return m ? decodeHtml(m[1] ?? m[2] ?? m[3]) : undefined;
}

/** The forms of a page: action (absolute), method, hidden inputs, ticked checkboxes, inputs, submit buttons. */
export function parseForms(html, pageUrl) {
  return [...html.matchAll(/<form\b([^>]*)>([\s\S]*?)<\/form>/gi)].map(([, open, inner]) => {
    const tag = `<form ${open}>`;
    const hidden = {};
    const checked = {};
    const inputs = [];
    for (const [input] of inner.matchAll(/<input\b[^>]*>/gi)) {
      const name = attr(input, 'name');
      const type = (attr(input, 'type') ?? 'text').toLowerCase();
      inputs.push({ name, type, value: attr(input, 'value') });
      if (type === 'hidden' && name) hidden[name] = attr(input, 'value') ?? '';
      // Ticked checkboxes are submitted as a browser would.
      if (type === 'checkbox' && name && /\schecked(\s|=|>|\/)/i.test(input)) checked[name] = attr(input, 'value') ?? 'on';
    }
    const buttons = [...inner.matchAll(/<button\b[^>]*>/gi)].map(([b]) => ({
      name: attr(b, 'name'), value: attr(b, 'value'), type: (attr(b, 'type') ?? 'submit').toLowerCase(),
    }));
    return {
      action: new URL(attr(tag, 'action') ?? pageUrl, pageUrl).toString(),
      method: (attr(tag, 'method') ?? 'get').toUpperCase(),
      hidden, checked, inputs, buttons,
    };
  });
}

const REDIRECTS = [301, 302, 303, 307, 308];

/** A scripted browser: one cookie jar, manual redirects, a trace of every request. */
export class Browserless {
  /** `rewrite` maps a URL before it is fetched (e.g. to send it to another replica). */
  constructor({ rewrite = (u) => u, jar = new CookieJar() } = {}) {
    this.jar = jar;
    this.rewrite = rewrite;
    /** [{method, url, status, location}] in order; `url` is what was actually fetched. */
    this.trace = [];
  }

  async fetch(url, init = {}) {
    url = this.rewrite(url);
    const res = await browserlessFetch(this.jar, url, init);
    this.trace.push({ method: init.method ?? 'GET', url, status: res.status, location: res.headers.get('location') });
    return res;
  }

  /** Follows redirects until `stop(url)` is true (that URL is not fetched) or a non-redirect answers. */
  async follow(url, stop = () => false) {
    for (let hops = 0; hops < 20; hops += 1) {
      if (stop(url)) return { stoppedAt: url };
      const res = await this.fetch(url);
      if (!REDIRECTS.includes(res.status)) return { res, url };
      url = new URL(res.headers.get('location'), url).toString();
    }
    throw new Error('too many redirects');
  }

  /** Submits the first form on the page (hidden inputs plus `fields`), then follows redirects. */
  async submitForm(pageUrl, html, fields, stop) {
    const [form] = parseForms(html, pageUrl);
    if (!form) throw new Error(`no form on ${pageUrl}:\n${html.slice(0, 500)}`);
    // `fields` wins; a field set to null is left out (an unticked checkbox).
    const body = new URLSearchParams();
    for (const [k, v] of Object.entries({ ...form.hidden, ...form.checked, ...fields })) {
      if (v !== null && v !== undefined) body.set(k, v);
    }
    const res = await this.fetch(form.action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    if (REDIRECTS.includes(res.status)) {
      return this.follow(new URL(res.headers.get('location'), form.action).toString(), stop);
    }
    return { res, url: form.action };
  }
}

// ---------------------------------------------------------------------------------------------
// Nextcloud (the stand-in): a person's login there, and our /nextcloud/connect page

/** Login passwords of the people who have a Nextcloud account in startStack's stand-in. */
export const NEXTCLOUD_USERS = Object.freeze({
  alice: 'alice-nextcloud-login',
  bob: 'bob-nextcloud-login',
  carol: 'carol-nextcloud-login',
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The `href` of the element with `id` on a page (an <a>), decoded, or undefined. */
export function linkById(html, id) {
  const m = new RegExp(`<a\\b[^>]*\\sid\\s*=\\s*["']${id}["'][^>]*>`, 'i').exec(html);
  return m ? attr(m[0], 'href') : undefined;
}

/** Whether `url` is the auth-proxy's Nextcloud connect page. */
export const isConnectPage = (url) => new URL(url).pathname.endsWith('/nextcloud/connect');

/**
 * A person at Nextcloud's Login Flow v2 page `loginUrl` (what our connect page's "Open
 * Nextcloud" link opens), in a browser of their own (`browser`, a Browserless with its own
 * cookies: Nextcloud is another site): the auth picker's "Log in", Nextcloud's login form as
 * `user` with `password`, then "Grant access". → { status, html, url, browser }, the page it
 * ended on ("Account connected", or an error page).
 *
 * `sso: true` (the default when `user` has no known password) logs in by SSO instead: the login
 * page's "Log in with OpenID Connect" (user_oidc, a#sso-login), then the IdP's login form (this
 * browser has no IdP session: the dev IdP takes `user` and any password) and consent form, back
 * to Nextcloud. Throws when neither a password nor an SSO link is there.
 */
export async function approveLoginFlow(loginUrl, { user, password = NEXTCLOUD_USERS[user], sso = password === undefined, browser = new Browserless() }) {
  let step = await browser.follow(loginUrl);
  for (let i = 0; i < 12; i += 1) {
    const html = await step.res.text();
    const done = { status: step.res.status, html, url: step.url, browser };
    if (step.res.status !== 200 || /<h2>Account connected<\/h2>/.test(html)) return done;
    const picker = /<p id="redirect-link"><a href="([^"]+)"/.exec(html);
    const ssoLink = sso ? linkById(html, 'sso-login') : undefined;
    if (picker) {
      step = await browser.follow(new URL(decodeHtml(picker[1]), step.url).toString());
    } else if (ssoLink) {
      step = await browser.follow(new URL(ssoLink, step.url).toString());
    } else if (/<form[^>]*name="login"/.test(html)) {
      if (password === undefined) throw new Error(`no Nextcloud login password for ${user}${sso ? ', and no SSO link on the login page' : ''}`);
      step = await browser.submitForm(step.url, html, { user, password });
    } else if (/<input[^>]*name="prompt"[^>]*value="login"/.test(html)) {
      // The IdP's login form (dev IdP: any password), reached through the SSO link.
      step = await browser.submitForm(step.url, html, { login: user, password: 'any-password' });
    } else if (/<input[^>]*name="prompt"[^>]*value="consent"/.test(html)) {
      step = await browser.submitForm(step.url, html, {});
    } else if (/action="[^"]*\/login\/v2\/grant"/.test(html)) {
      step = await browser.submitForm(step.url, html, {});
    } else {
      return done;
    }
  }
  throw new Error('the Nextcloud login flow did not end');
}

/**
 * Our connect page, as a person uses it: `html` is its first answer at `url` (a 503 page while
 * Nextcloud is unreachable reloads by itself, as its meta refresh does); "Open Nextcloud"
 * (a#open-nextcloud) opens Nextcloud in another tab, with other cookies, where `nextcloudLogin`
 * approves the flow; the connect page (still in `browser`) reloads until it sends the browser on
 * (`stop(url)` true: returned as `{stoppedAt}`) or shows a final page (`{res, url, html}`: 403
 * refused, expired, errors). Every result carries `nextcloud` (approveLoginFlow's) and
 * `loginUrl`. `nextcloudSso`: approveLoginFlow's `sso` (default: when no password is known).
 */
export async function completeConnect(browser, url, { status, html }, { nextcloudLogin, nextcloudPassword, nextcloudSso, stop = () => false, timeoutMs = 30000, reloadMs = 100 } = {}) {
  const deadline = Date.now() + timeoutMs;
  const reload = async () => {
    const step = await browser.follow(url, stop);
    if (step.stoppedAt) return step;
    return { ...step, html: await step.res.text() };
  };
  // Nextcloud unreachable at the start: the 503 page retries by itself.
  while (status === 503 && Date.now() < deadline) {
    await sleep(reloadMs);
    const step = await reload();
    if (step.stoppedAt) return step;
    ({ url } = step);
    ({ status } = step.res);
    ({ html } = step);
  }
  const loginUrl = linkById(html, 'open-nextcloud');
  if (status !== 200 || !loginUrl) return { res: { status }, url, html };
  const nextcloud = await approveLoginFlow(loginUrl, { user: nextcloudLogin, password: nextcloudPassword, sso: nextcloudSso });
  for (;;) {
    const step = await reload();
    if (step.stoppedAt || step.res.status !== 200 || !linkById(step.html, 'open-nextcloud')) return { ...step, nextcloud, loginUrl };
    if (Date.now() > deadline) throw new Error(`the connect page still waits after ${timeoutMs} ms: ${step.html.slice(0, 800)}`);
    await sleep(reloadMs);
  }
}

/**
 * The whole interactive part of a login, as a person in a browser would do it:
 * GET /authorize → proxy consent page → POST /consent (approve|deny) → IdP login form → IdP
 * consent form → proxy /callback → redirect to the client. Returns the query of the redirect to
 * the client (never fetched), plus what happened on the way:
 *   { query, redirect, state, pkce, browser, trace, consent: {status, headers, html, form} }
 * When /authorize does not answer with a page or a redirect to the client, `consent.status` is
 * that status and `query` is undefined.
 *
 * `client` is a registration response (its first redirect URI is used) or give `clientId` +
 * `redirectUri`. `extra` adds or (with null) removes authorization request parameters.
 *
 * When the proxy sends the browser to its Nextcloud connect page (app-password strategy, no
 * working app password yet), `nextcloudLogin` (default: `login`; its password from
 * NEXTCLOUD_USERS unless `nextcloudPassword`; by SSO with `nextcloudSso`, see approveLoginFlow)
 * approves the Login Flow in a Nextcloud tab of its own (completeConnect); the result then has
 * `connect: {loginUrl, nextcloud}`. If the connect page ends on a page of its own (refused, expired, …) instead, `query` is undefined and
 * `connect` is `{url, status, headers, html, loginUrl, nextcloud}`. `connect: 'manual'` stops at
 * the connect page's first answer: `connect` is `{url, status, headers, html}`.
 */
export async function runAuthorization({
  proxy, client, clientId = client?.client_id, redirectUri = client?.redirect_uris?.[0],
  scope = 'notes:read notes:write', resource = proxy.resource, decision = 'approve',
  state = randomBytes(8).toString('hex'), pkce = pkcePair(), extra = {}, browser = new Browserless(),
  login = 'alice', stopAt, nextcloudLogin = login, nextcloudPassword, nextcloudSso, connect = 'approve',
}) {
  const url = new URL(`${proxy.base}/authorize`);
  const params = { response_type: 'code', client_id: clientId, redirect_uri: redirectUri, state, code_challenge: pkce.challenge, code_challenge_method: 'S256', scope, resource, ...extra };
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) url.searchParams.set(k, v);
  const target = redirectUri.split('?')[0];
  const stop = (u) => u.startsWith(target) || Boolean(stopAt?.(u));
  const done = (step, consent) => {
    const redirect = new URL(step.stoppedAt);
    return { query: Object.fromEntries(redirect.searchParams), redirect: step.stoppedAt, browser, trace: browser.trace, pkce, state, consent };
  };
  let step = await browser.follow(url.toString(), stop);
  if (step.stoppedAt) return done(step, null);
  const consentHtml = await step.res.text();
  const consent = { status: step.res.status, headers: step.res.headers, html: consentHtml, form: parseForms(consentHtml, step.url)[0] };
  if (step.res.status !== 200 || !consent.form) return { consent, browser, trace: browser.trace, pkce, state };
  step = await browser.submitForm(step.url, consentHtml, { decision }, stop);
  // IdP login, then IdP consent, (our Nextcloud connect page,) until we are back at the client.
  for (let i = 0; i < 4 && !step.stoppedAt; i += 1) {
    if (isConnectPage(step.url)) {
      const page = { url: step.url, status: step.res.status, headers: step.res.headers, html: await step.res.text() };
      if (connect === 'manual') return { connect: page, browser, trace: browser.trace, pkce, state, consent };
      step = await completeConnect(browser, step.url, page, { nextcloudLogin, nextcloudPassword, nextcloudSso, stop });
      if (step.stoppedAt) return { ...done(step, consent), connect: { loginUrl: step.loginUrl, nextcloud: step.nextcloud } };
      return { connect: { url: step.url, status: step.res.status, headers: step.res.headers, html: step.html, loginUrl: step.loginUrl, nextcloud: step.nextcloud }, browser, trace: browser.trace, pkce, state, consent };
    }
    if (step.res.status !== 200) throw new Error(`unexpected ${step.res.status} at ${step.url}: ${(await step.res.text()).slice(0, 1000)}`);
    const html = await step.res.text();
    const fields = /name="login"/.test(html) ? { login, password: 'any-password' } : {};
    step = await browser.submitForm(step.url, html, fields, stop);
  }
  if (!step.stoppedAt) throw new Error('the flow did not come back to the client');
  return done(step, consent);
}

/**
 * For `afterEach`: when the test failed, prints the tail of every auth-proxy's output (and
 * the IdP's) so the failure can be understood from the test log alone.
 */
export function dumpLogsOnFailure(t) {
  if (t.passed !== false) return;
  for (const p of startedProxies) {
    console.error(`--- auth-proxy ${p.base} (issuer ${p.issuer}) output, last 4000 chars ---\n${p.output().slice(-4000)}`);
  }
}

// ---------------------------------------------------------------------------------------------
// mcp-server, the Nextcloud stand-in, and whole-stack setups

export const mcpServerBin = process.env.MCP_SERVER_BIN ?? path.join(repoRoot, 'target', 'debug', 'mcp-server');
/** Every mcp-server started in this process (for their logs). */
export const startedMcpServers = [];

/**
 * Starts mcp-server on `port` (pick it first: the resource URI names it) and waits for /readyz.
 * `proxy` (OAuth mode) or `singleUser: {user, password}`; `nextcloud` is the stand-in.
 */
export async function startMcpServer({ port, proxy, nextcloud, clientSecret, singleUser, resource, env = {} }) {
  if (!existsSync(mcpServerBin)) throw new Error(`${mcpServerBin} missing: run \`cargo build -p mcp-server\` (make test does), or set MCP_SERVER_BIN`);
  port ??= await freePort();
  const metricsPort = await freePort();
  resource ??= `http://127.0.0.1:${port}/mcp`;
  const fullEnv = {
    MCP_SERVER_BIND: `127.0.0.1:${port}`,
    MCP_SERVER_METRICS_BIND: `127.0.0.1:${metricsPort}`,
    MCP_SERVER_RESOURCE: resource,
    MCP_SERVER_NEXTCLOUD_URL: nextcloud.base,
    MCP_SERVER_SHUTDOWN_TIMEOUT_SECS: '1',
    RUST_LOG: 'debug,h2=info,hyper=info,hyper_util=info,reqwest=info,rustls=info,actix_server=info,rmcp=info',
    ...(singleUser ? {
      MCP_SERVER_MODE: 'single-user',
      MCP_SERVER_NEXTCLOUD_USER: singleUser.user,
      MCP_SERVER_NEXTCLOUD_APP_PASSWORD: singleUser.password,
    } : {
      MCP_SERVER_AUTHORIZATION_SERVER: proxy.issuer,
      MCP_SERVER_CLIENT_ID: 'mcp-server',
      MCP_SERVER_CLIENT_SECRET: clientSecret,
    }),
    ...env,
  };
  const proc = launch('mcp-server', mcpServerBin, [], fullEnv);
  const base = `http://127.0.0.1:${port}`;
  const server = { base, url: `${base}/mcp`, resource, port, metrics: `http://127.0.0.1:${metricsPort}`, proc, env: fullEnv, stop: () => proc.stop(), output: () => proc.output() };
  startedMcpServers.push(server);
  await waitFor('mcp-server', async () => (await fetch(`${base}/readyz`)).status === 200, { proc });
  return server;
}

/**
 * The Nextcloud stand-in (tests/nextcloud/standin.mjs, in this process) wired to a fresh real
 * sabre/dav server (tests/sabredav/, a PHP process) that answers its /remote.php/dav/. Options
 * are the stand-in's, plus `sabre: false` for no DAV server (DAV paths then answer 503).
 * Returns the stand-in's object (base, port, state) plus `dav` (startSabreDav's object: base,
 * port, dir, addUser, raw, …; null without sabre), and `stop()`/`close()`, which stop both.
 */
export async function startNextcloud({ sabre = true, ...options } = {}) {
  const { startNextcloud: start } = await import('../nextcloud/standin.mjs');
  const dav = options.dav ?? (sabre ? await startSabreDav() : null);
  // Every app password a Login Flow grant makes, for tests that look for them where they must
  // not be (logs); kept in this test process only.
  const issuedAppPasswords = [];
  const onAppPasswordIssued = (uid, password) => { issuedAppPasswords.push({ uid, password }); options.onAppPasswordIssued?.(uid, password); };
  let nc;
  try {
    nc = await start({ ...options, dav, onAppPasswordIssued });
  } catch (e) {
    if (!options.dav) await dav?.close();
    throw e;
  }
  const stop = async () => {
    await nc.close();
    if (!options.dav) await dav?.close();
  };
  return {
    base: nc.base, port: nc.port, state: nc.state, pause: nc.pause, resume: nc.resume, get paused() { return nc.paused; },
    dav, issuedAppPasswords, stop, close: stop,
  };
}

/**
 * Everything: redis, the IdP, the Nextcloud stand-in (with the real sabre/dav behind its
 * /remote.php/dav/; a stock Nextcloud, whose people NEXTCLOUD_USERS can log in), auth-proxy with
 * token exchange enabled and AUTH_PROXY_NEXTCLOUD_URL pointing at the stand-in, and `mcpReplicas`
 * mcp-servers sharing one resource URI (the first one's port; put a round-robin balancer there
 * yourself when there are several: `mcpPorts` are theirs).
 *
 * `credentials`: 'app-password' (default: the proxy's default strategy, Login Flow v2 at sign-in)
 * or 'bearer' (AUTH_PROXY_NEXTCLOUD_CREDENTIALS=bearer and the stand-in with the patched user_oidc,
 * `stock: false`). `nextcloudSso`: the stand-in's login page also offers user_oidc's SSO through
 * the same IdP (the IdP's one client, with the stand-in's redirect URI added). `nextcloudOptions`
 * go to the stand-in (its `loginUsers` are added to NEXTCLOUD_USERS).
 */
export async function startStack({ mcpReplicas = 1, proxyEnv = {}, mcpEnv = {}, nextcloudOptions = {}, credentials = 'app-password', nextcloudSso = false } = {}) {
  if (!['app-password', 'bearer'].includes(credentials)) throw new Error(`credentials: app-password or bearer, not ${credentials}`);
  const redis = await startRedis();
  const proxyPort = await freePort();
  const nextcloudPort = nextcloudOptions.port ?? await freePort();
  const redirectUris = [`http://127.0.0.1:${proxyPort}/callback`];
  if (nextcloudSso) redirectUris.push(`http://127.0.0.1:${nextcloudPort}/index.php/apps/user_oidc/code`);
  const idp = await startIdp({ redirectUris });
  const nextcloud = await startNextcloud({
    idpIssuer: idp.issuer,
    stock: credentials !== 'bearer',
    ...(nextcloudSso ? { oidcClient: { clientId: idp.clientId, clientSecret: idp.clientSecret } } : {}),
    ...nextcloudOptions,
    port: nextcloudPort,
    loginUsers: { ...NEXTCLOUD_USERS, ...nextcloudOptions.loginUsers },
  });
  const mcpPort = await freePort();
  const resource = `http://127.0.0.1:${mcpPort}/mcp`;
  const exchangeSecret = randomBytes(24).toString('base64url');
  const proxy = await startProxy({
    idp, redis, port: proxyPort, resource,
    env: {
      AUTH_PROXY_EXCHANGE_CLIENT_SECRET: exchangeSecret,
      AUTH_PROXY_NEXTCLOUD_URL: nextcloud.base,
      ...(credentials === 'bearer' ? { AUTH_PROXY_NEXTCLOUD_CREDENTIALS: 'bearer' } : {}),
      ...proxyEnv,
    },
  });
  const mcpServers = [];
  const mcpPorts = mcpReplicas === 1 ? [mcpPort] : await Promise.all(Array.from({ length: mcpReplicas }, () => freePort()));
  for (const port of mcpPorts) {
    mcpServers.push(await startMcpServer({ port, proxy, nextcloud, clientSecret: exchangeSecret, resource, env: mcpEnv }));
  }
  return {
    redis, idp, proxy, nextcloud, mcpServers, mcpPort, mcpPorts, resource, exchangeSecret, credentials,
    async stop() {
      for (const s of mcpServers) await s.stop();
      await proxy.stop();
      await nextcloud.stop();
      await idp.stop();
      await redis.stop();
    },
  };
}

/**
 * A person completing an authorization that an MCP client started (`url` is what the client
 * would open in a browser): proxy consent (with `fields`, e.g. `{'grant.files:read': null}` to
 * untick a permission), IdP login and consent, and — when the proxy asks for it — our Nextcloud
 * connect page: "Open Nextcloud" in a tab of its own, Nextcloud login as `nextcloudLogin`
 * (default `login`) with `nextcloudPassword` (default from NEXTCLOUD_USERS) or by SSO
 * (`nextcloudSso`, approveLoginFlow's `sso`), "Grant access",
 * back to the connect page until it moves on; until the redirect to `redirectUri`, which is
 * returned (not fetched unless `deliver`: then it is fetched, as a browser would, so a client
 * listening there receives the code). Throws when the flow ends anywhere else (e.g. a refused
 * connect page: the error says where).
 * → { redirect, query, trace, connect } (`connect`: {loginUrl, nextcloud} when the connect page
 * was on the way, else null).
 */
export async function completeAuthorization(url, redirectUri, { fields = {}, login = 'alice', deliver = false, browser = new Browserless(), nextcloudLogin = login, nextcloudPassword, nextcloudSso } = {}) {
  const target = redirectUri.split('?')[0];
  const stop = (u) => u.startsWith(target);
  let connect = null;
  let step = await browser.follow(String(url), stop);
  for (let i = 0; i < 6 && !step.stoppedAt; i += 1) {
    if (isConnectPage(step.url)) {
      const page = { status: step.res.status, html: await step.res.text() };
      step = await completeConnect(browser, step.url, page, { nextcloudLogin, nextcloudPassword, nextcloudSso, stop });
      if (!step.stoppedAt) throw new Error(`the Nextcloud connect page ended with ${step.res.status} at ${step.url}: ${step.html.slice(0, 1000)}`);
      connect = { loginUrl: step.loginUrl, nextcloud: step.nextcloud };
      break;
    }
    if (step.res.status !== 200) throw new Error(`unexpected ${step.res.status} at ${step.url}: ${(await step.res.text()).slice(0, 1000)}`);
    const html = await step.res.text();
    const isProxyConsent = /name="decision"/.test(html) && /name="flow"/.test(html);
    const extra = isProxyConsent ? { decision: 'approve', ...fields } : /name="login"/.test(html) ? { login, password: 'any-password' } : {};
    step = await browser.submitForm(step.url, html, extra, stop);
  }
  if (!step.stoppedAt) throw new Error('the authorization did not come back to the client');
  const redirect = new URL(step.stoppedAt);
  if (deliver) {
    const res = await fetch(step.stoppedAt);
    await res.text();
  }
  return { redirect: step.stoppedAt, query: Object.fromEntries(redirect.searchParams), trace: browser.trace, connect };
}

/** For `afterEach`: on failure, the tail of every mcp-server's output. */
export function dumpMcpLogsOnFailure(t) {
  if (t.passed !== false) return;
  for (const s of startedMcpServers) {
    console.error(`--- mcp-server ${s.base} output, last 4000 chars ---\n${s.output().slice(-4000)}`);
  }
}

/**
 * A round-robin HTTP load balancer on `port` (loopback) in front of `targets` (base URLs):
 * request n goes to targets[n % targets.length], no affinity of any kind. `log` records
 * `{ target, method, path, status }` for every request.
 */
export async function startRoundRobin({ port, targets }) {
  const { createServer: createHttpServer, request: httpRequest } = await import('node:http');
  const log = [];
  let next = 0;
  const server = createHttpServer((req, res) => {
    const target = new URL(targets[next % targets.length]);
    next += 1;
    const entry = { target: target.origin, method: req.method, path: req.url, status: 0 };
    log.push(entry);
    const upstream = httpRequest({
      host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers,
    }, (up) => {
      entry.status = up.statusCode;
      res.writeHead(up.statusCode, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => { entry.status = 502; res.writeHead(502); res.end(); });
    req.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    base: `http://127.0.0.1:${port}`, log,
    stop: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}
