// `make bench`: issue 13's benchmark set, ours next to the original Python server
// (nextcloud-mcp-server 0.202.1 from PyPI, in tests/bench/.venv: tests/bench/run.sh installs it),
// in one run, printing one table: original | ours | ratio | goal. Not a test: nothing here
// asserts a speed. `--smoke` (BENCH_SMOKE=1) runs every step for 1 s to prove the script works
// end to end, and leaves the original out.
//
//   cargo build --release --locked -p auth-proxy -p mcp-server
//   cd tests && node bench/bench.mjs [--duration 10] [--connections 16] [--threads 2] [--smoke]
//        [--no-original] [--sign-ins 30] [--out FILE.md]
//
// Ours: redis-server, the dev IdP (oidc-provider), the Nextcloud stand-in (no DAV: nothing
// measured reaches it), auth-proxy and mcp-server release builds, an Ed25519 signing key, Redis
// store, logs at warn, rate limits off. The original: `nextcloud-mcp-server run` in its OAuth
// (login_flow) mode against tests/bench/fake-idp.mjs (why a fake and not the dev IdP: see that
// file) and the same stand-in. Load: wrk (Debian) on loopback, `-t2 -c16 -d10s --latency`.
// Everything listens on and talks to 127.0.0.1 only.
import { spawn } from 'node:child_process';
import { writeFileSync, readFileSync, mkdtempSync, existsSync, rmSync } from 'node:fs';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: {
  duration: { type: 'string', default: '10' },
  connections: { type: 'string', default: '16' },
  threads: { type: 'string', default: '2' },
  smoke: { type: 'boolean', default: process.env.BENCH_SMOKE === '1' },
  'no-original': { type: 'boolean', default: false },
  'sign-ins': { type: 'string', default: '30' },
  out: { type: 'string' },
  'original-only': { type: 'boolean', default: false },
} });
const smoke = values.smoke;
const duration = smoke ? 1 : Number(values.duration);
const connections = Number(values.connections);
const threads = Number(values.threads);
const signIns = smoke ? 2 : Number(values['sign-ins']);
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const venv = path.join(repoRoot, 'tests', 'bench', '.venv');
const originalBin = path.join(venv, 'bin', 'nextcloud-mcp-server');
const withOriginal = !smoke && !values['no-original'];
const notes = [];

process.env.AUTH_PROXY_BIN ??= path.join(repoRoot, 'target', 'release', 'auth-proxy');
process.env.MCP_SERVER_BIN ??= path.join(repoRoot, 'target', 'release', 'mcp-server');
const floorBin = path.join(path.dirname(process.env.MCP_SERVER_BIN), 'examples', 'http_floor');
for (const bin of [process.env.AUTH_PROXY_BIN, process.env.MCP_SERVER_BIN, floorBin]) {
  if (!existsSync(bin)) { console.error(`${bin} missing: cargo build --release --locked -p auth-proxy -p mcp-server --bin auth-proxy --bin mcp-server --example http_floor`); process.exit(2); }
}
if (withOriginal && !existsSync(originalBin)) { console.error(`${originalBin} missing: tests/bench/run.sh installs it`); process.exit(2); }

const {
  startRedis, startIdp, startProxy, startNextcloud, startMcpServer, register, runAuthorization,
  redeemCode, freePort, stopAll,
} = await import('../lib/harness.mjs');
const { launch } = await import('../lib/procs.mjs');
const { startFakeIdp } = await import('./fake-idp.mjs');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(path.join(tmpdir(), 'bench-'));

// ---------------------------------------------------------------------------------------------
// wrk

function toMs(v) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v);
  if (!m) return NaN;
  return Math.round(Number(m[1]) * { us: 1, ms: 1000, s: 1e6, m: 6e7 }[m[2]]) / 1000;
}

