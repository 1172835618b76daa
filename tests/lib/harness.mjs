// Test harness: real processes on free loopback ports (redis-server, the oidc-provider dev IdP,
// auth-proxy), readiness by polling (never fixed sleeps), and a browserless "user" that walks
// the HTML forms with its own cookie jar.
import { spawn } from 'node:child_process';
import { createServer, connect } from 'node:net';
import { createHash, randomBytes, generateKeyPairSync } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '..', '..');
export const proxyBin = process.env.AUTH_PROXY_BIN ?? path.join(repoRoot, 'target', 'debug', 'auth-proxy');

const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitFor(what, check, { timeoutMs = 20000, proc } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) {
      throw new Error(`${what} exited with ${proc.exitCode}:\n${proc.output()}`);
    }
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what} not ready in ${timeoutMs} ms (${lastError?.message ?? 'no answer'})${proc ? `:\n${proc.output()}` : ''}`);
}

function launch(cmd, args, env = {}) {
  const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  child.output = () => out;
  child.stop = () => new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

function redisPing(port) {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    sock.on('error', () => resolve(false));
    sock.on('data', (d) => { sock.destroy(); resolve(d.toString().startsWith('+PONG')); });
    sock.write('PING\r\n');
  });
}

export async function startRedis() {
  const port = await freePort();
  const proc = launch('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  const missing = new Promise((resolve) => proc.on('error', resolve));
  const spawnError = await Promise.race([missing, new Promise((r) => setTimeout(() => r(null), 100))]);
  if (spawnError) throw new Error(`cannot start redis-server (${spawnError.code}): \`make test\` installs it (apt-get install redis-server)`);
  await waitFor('redis-server', () => redisPing(port), { proc });
  return { port, url: `redis://127.0.0.1:${port}`, proc, stop: () => proc.stop() };
}

export async function startIdp({ redirectUris, clientId = 'auth-proxy', clientSecret = randomBytes(24).toString('base64url') }) {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  const args = [path.join(repoRoot, 'tests', 'idp', 'dev-idp.mjs'), '--port', String(port), '--client-id', clientId, '--client-secret', clientSecret];
  for (const r of redirectUris) args.push('--redirect-uri', r);
  const proc = launch(process.execPath, args);
  await waitFor('dev IdP', () => proc.output().includes('dev-idp listening on'), { proc });
  return { issuer, clientId, clientSecret, proc, stop: () => proc.stop() };
}

export function newSigningKeyPem() {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return privateKey.export({ type: 'pkcs8', format: 'pem' });
}

export function newEncryptionKey() {
  return randomBytes(32).toString('base64');
}

/**
 * Starts auth-proxy. `port` and `issuer` may be given (two replicas behind one issuer);
 * everything else comes from `env`.
 */
export async function startProxy({ idp, redis, env = {}, port, issuer, resource = 'http://127.0.0.1:18000/mcp', keys } = {}) {
  if (!existsSync(proxyBin)) throw new Error(`${proxyBin} missing: run \`cargo build -p auth-proxy\` (make test does)`);
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
    AUTH_PROXY_SHUTDOWN_TIMEOUT_SECS: '1',
    RUST_LOG: 'debug,h2=info,hyper=info,reqwest=info,rustls=info',
    ...(redis ? {
      AUTH_PROXY_REDIS_URL: redis.url,
      AUTH_PROXY_REDIS_PREFIX: `e2e-${randomBytes(4).toString('hex')}`,
      AUTH_PROXY_SIGNING_KEYS: (keys ?? {}).signing ?? newSigningKeyPem(),
      AUTH_PROXY_ENCRYPTION_KEYS: (keys ?? {}).encryption ?? newEncryptionKey(),
    } : {}),
    ...env,
  };
  const proc = launch(proxyBin, [], fullEnv);
  const base = `http://127.0.0.1:${port}`;
  await waitFor('auth-proxy', async () => (await fetch(`${base}/readyz`)).status === 200, { proc });
  return { base, issuer, port, metrics: `http://127.0.0.1:${metricsPort}`, resource, proc, env: fullEnv, stop: () => proc.stop(), output: () => proc.output() };
}

export function pkcePair() {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  return { verifier, challenge };
}

/** A browser without a browser: cookies per host:port, manual redirects, HTML forms. */
export class Browserless {
  /** `rewrite` maps a URL before it is fetched (e.g. to send it to another replica). */
  constructor({ rewrite = (u) => u } = {}) { this.jar = new Map(); this.rewrite = rewrite; }

  // Cookies are scoped to the host name, not the port (RFC 6265), as in real browsers.
  cookieHeader(url) {
    const jar = this.jar.get(new URL(url).hostname);
    return jar ? [...jar].map(([k, v]) => `${k}=${v}`).join('; ') : undefined;
  }

