// Operations: metrics move with real traffic, SIGTERM drains an in-flight request, and the
// auth-proxy survives a Redis outage with clean 503s, then recovers.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  startStack, startRedis, startIdp, startProxy, startMcpServer, completeAuthorization, register,
  runAuthorization, freePort, waitFor, dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll,
} from '../lib/harness.mjs';

after(async () => { await stopAll(); });
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

/** The value of one Prometheus sample (0 when absent). */
async function sample(metricsBase, name, labels = {}) {
  const text = await (await fetch(`${metricsBase}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (wanted.every((w) => line.includes(w))) total += Number(line.split(' ').pop());
  }
  return total;
}

const REDIRECT = 'http://127.0.0.1:17996/cb';
class Provider {
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() { return { client_name: 'ops', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }; }
  clientInformation() { return this.c; } saveClientInformation(c) { this.c = c; }
  tokens() { return this.t; } saveTokens(t) { this.t = t; }
  redirectToAuthorization(u) { this.u = u; } saveCodeVerifier(v) { this.v = v; } codeVerifier() { return this.v; }
}

test('a full flow and a tool call move the expected series in both services', async () => {
  const stack = await startStack();
  try {
    const proxyMetrics = stack.proxy.metrics;
    const mcpMetrics = stack.mcpServers[0].metrics;
    const before = {
      issued: await sample(proxyMetrics, 'auth_proxy_tokens_issued_total', { grant_type: 'authorization_code' }),
      exchanged: await sample(proxyMetrics, 'auth_proxy_tokens_issued_total', { grant_type: 'token_exchange' }),
      consent: await sample(proxyMetrics, 'auth_proxy_consent_decisions_total', { decision: 'approved' }),
      registered: await sample(proxyMetrics, 'auth_proxy_clients_registered_total'),
      tools: await sample(mcpMetrics, 'mcp_server_tool_calls_total', { tool: 'whoami', outcome: 'ok' }),
      authFailures: await sample(mcpMetrics, 'mcp_server_auth_failures_total', { reason: 'missing' }),
      jwks: await sample(mcpMetrics, 'mcp_server_jwks_refreshes_total', { outcome: 'ok' }),
      nextcloud: await sample(mcpMetrics, 'mcp_server_nextcloud_requests_total', { api: 'ocs', status: '2xx' }),
    };
    assert.ok(before.jwks >= 1, 'the JWKS was loaded at start-up');

    const provider = new Provider();
    const url = new URL(stack.mcpServers[0].url);
    const client = new Client({ name: 'ops', version: '1' });
    const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await assert.rejects(client.connect(first), UnauthorizedError);
    const run = await completeAuthorization(provider.u, REDIRECT);
    await first.finishAuth(run.query.code);
    await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
    const who = await client.callTool({ name: 'whoami', arguments: {} });
    assert.equal(who.isError, false);
    await client.close();

    assert.equal(await sample(proxyMetrics, 'auth_proxy_tokens_issued_total', { grant_type: 'authorization_code' }), before.issued + 1);
    assert.equal(await sample(proxyMetrics, 'auth_proxy_tokens_issued_total', { grant_type: 'token_exchange' }), before.exchanged + 1);
    assert.equal(await sample(proxyMetrics, 'auth_proxy_consent_decisions_total', { decision: 'approved' }), before.consent + 1);
    assert.equal(await sample(proxyMetrics, 'auth_proxy_clients_registered_total'), before.registered + 1);
    assert.equal(await sample(mcpMetrics, 'mcp_server_tool_calls_total', { tool: 'whoami', outcome: 'ok' }), before.tools + 1);
    assert.ok(await sample(mcpMetrics, 'mcp_server_auth_failures_total', { reason: 'missing' }) > before.authFailures, 'the first, token-less request was counted');
    assert.ok(await sample(mcpMetrics, 'mcp_server_nextcloud_requests_total', { api: 'ocs', status: '2xx' }) > before.nextcloud);
    assert.ok(await sample(proxyMetrics, 'auth_proxy_http_requests_total', { route: '/token', method: 'POST', status: '200' }) >= 2);
    // Redis latency per operation, from the real Redis behind this stack.
    assert.ok(await sample(proxyMetrics, 'auth_proxy_store_operation_duration_seconds_count', { operation: 'take_code', outcome: 'ok' }) >= 1);
    assert.ok(await sample(proxyMetrics, 'auth_proxy_upstream_requests_total', { operation: 'discovery', outcome: 'ok' }) >= 1);
    // Bounded labels: no client or user ids anywhere in the exposition.
    for (const base of [proxyMetrics, mcpMetrics]) {
      const text = await (await fetch(`${base}/metrics`)).text();
      assert.ok(!text.includes(provider.c.client_id), 'no client id in metrics');
      assert.ok(!text.includes('alice'), 'no user id in metrics');
    }
  } finally {
    await stack.stop();
  }
});

test('SIGTERM during an in-flight tool call: the call completes, then the server exits', async () => {
  // A Nextcloud that takes its time answering the user lookup.
  let release;
  const slow = createServer((req, res) => {
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ocs: { meta: { status: 'ok', statuscode: 200 }, data: { id: 'alice', 'display-name': 'Alice' } } }));
    };
    release = answer;
  });
  await new Promise((r) => slow.listen(0, '127.0.0.1', r));
  const nextcloud = { base: `http://127.0.0.1:${slow.address().port}` };
  const server = await startMcpServer({ nextcloud, singleUser: { user: 'alice', password: 'pw' }, env: { MCP_SERVER_SHUTDOWN_TIMEOUT_SECS: '10' } });
  try {
    const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'tools/call', params: { name: 'whoami', arguments: {} } });
    const inflight = fetch(server.url, {
      method: 'POST', body,
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
    });
    await waitFor('the request to reach Nextcloud', () => Boolean(release));
    const exited = new Promise((r) => server.proc.once('exit', (code, signal) => r({ code, signal })));
    server.proc.kill('SIGTERM');
    await waitFor('graceful shutdown to start', () => /SIGTERM received/.test(server.output()));
    // New connections are refused while the old request drains.
    await assert.rejects(fetch(`${server.base}/healthz`));
    release();
    const res = await inflight;
    assert.equal(res.status, 200);
    const reply = await res.json();
    assert.equal(reply.id, 7);
    assert.equal(JSON.parse(reply.result.content[0].text).user.id, 'alice');
    const { code } = await exited;
    assert.equal(code, 0, 'clean exit after draining');
  } finally {
    slow.close();
    await server.stop();
  }
});