/** One wrk run (async: the in-process servers keep serving meanwhile). */
async function wrk(name, { url, method = 'GET', headers = {}, body, seconds = duration, c = connections, t = threads }) {
  const script = path.join(work, `${name.replace(/\W+/g, '-')}.lua`);
  const lines = [`wrk.method = "${method}"`];
  if (body !== undefined) lines.push(`wrk.body = [==[${body}]==]`);
  for (const [k, v] of Object.entries(headers)) lines.push(`wrk.headers["${k}"] = [==[${v}]==]`);
  writeFileSync(script, `${lines.join('\n')}\n`);
  const args = [`-t${t}`, `-c${c}`, `-d${seconds}s`, '--latency', '-s', script, url];
  const out = await new Promise((resolve, reject) => {
    const p = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let s = '';
    p.stdout.on('data', (d) => { s += d; });
    p.stderr.on('data', (d) => { s += d; });
    p.on('error', reject);
    p.on('close', () => resolve(s));
  });
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
  const p99 = toMs(out.match(/^\s+99%\s+(\S+)/m)?.[1] ?? '');
  const p50 = toMs(out.match(/^\s+50%\s+(\S+)/m)?.[1] ?? '');
  const non2xx = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
  const requests = Number(out.match(/(\d+) requests in/)?.[1] ?? 0);
  const socketErrors = out.match(/Socket errors: (.*)/)?.[1] ?? 'none';
  if (!Number.isFinite(rps)) throw new Error(`wrk ${name}: no result\n${out}`);
  console.error(`  ${name}: ${rps.toFixed(0)}/s p50 ${p50} ms p99 ${p99} ms (${requests} requests, non-2xx ${non2xx}, socket errors ${socketErrors})`);
  return { rps, p50, p99, non2xx, requests, socketErrors, args: `wrk ${args.join(' ')}` };
}

// ---------------------------------------------------------------------------------------------
// Processes: RSS, start time

function rssMiB(pid) {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) / 1024;
}

/** Spawns `cmd` and polls `url` every 2 ms: ms from spawn to the first 200, then stops it. */
async function startToFirst200(name, cmd, args, env, url, opts = {}) {
  const t0 = process.hrtime.bigint();
  const proc = launch(name, cmd, args, env, opts);
  try {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`${name} exited: ${proc.output()}`);
      try {
        const res = await fetch(url);
        await res.arrayBuffer();
        if (res.status === 200) return Number(process.hrtime.bigint() - t0) / 1e6;
      } catch { /* not listening yet */ }
      if (Number(process.hrtime.bigint() - t0) > 60e9) throw new Error(`${name}: no 200 in 60 s:\n${proc.output()}`);
      await sleep(2);
    }
  } finally {
    await proc.stop();
  }
}

const MCP_HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
const TOOLS_LIST = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} });

/** The tools of a tools/list answer (JSON or one SSE event). */
function toolsOf(text) {
  const json = text.trimStart().startsWith('{') ? text : text.split('\n').find((l) => l.startsWith('data: {'))?.slice(6);
  return JSON.parse(json).result.tools;
}

async function expectStatus(what, url, init, status) {
  const res = await fetch(url, init);
  const text = await res.text();
  if (res.status !== status) throw new Error(`${what}: expected ${status}, got ${res.status}: ${text.slice(0, 500)}`);
  return { res, text };
}

/** The same JWT with one bit of its signature flipped (still valid base64url). */
function wrongSignature(jwt) {
  const [h, p, s] = jwt.split('.');
  const sig = Buffer.from(s, 'base64url');
  sig[sig.length >> 1] ^= 0x01;
  return `${h}.${p}.${sig.toString('base64url')}`;
}

// ---------------------------------------------------------------------------------------------
// Ours

