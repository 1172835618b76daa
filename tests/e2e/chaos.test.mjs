// Chaos (issue 12), all on loopback and bounded in time:
//  (1) Redis (AOF, appendfsync always, a data directory) killed with SIGKILL mid-flow and started
//      again on the same port: while it is down the auth-proxy answers clean 503s (OAuth JSON
//      errors, error pages; never a 500, a panic or internals), it recovers by itself, and a
//      grant, a refresh token and a half-finished sign-in written before the kill still work.
//  (2) The IdP slow, hanging and refusing, behind a TCP chaos proxy (lib/chaos-proxy.mjs): the
//      callback's upstream calls end within AUTH_PROXY_UPSTREAM_TIMEOUT_SECS, with a clean page,
//      while /healthz, metadata, /token refresh and the mcp-server stay fast (no starvation).
//  (3) Nextcloud hanging and refusing behind the same kind of proxy: tool calls end within
//      MCP_SERVER_NEXTCLOUD_TIMEOUT_SECS with a clean tool error while tools/list, /healthz and
//      the auth-proxy stay fast; everything works again once Nextcloud is back.
// Latency bounds are generous on purpose (p99 under 1 s while upstream calls hang for 10 s): they
// catch starvation, not slowness. Figures are printed as `chaos-figures …` lines
// (docs/reliability.md quotes them).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  startProxy, startMcpServer, startNextcloud, register, runAuthorization, redeemCode, token,
  completeAuthorization, freePort, waitFor, repoRoot, NEXTCLOUD_USERS, stopAll,
  dumpLogsOnFailure, dumpMcpLogsOnFailure, startedProxies, startedMcpServers,
} from '../lib/harness.mjs';
import { launch } from '../lib/procs.mjs';
import { startChaosProxy } from '../lib/chaos-proxy.mjs';

const REDIRECT = 'http://127.0.0.1:17996/oauth/callback';
/** Upstream (IdP) timeout of the proxy under test: the documented default. */
const UPSTREAM_TIMEOUT_S = 10;
/** mcp-server's Nextcloud timeout here (default 30 s; shorter to keep the test short). */
const NEXTCLOUD_TIMEOUT_S = 5;
/** The auth-proxy's own Nextcloud timeout (auth-proxy/src/nextcloud/client.rs, not configurable). */
const PROXY_NEXTCLOUD_TIMEOUT_S = 10;
/** How long an outage lasts while the probes run. */
const HANG_MS = 10000;
/** Upper bound for the p99 of the probes during an outage (starvation, not speed). */
const PROBE_P99_MS = 1000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let redis; let idpChaos; let ncChaos; let idp; let nextcloud; let proxy; let mcp;
let redisDir; let exchangeSecretForTests;

// ---------------------------------------------------------------------------------------------
// Redis with persistence, killable and restartable on the same port and data directory

function redisCommand(port, line) {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    sock.setTimeout(1000, () => { sock.destroy(); resolve(null); });
    sock.on('error', () => resolve(null));
    sock.on('data', (d) => { out += d; if (out.endsWith('\r\n')) { sock.destroy(); resolve(out); } });
    sock.write(`${line}\r\n`);
  });
}

async function startPersistentRedis(port, dir) {
  const proc = launch('redis-server', process.env.REDIS_SERVER_BIN ?? 'redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
    '--appendonly', 'yes', '--appendfsync', 'always', '--save', '',
  ]);
  await waitFor('redis-server', async () => (await redisCommand(port, 'PING'))?.startsWith('+PONG'), { proc });
  return proc;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** No 500, and nothing of the inside (panics, store or socket errors, source paths) in the body. */
function assertClean(status, body, what) {
  assert.notEqual(status, 500, `${what}: 500: ${body.slice(0, 300)}`);
  assert.ok(status < 500 || status === 502 || status === 503 || status === 504, `${what}: ${status}`);
  assert.doesNotMatch(body, /panick|redis|os error|connection refused|reset by peer|backtrace|\.rs:\d+|127\.0\.0\.1:\d+\/|reqwest|hyper/i, `${what} leaks internals: ${body.slice(0, 300)}`);
}

/**
 * The callback's answer when the IdP fails: the client gets its error the OAuth way, a redirect
 * to its redirect URI with error=temporarily_unavailable, its state and the issuer, no code.
 */