test('Redis outage: readiness fails, flow endpoints answer clean 503s, and both recover', async () => {
  const redis = await startRedis();
  const port = await freePort();
  const idp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
  const proxy = await startProxy({ idp, redis, port });
  const clientRedirect = `http://127.0.0.1:${await freePort()}/callback`;
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  assert.equal((await fetch(`${proxy.base}/readyz`)).status, 200);

  await redis.stop();
  await waitFor('readiness to fail', async () => (await fetch(`${proxy.base}/readyz`)).status === 503);
  const ready = await (await fetch(`${proxy.base}/readyz`)).json();
  assert.equal(ready.store, 'unavailable');

  const checks = [
    ['register', fetch(`${proxy.base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ redirect_uris: [clientRedirect] }) })],
    ['authorize', fetch(`${proxy.base}/authorize?${new URLSearchParams({ client_id: client.client_id, redirect_uri: clientRedirect, response_type: 'code', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256' })}`, { redirect: 'manual' })],
    ['token', fetch(`${proxy.base}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'a.b', client_id: client.client_id }) })],
    ['revoke', fetch(`${proxy.base}/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: 'a.b', client_id: client.client_id }) })],
  ];
  for (const [name, pending] of checks) {
    const res = await pending;
    const text = await res.text();
    assert.equal(res.status, 503, `${name}: ${res.status} ${text.slice(0, 200)}`);
    assert.ok(!/panick|redis:\/\/|stack backtrace/i.test(text), `${name}: no internals in ${text.slice(0, 200)}`);
  }
  assert.ok(!/panicked/.test(proxy.output()), 'no panic in the proxy');

  // Redis comes back on the same address: readiness and the flow recover by themselves.
  const again = spawn(process.env.REDIS_SERVER_BIN ?? 'redis-server', ['--port', String(redis.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  try {
    await waitFor('readiness to recover', async () => (await fetch(`${proxy.base}/readyz`)).status === 200, { timeoutMs: 30000 });
    const fresh = await register(proxy, { redirect_uris: [clientRedirect] });
    const run = await runAuthorization({ proxy, client: fresh });
    assert.ok(run.query.code, 'a full authorization works again');
  } finally {
    again.kill('SIGTERM');
  }
});

test('mcp-server readiness follows the JWKS: stale when the auth-proxy is gone, ready again when it returns', async () => {
  const stack = await startStack({ mcpEnv: { MCP_SERVER_JWKS_MAX_STALENESS_SECS: '3' } });
  try {
    const mcp = stack.mcpServers[0];
    assert.equal((await fetch(`${mcp.base}/readyz`)).status, 200);
    const { proxy } = stack;
    await proxy.stop();
    await waitFor('mcp-server readiness to fail', async () => (await fetch(`${mcp.base}/readyz`)).status === 503, { timeoutMs: 15000 });
    assert.equal((await (await fetch(`${mcp.base}/readyz`)).json()).jwks, 'stale');
    // Liveness is unaffected: the process is fine, only its authorization server is missing.
    assert.equal((await fetch(`${mcp.base}/healthz`)).status, 200);

    const again = await startProxy({
      idp: stack.idp, redis: stack.redis, port: proxy.port, resource: stack.resource,
      keys: { signing: proxy.env.AUTH_PROXY_SIGNING_KEYS, encryption: proxy.env.AUTH_PROXY_ENCRYPTION_KEYS },
      env: { AUTH_PROXY_REDIS_PREFIX: proxy.env.AUTH_PROXY_REDIS_PREFIX, AUTH_PROXY_EXCHANGE_CLIENT_SECRET: stack.exchangeSecret },
    });
    try {
      await waitFor('mcp-server readiness to recover', async () => (await fetch(`${mcp.base}/readyz`)).status === 200, { timeoutMs: 15000 });
    } finally {
      await again.stop();
    }
  } finally {
    await stack.stop();
  }
});