async function measureOurs() {
  const r = {};
  const signing = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });
  const redis = await startRedis();
  const proxyPort = await freePort();
  const mcpPort = await freePort();
  const resource = `http://127.0.0.1:${mcpPort}/mcp`;
  const idp = await startIdp({ redirectUris: [`http://127.0.0.1:${proxyPort}/callback`] });
  const exchangeSecret = randomBytes(24).toString('base64url');
  const quiet = { RUST_LOG: 'warn', AUTH_PROXY_LOG_FORMAT: 'json' };
  const proxy = await startProxy({
    idp, redis, port: proxyPort, resource, keys: { signing },
    env: {
      ...quiet,
      AUTH_PROXY_EXCHANGE_CLIENT_SECRET: exchangeSecret,
      AUTH_PROXY_NEXTCLOUD_CREDENTIALS: 'bearer',
      AUTH_PROXY_RATE_LIMIT_TOKEN: 'off',
      AUTH_PROXY_REFRESH_GRACE_SECS: '300',
    },
  });
  const APP_PASSWORD = 'bench-app-password';
  const nextcloud = await startNextcloud({ sabre: false, idpIssuer: idp.issuer, stock: false, basicUsers: { alice: APP_PASSWORD } });
  const mcpEnv = { RUST_LOG: 'warn' };
  const mcp = await startMcpServer({ port: mcpPort, proxy, nextcloud, clientSecret: exchangeSecret, resource, env: mcpEnv });
  const single = await startMcpServer({ nextcloud, singleUser: { user: 'alice', password: APP_PASSWORD }, env: mcpEnv });
  await sleep(500);
  r.rssIdle = { mcp: rssMiB(mcp.proc.pid), proxy: rssMiB(proxy.proc.pid) };

  // A token with every scope the proxy offers (so tools/list lists every tool, as single-user does).
  const asMetadataUrl = `${proxy.base}/.well-known/oauth-authorization-server`;
  const metaText = (await expectStatus('AS metadata', asMetadataUrl, {}, 200)).text;
  r.metadataBytes = Buffer.byteLength(metaText);
  const meta = JSON.parse(metaText);
  const scope = (meta.scopes_supported ?? []).filter((s) => s !== 'offline_access').join(' ') || undefined;
  const clientRedirect = `http://127.0.0.1:${await freePort()}/callback`;
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const run = await runAuthorization({ proxy, client, ...(scope ? { scope } : {}) });
  if (!run.query?.code) throw new Error(`sign-in: no code (${JSON.stringify(run.query ?? run.consent?.status)})`);
  const issued = await redeemCode(proxy, client, run);
  if (issued.status !== 200) throw new Error(`redeem: ${JSON.stringify(issued.body)}`);
  const accessToken = issued.body.access_token;

  const auth = { ...MCP_HEADERS, authorization: `Bearer ${accessToken}` };
  const bad = { ...MCP_HEADERS, authorization: `Bearer ${wrongSignature(accessToken)}` };
  r.tools = toolsOf((await expectStatus('tools/list', mcp.url, { method: 'POST', headers: auth, body: TOOLS_LIST }, 200)).text).length;
  r.toolsSingle = toolsOf((await expectStatus('tools/list single-user', single.url, { method: 'POST', headers: MCP_HEADERS, body: TOOLS_LIST }, 200)).text).length;
  await expectStatus('no token', mcp.url, { method: 'POST', headers: MCP_HEADERS, body: TOOLS_LIST }, 401);
  await expectStatus('wrong signature', mcp.url, { method: 'POST', headers: bad, body: TOOLS_LIST }, 401);

  console.error('ours:');
  await wrk('warm-up', { url: mcp.url, method: 'POST', headers: auth, body: TOOLS_LIST, seconds: 1, c: 4 });
  r.asMetadata = await wrk('GET AS metadata', { url: asMetadataUrl });
  r.noToken = await wrk('POST /mcp no token', { url: mcp.url, method: 'POST', headers: MCP_HEADERS, body: TOOLS_LIST });
  r.toolsList = await wrk('POST /mcp tools/list', { url: mcp.url, method: 'POST', headers: auth, body: TOOLS_LIST });
  r.wrongSig = await wrk('POST /mcp wrong signature', { url: mcp.url, method: 'POST', headers: bad, body: TOOLS_LIST });
  r.singleUser = await wrk('POST /mcp tools/list single-user', { url: single.url, method: 'POST', headers: MCP_HEADERS, body: TOOLS_LIST });

  // /token refresh_token: as tests/load/token-refresh.mjs — one refresh token, a 300 s grace, so
  // every request within it rotates (Lua script in Redis + an Ed25519 signature per request).
  const refreshBody = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token, client_id: client.client_id }).toString();
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  await expectStatus('refresh', `${proxy.base}/token`, { method: 'POST', headers: form, body: refreshBody }, 200);
  r.refresh = await wrk('POST /token refresh_token', { url: `${proxy.base}/token`, method: 'POST', headers: form, body: refreshBody });

  // The proxy's own time per sign-in (see signInTime).
  r.signIn = await signInTime(proxy, client, scope, signIns);

  r.rssLoaded = { mcp: rssMiB(mcp.proc.pid), proxy: rssMiB(proxy.proc.pid) };

  // Start to first 200: the same binaries and configuration on new ports.
  const ms = [];
  for (let i = 0; i < (smoke ? 1 : 3); i += 1) {
    const port = await freePort();
    const env = { ...mcp.env, MCP_SERVER_BIND: `127.0.0.1:${port}`, MCP_SERVER_METRICS_BIND: `127.0.0.1:${await freePort()}` };
    const pport = await freePort();
    const penv = { ...proxy.env, AUTH_PROXY_BIND: `127.0.0.1:${pport}`, AUTH_PROXY_METRICS_BIND: `127.0.0.1:${await freePort()}` };
    ms.push({
      mcp: await startToFirst200('mcp-server', process.env.MCP_SERVER_BIN, [], env, `http://127.0.0.1:${port}/readyz`),
      proxy: await startToFirst200('auth-proxy', process.env.AUTH_PROXY_BIN, [], penv, `http://127.0.0.1:${pport}/readyz`),
    });
  }
  r.start = ms;

  await single.stop(); await mcp.stop(); await proxy.stop(); await nextcloud.stop(); await idp.stop(); await redis.stop();
  return r;
}