  store(url, res) {
    const host = new URL(url).hostname;
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const i = pair.indexOf('=');
      const jar = this.jar.get(host) ?? new Map();
      jar.set(pair.slice(0, i).trim(), pair.slice(i + 1).trim());
      this.jar.set(host, jar);
    }
  }

  async fetch(url, init = {}) {
    url = this.rewrite(url);
    const headers = { ...(init.headers ?? {}) };
    const cookie = this.cookieHeader(url);
    if (cookie) headers.cookie = cookie;
    const res = await fetch(url, { ...init, headers, redirect: 'manual' });
    this.store(url, res);
    return res;
  }

  /** Follows redirects until `stop(url)` is true (not fetched) or a non-redirect answers. */
  async follow(url, stop = () => false) {
    let res;
    for (let hops = 0; hops < 20; hops += 1) {
      if (stop(url)) return { stoppedAt: url };
      res = await this.fetch(url);
      if (![301, 302, 303, 307, 308].includes(res.status)) return { res, url };
      url = new URL(res.headers.get('location'), url).toString();
    }
    throw new Error('too many redirects');
  }

  /** Submits the first form on the page with its hidden inputs plus `fields`. */
  async submitForm(pageUrl, html, fields, stop) {
    const form = html.match(/<form[^>]*action="([^"]*)"[^>]*>([\s\S]*?)<\/form>/i);
    if (!form) throw new Error(`no form on ${pageUrl}:\n${html.slice(0, 500)}`);
    const action = new URL(form[1].replaceAll('&amp;', '&'), pageUrl).toString();
    const body = new URLSearchParams();
    for (const m of form[2].matchAll(/<input[^>]*type="hidden"[^>]*>/gi)) {
      const name = m[0].match(/name="([^"]*)"/)?.[1];
      const value = m[0].match(/value="([^"]*)"/)?.[1] ?? '';
      if (name) body.set(name, value.replaceAll('&amp;', '&').replaceAll('&quot;', '"'));
    }
    for (const [k, v] of Object.entries(fields)) body.set(k, v);
    const res = await this.fetch(action, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body });
    if ([302, 303].includes(res.status)) {
      return this.follow(new URL(res.headers.get('location'), action).toString(), stop);
    }
    return { res, url: action };
  }
}

export async function register(proxy, metadata) {
  const res = await fetch(`${proxy.base}/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'E2E Client', grant_types: ['authorization_code', 'refresh_token'], ...metadata }),
  });
  if (res.status !== 201) throw new Error(`register: ${res.status} ${await res.text()}`);
  return res.json();
}

/**
 * The whole interactive part of a login, as a person in a browser would do it: authorize →
 * proxy consent → IdP login → IdP consent → proxy callback → client redirect. Returns the
 * query of the final redirect to the client (never fetched) and the browser used.
 *
 * `rewriteToProxy` sends requests for the proxy's issuer host to another replica.
 */
export async function runAuthorization({ proxy, clientId, redirectUri, scope = 'notes:read notes:write', resource, decision = 'approve', state = randomBytes(8).toString('hex'), pkce = pkcePair(), extra = {}, browser = new Browserless(), login = 'alice' }) {
  const url = new URL(`${proxy.base}/authorize`);
  const params = { response_type: 'code', client_id: clientId, redirect_uri: redirectUri, state, code_challenge: pkce.challenge, code_challenge_method: 'S256', scope, resource: resource ?? proxy.resource, ...extra };
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null) url.searchParams.set(k, v);
  const isClient = (u) => u.startsWith(redirectUri.split('?')[0]);
  let step = await browser.follow(url.toString(), isClient);
  if (step.stoppedAt) return { query: Object.fromEntries(new URL(step.stoppedAt).searchParams), browser, pkce, state, consentStatus: null };
  if (step.res.status !== 200) return { consentStatus: step.res.status, body: await step.res.text(), browser, pkce, state };
  const consentHtml = await step.res.text();
  step = await browser.submitForm(step.url, consentHtml, { decision }, isClient);
  // IdP login, then IdP consent (any number of pages until we are back at the client).
  for (let i = 0; i < 4 && !step.stoppedAt; i += 1) {
    if (step.res.status !== 200) throw new Error(`unexpected ${step.res.status} at ${step.url}: ${await step.res.text()}`);
    const html = await step.res.text();
    const fields = html.includes('name="login"') ? { login, password: 'any' } : {};
    step = await browser.submitForm(step.url, html, fields, isClient);
  }
  if (!step.stoppedAt) throw new Error('the flow did not come back to the client');
  return { query: Object.fromEntries(new URL(step.stoppedAt).searchParams), browser, pkce, state, consentHtml };
}

export async function token(proxy, form, { basic } = {}) {
  const headers = { 'content-type': 'application/x-www-form-urlencoded' };
  if (basic) headers.authorization = `Basic ${Buffer.from(`${encodeURIComponent(basic[0])}:${encodeURIComponent(basic[1])}`).toString('base64')}`;
  const res = await fetch(`${proxy.base}/token`, { method: 'POST', headers, body: new URLSearchParams(form) });
  return { status: res.status, headers: res.headers, body: await res.json() };
}