function assertUpstreamErrorRedirect({ status, location, text }, what) {
  assert.equal(status, 302, `${what}: ${status} ${text.slice(0, 200)}`);
  assert.ok(location?.startsWith(REDIRECT), `${what}: to ${location}`);
  const q = new URL(location).searchParams;
  assert.equal(q.get('error'), 'temporarily_unavailable', location);
  assert.equal(q.get('code'), null);
  assert.ok(q.get('state'));
  assert.equal(q.get('iss'), proxy.issuer);
  assertClean(status, `${q.get('error_description') ?? ''} ${text}`, what);
}

async function timed(fn) {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

function percentile(values, p) {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function fetchText(url, init) {
  const res = await fetch(url, init);
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** A client signed in as `login` (registration, consent, IdP, Nextcloud connect page, token). */
async function signIn(login = 'alice') {
  const client = await register(proxy, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: `chaos ${randomBytes(3).toString('hex')}` });
  const run = await runAuthorization({ proxy, client, login, scope: 'notes:read notes:write' });
  assert.ok(run.query?.code, `sign-in ended at ${run.redirect ?? JSON.stringify(run.connect?.status)}`);
  const issued = await redeemCode(proxy, client, run);
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  return { client, tokens: issued.body };
}

/** An authorization walked up to (not including) the proxy's /callback: → {browser, callback}. */
async function flowToCallback(client, login = 'alice') {
  const run = await runAuthorization({ proxy, client, login, stopAt: (u) => u.startsWith(`${proxy.base}/callback`) });
  assert.ok(run.redirect?.startsWith(`${proxy.base}/callback`), `stopped at ${run.redirect}`);
  return { browser: run.browser, callback: run.redirect, pkce: run.pkce };
}

async function mcpClient(accessToken, server = mcp) {
  const client = new Client({ name: 'chaos', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url), { requestInit: { headers: { authorization: `Bearer ${accessToken}` } } }));
  return client;
}

/**
 * Probes the services every `everyMs` until `until()` resolves: each round runs the auth-proxy's
 * /healthz, AS metadata, JWKS and a store-only /token refresh, and mcp-server's /healthz and
 * tools/list, in parallel. → {latencies: {name: [ms]}, failures: [..]}
 */
async function probeWhile(until, { refresh, client: mcpc, everyMs = 100 }) {
  const latencies = {};
  const failures = [];
  const record = async (name, fn) => {
    const t0 = performance.now();
    try {
      const ok = await fn();
      if (!ok) failures.push(name);
    } catch (e) {
      failures.push(`${name}: ${e.message}`);
    }
    (latencies[name] ??= []).push(performance.now() - t0);
  };
  let done = false;
  const finished = until.then(() => { done = true; });
  const state = { refresh };
  while (!done) {
    await Promise.all([
      record('proxy /healthz', async () => (await fetchText(`${proxy.base}/healthz`)).status === 200),
      record('proxy metadata', async () => (await fetchText(`${proxy.base}/.well-known/oauth-authorization-server`)).status === 200),
      record('proxy /jwks.json', async () => (await fetchText(`${proxy.base}/jwks.json`)).status === 200),
      ...(state.refresh ? [record('proxy /token refresh', async () => {
        const r = await token(proxy, { grant_type: 'refresh_token', refresh_token: state.refresh.token, client_id: state.refresh.clientId });
        if (r.status === 200) state.refresh.token = r.body.refresh_token;
        return r.status === 200;
      })] : []),
      record('mcp /healthz', async () => (await fetchText(`${mcp.base}/healthz`)).status === 200),
      ...(mcpc ? [record('mcp tools/list', async () => (await mcpc.listTools()).tools.length > 0)] : []),
    ]);
    await Promise.race([sleep(everyMs), finished]);
  }
  return { latencies, failures };
}

function summarize(latencies) {
  return Object.fromEntries(Object.entries(latencies).map(([k, v]) => [k, {
    n: v.length, p50: Math.round(percentile(v, 50)), p99: Math.round(percentile(v, 99)), max: Math.round(Math.max(...v)),
  }]));
}

function assertNoStarvation(probes, what) {
  assert.deepEqual(probes.failures, [], `${what}: probes failed`);
  for (const [name, v] of Object.entries(probes.latencies)) {
    assert.ok(v.length >= 5, `${what}: ${name} probed ${v.length} times`);
    const p99 = percentile(v, 99);
    assert.ok(p99 < PROBE_P99_MS, `${what}: ${name} p99 ${p99.toFixed(0)} ms (bound ${PROBE_P99_MS} ms): starvation`);
  }
}

// ---------------------------------------------------------------------------------------------

before(async () => {
  redisDir = mkdtempSync(path.join(tmpdir(), 'chaos-redis-'));
  const redisPort = await freePort();
  redis = { port: redisPort, url: `redis://127.0.0.1:${redisPort}`, proc: await startPersistentRedis(redisPort, redisDir) };

  // The IdP behind a chaos proxy: its issuer is the chaos proxy's URL, so that every call to it
  // (the auth-proxy's and the browser's) goes through the proxy.
  const idpPort = await freePort();
  idpChaos = await startChaosProxy({ targetPort: idpPort });
  const proxyPort = await freePort();
  const clientSecret = randomBytes(24).toString('base64url');
  const idpProc = launch('dev IdP', process.execPath, [
    path.join(repoRoot, 'tests', 'idp', 'dev-idp.mjs'), `--port=${idpPort}`, `--issuer=${idpChaos.base}`,
    '--client-id=auth-proxy', `--client-secret=${clientSecret}`, `--redirect-uri=http://127.0.0.1:${proxyPort}/callback`,
  ]);
  await waitFor('dev IdP', () => idpProc.output().includes(`dev-idp listening on ${idpChaos.base}`), { proc: idpProc });
  idp = { issuer: idpChaos.base, clientId: 'auth-proxy', clientSecret, proc: idpProc };

  // Nextcloud (stock stand-in, Login Flow v2 + app passwords) behind another chaos proxy.
  const ncPort = await freePort();
  ncChaos = await startChaosProxy({ targetPort: ncPort });
  nextcloud = await startNextcloud({ idpIssuer: idp.issuer, stock: true, port: ncPort, loginUsers: NEXTCLOUD_USERS, sabre: false });

  const mcpPort = await freePort();
  const resource = `http://127.0.0.1:${mcpPort}/mcp`;
  const exchangeSecret = randomBytes(24).toString('base64url');
  proxy = await startProxy({
    idp, redis, port: proxyPort, resource,
    env: {
      AUTH_PROXY_EXCHANGE_CLIENT_SECRET: exchangeSecret,
      AUTH_PROXY_NEXTCLOUD_URL: ncChaos.base,
      AUTH_PROXY_UPSTREAM_TIMEOUT_SECS: String(UPSTREAM_TIMEOUT_S),
      // A refresh whose reply was lost when Redis died is presented again after the restart.
      AUTH_PROXY_REFRESH_GRACE_SECS: '60',
      AUTH_PROXY_RATE_LIMIT_TOKEN: 'off',
      AUTH_PROXY_RATE_LIMIT_AUTHORIZE: 'off',
      AUTH_PROXY_RATE_LIMIT_REGISTER: 'off',
      AUTH_PROXY_RATE_LIMIT_AUTHORIZE_PER_CLIENT: 'off',
      AUTH_PROXY_RATE_LIMIT_TOKEN_PER_CLIENT: 'off',
      AUTH_PROXY_RATE_LIMIT_PER_USER: 'off',
      RUST_LOG: 'info',
    },
  });
  mcp = await startMcpServer({
    port: mcpPort, proxy, nextcloud: { base: ncChaos.base }, clientSecret: exchangeSecret, resource,
    // Exchange answers are reused for the whole test here (the revalidation path during an
    // outage has a test of its own, below).
    env: { MCP_SERVER_NEXTCLOUD_TIMEOUT_SECS: String(NEXTCLOUD_TIMEOUT_S), MCP_SERVER_EXCHANGE_REVALIDATE_SECS: '300', RUST_LOG: 'info' },
  });
  exchangeSecretForTests = exchangeSecret;
});

after(async () => {
  await stopAll();
  await nextcloud?.stop().catch(() => {});
  await idpChaos?.close();
  await ncChaos?.close();
  if (redisDir) rmSync(redisDir, { recursive: true, force: true });
});
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

test('Redis killed mid-flow: clean 503s, recovery by itself, nothing lost with AOF (appendfsync always)', { timeout: 90000 }, async () => {
  const { client, tokens } = await signIn('alice');
  const mcpc = await mcpClient(tokens.access_token);
  const before = await mcpc.callTool({ name: 'notes_list', arguments: {} });
  assert.equal(before.isError, false, JSON.stringify(before.content));
  // A sign-in left at the IdP (its pending authorization is in Redis), resumed after the restart.
  const pending = await flowToCallback(client, 'alice');
  // A second one for the outage itself.
  const duringOutage = await flowToCallback(client, 'alice');

  // A client refreshing without pause the whole time: every answer is 200 or a clean 503.
  const loop = { token: tokens.refresh_token, statuses: {}, stop: false, lastOk: 0 };
  const refresher = (async () => {
    while (!loop.stop) {
      const r = await token(proxy, { grant_type: 'refresh_token', refresh_token: loop.token, client_id: client.client_id });
      loop.statuses[r.status] = (loop.statuses[r.status] ?? 0) + 1;
      assertClean(r.status, JSON.stringify(r.body), 'refresh during the outage');
      if (r.status === 200) { loop.token = r.body.refresh_token; loop.lastOk = Date.now(); }
      else {
        assert.equal(r.status, 503, JSON.stringify(r.body));
        assert.equal(r.body.error, 'temporarily_unavailable');
      }
      await sleep(20);
    }
  })();
  await sleep(300);

  redis.proc.kill('SIGKILL');
  await new Promise((r) => (redis.proc.exitCode !== null || redis.proc.signalCode !== null ? r() : redis.proc.once('exit', r)));
  const killedAt = Date.now();
  await sleep(500);

  // While Redis is down.
  const outage = {};
  const checks = {
    token: async () => {
      const r = await token(proxy, { grant_type: 'refresh_token', refresh_token: loop.token, client_id: client.client_id });
      assert.equal(r.status, 503);
      assert.equal(r.body.error, 'temporarily_unavailable');
      assert.equal(r.headers.get('cache-control'), 'no-store');
      assertClean(r.status, JSON.stringify(r.body), '/token');
    },
    register: async () => {
      const r = await fetchText(`${proxy.base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none' }) });
      assert.equal(r.status, 503, r.text);
      assert.equal(JSON.parse(r.text).error, 'temporarily_unavailable');
      assertClean(r.status, r.text, '/register');
    },
    authorize: async () => {
      const u = new URL(`${proxy.base}/authorize`);
      for (const [k, v] of Object.entries({ response_type: 'code', client_id: client.client_id, redirect_uri: REDIRECT, state: 's', code_challenge: 'x'.repeat(43), code_challenge_method: 'S256', scope: 'notes:read' })) u.searchParams.set(k, v);
      const r = await fetchText(u, { redirect: 'manual' });
      assert.equal(r.status, 503, r.text.slice(0, 300));
      assert.match(r.headers.get('content-type'), /text\/html/);
      assertClean(r.status, r.text, '/authorize');
    },
    callback: async () => {
      const res = await duringOutage.browser.fetch(duringOutage.callback);
      const text = await res.text();
      assert.equal(res.status, 503, text.slice(0, 300));
      assertClean(res.status, text, '/callback');
    },
    readyz: async () => {
      const r = await fetchText(`${proxy.base}/readyz`);
      assert.equal(r.status, 503);
      assert.equal(JSON.parse(r.text).store, 'unavailable');
    },
    healthz: async () => assert.equal((await fetchText(`${proxy.base}/healthz`)).status, 200),
    metadata: async () => assert.equal((await fetchText(`${proxy.base}/.well-known/oauth-authorization-server`)).status, 200),
    'mcp tools/list': async () => assert.ok((await mcpc.listTools()).tools.length > 0),
    'mcp tools/call': async () => {
      // From mcp-server's exchange cache, or a clean tool error: never a protocol failure.
      const r = await mcpc.callTool({ name: 'notes_list', arguments: {} });
      assertClean(200, JSON.stringify(r.content), 'tools/call');
    },
  };
  for (const [name, check] of Object.entries(checks)) {
    const { ms } = await timed(check);
    outage[name] = Math.round(ms);
    // The store's operation deadline is 2 s; a dead Redis refuses connections at once.
    assert.ok(ms < 5000, `${name} took ${ms} ms with Redis down`);
  }

  // Redis back on the same port and data directory; the proxy must notice by itself.
  redis.proc = await startPersistentRedis(redis.port, redisDir);
  const restartedAt = Date.now();
  await waitFor('auth-proxy ready again', async () => (await fetch(`${proxy.base}/readyz`)).status === 200, { timeoutMs: 15000 });
  const readyAfterMs = Date.now() - restartedAt;
  await waitFor('a refresh succeeds again', async () => loop.lastOk > restartedAt, { timeoutMs: 15000 });
  const refreshAfterMs = loop.lastOk - restartedAt;
  loop.stop = true;
  await refresher;

  // Nothing lost: the refresh token the client holds (written before or across the kill) works,
  assert.ok(loop.statuses[503] > 0, `the outage was seen: ${JSON.stringify(loop.statuses)}`);
  const r = await token(proxy, { grant_type: 'refresh_token', refresh_token: loop.token, client_id: client.client_id });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  // its access token reaches Nextcloud,
  const after = await mcpClient(r.body.access_token);
  const called = await after.callTool({ name: 'notes_list', arguments: {} });
  assert.equal(called.isError, false, JSON.stringify(called.content));
  // and the sign-in left at the IdP before the kill completes (pending authorization kept).
  const resumed = await completeAuthorization(pending.callback, REDIRECT, { browser: pending.browser });
  assert.ok(resumed.query.code, resumed.redirect);
  const redeemed = await token(proxy, { grant_type: 'authorization_code', code: resumed.query.code, redirect_uri: REDIRECT, client_id: client.client_id, code_verifier: pending.pkce.verifier, resource: proxy.resource });
  assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));

  assert.doesNotMatch(proxy.output(), /panicked/);
  assert.doesNotMatch(mcp.output(), /panicked/);
  console.log(`chaos-figures redis ${JSON.stringify({ outageAnswerMs: outage, downMs: restartedAt - killedAt, readyAfterRestartMs: readyAfterMs, firstRefreshAfterRestartMs: refreshAfterMs, refreshStatuses: loop.statuses })}`);
  await mcpc.close();
  await after.close();
});

test('IdP slow, hanging, refusing: callbacks bounded by the upstream timeout, no starvation, recovery', { timeout: 120000 }, async () => {
  const { client, tokens } = await signIn('bob');
  const mcpc = await mcpClient(tokens.access_token);
  const N = 12;
  const flows = [];
  for (let i = 0; i < N + 1; i += 1) flows.push(await flowToCallback(client, 'bob'));
  const refuseFlow = flows.pop();

  // Slow but within the timeout: a whole sign-in still completes.
  idpChaos.set('delay', { ms: 1000 });
  idpChaos.dropAll(); // pooled keep-alive connections would skip the delay
  const slow = await timed(() => signIn('bob'));
  idpChaos.set('pass');

  // Hanging: every upstream call of the callbacks waits for the timeout; meanwhile the probes.
  idpChaos.set('hang');
  const callbacks = flows.map((f) => timed(async () => {
    const res = await f.browser.fetch(f.callback);
    return { status: res.status, location: res.headers.get('location'), text: await res.text() };
  }));
  const hangEnds = Promise.all([Promise.all(callbacks), sleep(HANG_MS)]);
  const probes = await probeWhile(hangEnds, { refresh: { token: tokens.refresh_token, clientId: client.client_id }, client: mcpc });
  const results = await Promise.all(callbacks);
  idpChaos.set('refuse');
  const refused = await timed(async () => {
    const res = await refuseFlow.browser.fetch(refuseFlow.callback);
    return { status: res.status, location: res.headers.get('location'), text: await res.text() };
  });
  idpChaos.set('pass');

  const callbackMs = results.map((r) => Math.round(r.ms));
  for (const { value } of results) assertUpstreamErrorRedirect(value, 'callback (IdP hanging)');
  // Bounded by the upstream timeout (one token request; discovery is cached), plus slack.
  assert.ok(Math.max(...callbackMs) <= UPSTREAM_TIMEOUT_S * 1000 + 3000, `callbacks took ${callbackMs} ms (upstream timeout ${UPSTREAM_TIMEOUT_S} s)`);
  assertNoStarvation(probes, 'IdP hanging');
  assertUpstreamErrorRedirect(refused.value, 'callback (IdP refusing)');
  assert.ok(refused.ms < 3000, `a refused IdP connection is answered at once, not after ${refused.ms} ms`);

  // Back: a whole sign-in works without restarting anything.
  const again = await signIn('bob');
  assert.ok(again.tokens.access_token);
  assert.doesNotMatch(proxy.output(), /panicked/);
  console.log(`chaos-figures idp ${JSON.stringify({ slowSignInMs: Math.round(slow.ms), hungCallbacks: N, callbackMs, refusedCallbackMs: Math.round(refused.ms), refusedStatus: refused.value.status, hungAnswer: `${results[0].value.status} ${results[0].value.location?.replace(/state=[^&]*/, 'state=…')}`, probes: summarize(probes.latencies) })}`);
  await mcpc.close();
});

test('Nextcloud hanging and refusing: tool calls bounded by MCP_SERVER_NEXTCLOUD_TIMEOUT_SECS, no starvation, recovery', { timeout: 120000 }, async () => {
  const { client, tokens } = await signIn('carol');
  const mcpc = await mcpClient(tokens.access_token);
  const warm = await mcpc.callTool({ name: 'notes_list', arguments: {} });
  assert.equal(warm.isError, false, JSON.stringify(warm.content));
  const otherClient = await register(proxy, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: 'chaos nextcloud' });
  const connectFlow = await flowToCallback(otherClient, 'carol');

  ncChaos.set('hang');
  const calls = [];
  // The callback sends the browser to the connect page, which starts a Login Flow at Nextcloud.
  const callbackDuringHang = timed(async () => {
    const step = await connectFlow.browser.follow(connectFlow.callback, (u) => u.startsWith(REDIRECT));
    assert.ok(step.res, `the callback went to ${step.stoppedAt}`);
    return { status: step.res.status, url: step.url, text: await step.res.text() };
  });
  const launcher = (async () => {
    const end = Date.now() + HANG_MS;
    while (Date.now() < end) {
      calls.push(timed(async () => {
        try {
          return await mcpc.callTool({ name: 'notes_list', arguments: {} }, undefined, { timeout: 60000 });
        } catch (e) {
          return { protocolError: e.message };
        }
      }));
      await sleep(500);
    }
  })();
  const probes = await probeWhile(Promise.all([launcher, sleep(HANG_MS)]), { refresh: { token: tokens.refresh_token, clientId: client.client_id }, client: mcpc });
  const results = await Promise.all(calls);
  const callback = await callbackDuringHang;
  ncChaos.set('refuse');
  const refused = await timed(() => mcpc.callTool({ name: 'notes_list', arguments: {} }));
  ncChaos.set('pass');

  const callMs = results.map((r) => Math.round(r.ms));
  for (const { value } of results) {
    assert.equal(value.protocolError, undefined, `a tool call failed at the protocol level: ${value.protocolError}`);
    assert.equal(value.isError, true, 'a tool call with Nextcloud hanging is a tool error');
    assertClean(200, JSON.stringify(value.content), 'tool error (Nextcloud hanging)');
  }
  assert.ok(Math.max(...callMs) <= NEXTCLOUD_TIMEOUT_S * 1000 + 2000, `tool calls took ${callMs} ms (Nextcloud timeout ${NEXTCLOUD_TIMEOUT_S} s)`);
  assertNoStarvation(probes, 'Nextcloud hanging');
  // The auth-proxy's own Nextcloud calls (Login Flow start at the callback) are bounded too.
  assert.ok(new URL(callback.value.url).pathname.endsWith('/nextcloud/connect'), callback.value.url);
  assert.equal(callback.value.status, 503, callback.value.text.slice(0, 300));
  assertClean(callback.value.status, callback.value.text, 'connect page (Nextcloud hanging)');
  assert.ok(callback.ms <= 10000 + 3000, `the connect page took ${callback.ms} ms with Nextcloud hanging`);
  assert.equal(refused.value.isError, true);
  assertClean(200, JSON.stringify(refused.value.content), 'tool error (Nextcloud refusing)');
  assert.ok(refused.ms < 3000, `a refused Nextcloud connection is answered at once, not after ${refused.ms} ms`);

  // Back: tool calls work again with nothing restarted.
  const back = await mcpc.callTool({ name: 'notes_list', arguments: {} });
  assert.equal(back.isError, false, JSON.stringify(back.content));
  assert.doesNotMatch(mcp.output(), /panicked/);
  assert.doesNotMatch(proxy.output(), /panicked/);
  console.log(`chaos-figures nextcloud ${JSON.stringify({ hungToolCalls: results.length, toolCallMs: callMs, toolError: results[0].value.content?.[0]?.text?.slice(0, 160), callbackDuringHang: { ms: Math.round(callback.ms), status: callback.value.status }, refusedToolCallMs: Math.round(refused.ms), probes: summarize(probes.latencies) })}`);
  await mcpc.close();
});

// Found by this file (issue 12 chaos): with Nextcloud hanging, a tool call that fell due for
// exchange revalidation (MCP_SERVER_EXCHANGE_REVALIDATE_SECS) paid the auth-proxy's Nextcloud
// check twice before its own Nextcloud request (25 s measured): the exchange answer was dated
// when it was asked, so a slow one came back already due. Fixed in mcp-server/src/exchange.rs
// (answers are dated when they arrive) and the auth-proxy's exchange-time check (2 s bound).
test('Nextcloud hanging: a tool call that revalidates its exchange waits for at most one exchange', {
  timeout: 90000,
}, async () => {
  const revalidate = 2;
  const server = await startMcpServer({
    proxy, nextcloud: { base: ncChaos.base }, clientSecret: exchangeSecretForTests, resource: mcp.resource,
    env: { MCP_SERVER_NEXTCLOUD_TIMEOUT_SECS: String(NEXTCLOUD_TIMEOUT_S), MCP_SERVER_EXCHANGE_REVALIDATE_SECS: String(revalidate), RUST_LOG: 'info' },
  });
  try {
    const { tokens } = await signIn('carol');
    const mcpc = await mcpClient(tokens.access_token, server);
    const warm = await mcpc.callTool({ name: 'notes_list', arguments: {} });
    assert.equal(warm.isError, false, JSON.stringify(warm.content));
    ncChaos.set('hang');
    await sleep((revalidate + 0.5) * 1000);
    const call = await timed(() => mcpc.callTool({ name: 'notes_list', arguments: {} }, undefined, { timeout: 60000 }));
    ncChaos.set('pass');
    console.log(`chaos-figures nextcloud-revalidate ${JSON.stringify({ toolCallMs: Math.round(call.ms), error: call.value.content?.[0]?.text })}`);
    assert.equal(call.value.isError, true);
    const bound = NEXTCLOUD_TIMEOUT_S * 1000 + PROXY_NEXTCLOUD_TIMEOUT_S * 1000 + 3000;
    assert.ok(call.ms <= bound, `the tool call took ${Math.round(call.ms)} ms (bound ${bound} ms: one exchange, then the Nextcloud timeout)`);
    await mcpc.close();
  } finally {
    ncChaos.set('pass');
    await server.stop();
  }
});

// The soak's short variant (the 10-minute one is `make soak`): tests/soak/soak.mjs in a process
// of its own, with a whole stack of its own, after this file's stack has been stopped.
test('soak, short variant: 60 s of mixed load, memory below the ceilings (tests/soak/soak.mjs)', { timeout: 240000 }, async () => {
  await stopAll();
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [path.join(repoRoot, 'tests', 'soak', 'soak.mjs'), '--duration', process.env.SOAK_SHORT_SECS ?? '60'], { cwd: path.join(repoRoot, 'tests'), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  const code = await new Promise((resolve) => child.on('exit', (c, sig) => resolve(c ?? sig)));
  const summary = out.split('\n').filter((l) => /^soak (passed|FAILED)/.test(l) || l.startsWith('  ')).join('\n');
  console.log(summary || out.slice(-3000));
  assert.equal(code, 0, `soak failed:\n${out.slice(-6000)}`);
});