/** The proxy's metrics: `{ "<name>{<labels>}": value }` for every sample line. */
async function metricSamples(proxy) {
  const text = await (await fetch(`${proxy.metrics}/metrics`)).text();
  const samples = {};
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    samples[line.slice(0, at)] = Number(line.slice(at + 1));
  }
  return samples;
}

/** The sum of every sample named `name` whose labels include each of `labels` (`k="v"`). */
function sumOf(samples, name, labels = []) {
  let sum = 0;
  for (const [key, value] of Object.entries(samples)) {
    const brace = key.indexOf('{');
    if ((brace < 0 ? key : key.slice(0, brace)) !== name) continue;
    if (labels.every((l) => key.includes(l))) sum += value;
  }
  return sum;
}

/** The routes of one sign-in that reach the proxy. */
const SIGN_IN_ROUTES = [['/authorize', 'GET'], ['/consent', 'POST'], ['/callback', 'GET'], ['/token', 'POST']];

/**
 * The proxy's own time per sign-in over `n` sequential sign-ins (after 3 untimed ones), two ways:
 * - server-side (the goal's figure): the growth of the proxy's own
 *   auth_proxy_http_request_duration_seconds_sum for the four routes of a sign-in (authorize,
 *   consent, callback, token: from the request reaching the app to its answer, as its middleware
 *   times it), less the growth of auth_proxy_upstream_request_duration_seconds_sum (the time it
 *   waited for the IdP: the callback's code exchange);
 * - from outside, as a cross-check: the client-side time of those requests, less the IdP time,
 *   less per request the client-side round trip of GET /healthz (loopback and Node's fetch).
 */
async function signInTime(proxy, client, scope, n) {
  const realFetch = globalThis.fetch;
  let proxyMs = 0;
  let proxyRequests = 0;
  const timed = async (url, init) => {
    const t0 = process.hrtime.bigint();
    const res = await realFetch(url, init);
    const buf = await res.arrayBuffer();
    if (String(url).startsWith(proxy.base)) {
      proxyMs += Number(process.hrtime.bigint() - t0) / 1e6;
      proxyRequests += 1;
    }
    return new Response(buf, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
  const serverSeconds = (samples) => SIGN_IN_ROUTES.map(([route, method]) => sumOf(samples, 'auth_proxy_http_request_duration_seconds_sum', [`route="${route}"`, `method="${method}"`]));
  const upstreamSeconds = (samples) => sumOf(samples, 'auth_proxy_upstream_request_duration_seconds_sum');
  globalThis.fetch = timed;
  try {
    const once = async () => {
      const run = await runAuthorization({ proxy, client, ...(scope ? { scope } : {}) });
      const res = await redeemCode(proxy, client, run);
      if (res.status !== 200) throw new Error(`sign-in: ${JSON.stringify(res.body)}`);
    };
    // Untimed sign-ins warm the connections and caches.
    for (let i = 0; i < 3; i += 1) await once();
    proxyMs = 0; proxyRequests = 0;
    const before = await metricSamples(proxy);
    for (let i = 0; i < n; i += 1) await once();
    const after = await metricSamples(proxy);
    const upstreamMs = (upstreamSeconds(after) - upstreamSeconds(before)) * 1000;
    const s0 = serverSeconds(before);
    const perRoute = serverSeconds(after).map((v, i) => ((v - s0[i]) * 1000) / n);
    const serverMs = perRoute.reduce((a, b) => a + b, 0);
    const signInMs = proxyMs; const signInRequests = proxyRequests;
    proxyMs = 0; proxyRequests = 0;
    for (let i = 0; i < 50; i += 1) await timed(`${proxy.base}/healthz`);
    proxyMs = 0; proxyRequests = 0;
    for (let i = 0; i < 300; i += 1) await timed(`${proxy.base}/healthz`);
    const roundTrip = proxyMs / proxyRequests;
    return {
      perSignIn: serverMs - upstreamMs / n,
      perRoute: Object.fromEntries(SIGN_IN_ROUTES.map(([route], i) => [route, perRoute[i]])),
      outside: (signInMs - upstreamMs - signInRequests * roundTrip) / n,
      withIdp: signInMs / n,
      idp: upstreamMs / n,
      requests: signInRequests / n,
      roundTrip,
      n,
    };
  } finally {
    globalThis.fetch = realFetch;
  }
}

// ---------------------------------------------------------------------------------------------
// The floor: actix-web with nothing of ours (mcp-server/examples/http_floor.rs), same wrk

async function measureFloor(metadataBytes) {
  const port = await freePort();
  const proc = launch('http_floor', floorBin, [String(port), String(metadataBytes)]);
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i += 1) {
    try { await expectStatus('floor', `${base}/get`, {}, 200); break; } catch (e) {
      if (i > 500 || proc.exitCode !== null) throw new Error(`http_floor did not start: ${e.message}\n${proc.output()}`);
      await sleep(10);
    }
  }
  await expectStatus('floor 401', `${base}/post`, { method: 'POST', headers: MCP_HEADERS, body: TOOLS_LIST }, 401);
  console.error('floor:');
  const r = {
    get: await wrk('floor GET', { url: `${base}/get` }),
    post: await wrk('floor POST 401', { url: `${base}/post`, method: 'POST', headers: MCP_HEADERS, body: TOOLS_LIST }),
  };
  await proc.stop();
  return r;
}

// ---------------------------------------------------------------------------------------------
// The original

async function measureOriginal() {
  const r = {};
  const idp = await startFakeIdp();
  const nextcloud = await startNextcloud({ sabre: false, idpIssuer: idp.issuer, stock: false, basicUsers: { alice: 'bench-app-password' } });
  const dir = mkdtempSync(path.join(work, 'original-'));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const clientId = 'mcp-original';
  const env = {
    // OAuth mode (the original's "login_flow" deployment mode: it is an OAuth AS proxy in
    // front of the IdP, and a resource server that verifies the IdP's JWTs on /mcp).
    MCP_DEPLOYMENT_MODE: 'login_flow',
    NEXTCLOUD_HOST: nextcloud.base,
    OIDC_DISCOVERY_URL: `${idp.issuer}/.well-known/openid-configuration`,
    NEXTCLOUD_OIDC_CLIENT_ID: clientId,
    NEXTCLOUD_OIDC_CLIENT_SECRET: randomBytes(16).toString('hex'),
    NEXTCLOUD_MCP_SERVER_URL: base,
    NEXTCLOUD_RESOURCE_URI: nextcloud.base,
    METRICS_ENABLED: 'false',
    TOKEN_STORAGE_DB: path.join(dir, 'tokens.db'),
    LOG_LEVEL: 'WARNING',
  };
  const args = ['run', '--host', '127.0.0.1', '--port', String(port), '--log-level', 'warning'];
  const asMetadataUrl = `${base}/.well-known/oauth-authorization-server`;

  // Start to first 200 (its own AS metadata), three fresh starts (its SQLite migrations included).
  const starts = [];
  for (let i = 0; i < 3; i += 1) {
    rmSync(path.join(dir, 'tokens.db'), { force: true });
    starts.push(await startToFirst200('original', originalBin, args, env, asMetadataUrl, { cwd: dir }));
  }
  r.start = starts;

  const proc = launch('original', originalBin, args, env, { cwd: dir });
  try {
    for (let i = 0; ; i += 1) {
      try { if ((await fetch(asMetadataUrl)).status === 200) break; } catch { /* starting */ }
      if (proc.exitCode !== null || i > 3000) throw new Error(`original did not start:\n${proc.output()}`);
      await sleep(20);
    }
    await sleep(1000);
    r.rssIdle = rssMiB(proc.pid);
    const meta = JSON.parse((await expectStatus('original AS metadata', asMetadataUrl, {}, 200)).text);
    const accessToken = await idp.mint({
      sub: 'alice', preferred_username: 'alice', client_id: clientId,
      aud: [clientId, base, nextcloud.base], scope: meta.scopes_supported.join(' '),
    });
    const auth = { ...MCP_HEADERS, authorization: `Bearer ${accessToken}` };
    // It keeps MCP sessions: initialize once, then tools/list inside that session.
    const init = await expectStatus('original initialize', `${base}/mcp`, {
      method: 'POST', headers: auth,
      body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'bench', version: '1' } } }),
    }, 200);
    const session = init.res.headers.get('mcp-session-id');
    const inSession = { ...auth, 'mcp-session-id': session };
    const notified = await fetch(`${base}/mcp`, { method: 'POST', headers: inSession, body: JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }) });
    await notified.text();
    r.tools = toolsOf((await expectStatus('original tools/list', `${base}/mcp`, { method: 'POST', headers: inSession, body: TOOLS_LIST }, 200)).text).length;
    const bad = { ...inSession, authorization: `Bearer ${wrongSignature(accessToken)}` };
    await expectStatus('original no token', `${base}/mcp`, { method: 'POST', headers: MCP_HEADERS, body: TOOLS_LIST }, 401);
    await expectStatus('original wrong signature', `${base}/mcp`, { method: 'POST', headers: bad, body: TOOLS_LIST }, 401);

    console.error('original:');
    await wrk('warm-up', { url: asMetadataUrl, seconds: 1, c: 4 });
    r.asMetadata = await wrk('GET AS metadata', { url: asMetadataUrl });
    r.noToken = await wrk('POST /mcp no token', { url: `${base}/mcp`, method: 'POST', headers: MCP_HEADERS, body: TOOLS_LIST });
    r.toolsList = await wrk('POST /mcp tools/list', { url: `${base}/mcp`, method: 'POST', headers: inSession, body: TOOLS_LIST });
    r.wrongSig = await wrk('POST /mcp wrong signature', { url: `${base}/mcp`, method: 'POST', headers: bad, body: TOOLS_LIST });
    r.rssLoaded = rssMiB(proc.pid);
    const count = (list) => Object.entries(list.reduce((m, k) => ({ ...m, [k]: (m[k] ?? 0) + 1 }), {})).map(([k, v]) => `${k} ×${v}`).join(', ');
    console.error(`  the original asked its IdP: ${count(idp.hits.map((h) => h.split('?')[0]))}`);
    console.error(`  the original asked the Nextcloud stand-in: ${count(nextcloud.state.requests.map((q) => `${q.method} ${q.path}`)) || 'nothing'}`);
  } finally {
    await proc.stop();
    await nextcloud.stop();
    await idp.close();
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// The table

const int = (n) => Math.round(n).toLocaleString('en-US');
const ms2 = (n) => (n >= 10 ? n.toFixed(1) : n.toFixed(2));
const rate = (w) => `${int(w.rps)}/s, p99 ${ms2(w.p99)} ms`;
const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

function table(ours, orig) {
  const rows = [];
  // A smoke run's figures mean nothing: no ✓/✗ on them.
  const mark = (ok) => (smoke ? '' : ok ? '✓' : '✗');
  // Ours as a share of the floor (actix-web with nothing of ours) for the cheap requests, and
  // what 100x the original would take, as a share of that floor.
  const ofFloor = (w, floor) => `${((w.rps / floor.rps) * 100).toFixed(0)} % of the floor`;
  const ratioRow = (name, key, floor, goal = 100) => {
    const o = orig?.[key];
    const ratio = o ? ours[key].rps / o.rps : undefined;
    const need = o && floor ? `; ${goal}x = ${int(o.rps * goal)}/s = ${((o.rps * goal * 100) / floor.rps).toFixed(0)} % of the floor` : '';
    rows.push([name, o ? rate(o) : 'not run', `${rate(ours[key])}${floor ? ` (${ofFloor(ours[key], floor)})` : ''}`, ratio ? `${ratio.toFixed(0)}x${need}` : '', ratio ? `≥${goal}x ${mark(ratio >= goal)}` : `≥${goal}x`]);
  };
  rows.push(['floor: actix-web with nothing of ours (examples/http_floor.rs), same load', '',
    `GET ${ours.metadataBytes} B: ${rate(ours.floor.get)}; POST → 401: ${rate(ours.floor.post)}`, '', '(reference)']);
  ratioRow('GET AS metadata', 'asMetadata', ours.floor.get);
  ratioRow('POST /mcp without token → 401', 'noToken', ours.floor.post);
  {
    const o = orig?.toolsList;
    const perTool = o ? (ours.toolsList.rps * ours.tools) / (o.rps * orig.tools) : undefined;
    rows.push([
      'POST /mcp tools/list, valid token',
      o ? `${rate(o)} (${orig.tools} tools)` : 'not run',
      `${rate(ours.toolsList)} (${ours.tools} tools)`,
      perTool ? `${(ours.toolsList.rps / o.rps).toFixed(0)}x; ${perTool.toFixed(0)}x per listed tool` : '',
      `≥100x${perTool ? ` ${mark(perTool >= 100)}` : ''}, p99 <5 ms ${mark(ours.toolsList.p99 < 5)}`,
    ]);
  }
  ratioRow('POST /mcp wrong-signature token → 401', 'wrongSig', ours.floor.post);
  {
    const cost = (1 - ours.toolsList.rps / ours.singleUser.rps) * 100;
    rows.push([
      'tools/list with auth vs single-user (no auth layer)', '',
      `${int(ours.toolsList.rps)} vs ${int(ours.singleUser.rps)}/s (${ours.tools} vs ${ours.toolsSingle} tools); p99 ${ms2(ours.toolsList.p99)} vs ${ms2(ours.singleUser.p99)} ms`,
      `auth costs ${cost.toFixed(0)} %`, `≤10 % ${mark(cost <= 10)}`,
    ]);
  }
  rows.push(['POST /token refresh_token', '(proxied to its IdP: not its own work)', rate(ours.refresh), '',
    `≥10k/s ${mark(ours.refresh.rps >= 10000)}, p99 <5 ms ${mark(ours.refresh.p99 < 5)}`]);
  const si = ours.signIn;
  const routes = Object.entries(si.perRoute).map(([route, ms]) => `${route} ${ms.toFixed(2)}`).join(', ');
  rows.push(['auth-proxy\'s own time per sign-in (authorize+consent+callback+token, less IdP), from its own request timings', '',
    `${si.perSignIn.toFixed(2)} ms (${routes} ms, less ${si.idp.toFixed(2)} ms waiting for the IdP; ${si.n} sign-ins. From outside: ${si.outside.toFixed(2)} ms = client-side ${si.withIdp.toFixed(2)} ms for ${si.requests.toFixed(0)} requests, less the IdP, less ${si.requests.toFixed(0)} × ${si.roundTrip.toFixed(2)} ms GET /healthz round trip)`, '',
    `<1.5 ms ${mark(ours.signIn.perSignIn < 1.5)}`]);
  const rssOurs = `mcp-server ${ours.rssIdle.mcp.toFixed(0)} → ${ours.rssLoaded.mcp.toFixed(0)} MiB, auth-proxy ${ours.rssIdle.proxy.toFixed(0)} → ${ours.rssLoaded.proxy.toFixed(0)} MiB`;
  rows.push(['RSS idle → after load', orig ? `${orig.rssIdle.toFixed(0)} → ${orig.rssLoaded.toFixed(0)} MiB` : 'not run', rssOurs,
    orig ? `${(orig.rssLoaded / Math.max(ours.rssLoaded.mcp, ours.rssLoaded.proxy)).toFixed(0)}x less` : '',
    `<30 MiB ${mark(Math.max(ours.rssLoaded.mcp, ours.rssLoaded.proxy) < 30)}`]);
  const startMcp = median(ours.start.map((s) => s.mcp));
  const startProxy = median(ours.start.map((s) => s.proxy));
  const startOrig = orig ? median(orig.start) : undefined;
  rows.push([`start to first 200 (median of ${ours.start.length})`, orig ? `${(startOrig / 1000).toFixed(2)} s` : 'not run',
    `mcp-server ${startMcp.toFixed(0)} ms, auth-proxy ${startProxy.toFixed(0)} ms`,
    orig ? `${(startOrig / Math.max(startMcp, startProxy)).toFixed(0)}x faster` : '',
    `<100 ms ${mark(Math.max(startMcp, startProxy) < 100)}`]);
  const header = '| request | original | ours | ratio | goal |\n|---|---|---|---|---|';
  return `${header}\n${rows.map((r) => `| ${r.join(' | ')} |`).join('\n')}`;
}

try {
  if (values['original-only']) {
    console.log(JSON.stringify(await measureOriginal(), null, 1));
    process.exit(0);
  }
  const ours = await measureOurs();
  await stopAll();
  ours.floor = await measureFloor(ours.metadataBytes);
  const orig = withOriginal ? await measureOriginal() : undefined;
  if (!withOriginal) notes.push(smoke ? 'smoke run (1 s each): the original is left out; figures prove only that the script works.' : 'the original was not run (--no-original).');
  const out = `${table(ours, orig)}\n${notes.map((n) => `\nNote: ${n}`).join('')}\n\nwrk -t${threads} -c${connections} -d${duration}s --latency on loopback; ratio = ours/original requests per second.`;
  console.log(out);
  if (values.out) writeFileSync(values.out, `${out}\n`);
} finally {
  await stopAll();
  rmSync(work, { recursive: true, force: true });
}
