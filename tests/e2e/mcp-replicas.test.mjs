// Two mcp-server processes behind a round-robin balancer with no affinity: one MCP client's
// consecutive requests alternate between them, and every one succeeds (stateless server, JWKS
// validation on each replica, token exchange on each).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  startStack, startRoundRobin, completeAuthorization, dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll,
} from '../lib/harness.mjs';

const REDIRECT = 'http://127.0.0.1:17998/oauth/callback';

class MemoryProvider {
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() { return { client_name: 'replicas e2e', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }; }
  clientInformation() { return this.client; }
  saveClientInformation(c) { this.client = c; }
  tokens() { return this.saved; }
  saveTokens(t) { this.saved = t; }
  redirectToAuthorization(url) { this.url = url; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
}

let stack; let balancer;
before(async () => {
  stack = await startStack({ mcpReplicas: 2 });
  balancer = await startRoundRobin({ port: stack.mcpPort, targets: stack.mcpServers.map((s) => s.base) });
});
after(async () => { await balancer?.stop(); await stack?.stop(); await stopAll(); });
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

async function toolCalls(server) {
  const text = await (await fetch(`${server.metrics}/metrics`)).text();
  return text.split('\n')
    .filter((l) => l.startsWith('mcp_server_tool_calls_total{') && l.includes('outcome="ok"'))
    .reduce((n, l) => n + Number(l.split(' ').pop()), 0);
}

test('consecutive requests alternate between the replicas and all succeed', { timeout: 60000 }, async () => {
  const provider = new MemoryProvider();
  const url = new URL(`${balancer.base}/mcp`);
  const client = new Client({ name: 'replicas', version: '1.0.0' });
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await assert.rejects(client.connect(first), UnauthorizedError);
  const run = await completeAuthorization(provider.url, REDIRECT);
  await first.finishAuth(run.query.code);
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));

  const start = balancer.log.length;
  const created = await client.callTool({ name: 'notes_create', arguments: { content: 'replicated' } });
  assert.equal(created.isError, false, JSON.stringify(created));
  const { id } = JSON.parse(created.content[0].text);
  for (let i = 0; i < 3; i += 1) {
    const got = await client.callTool({ name: 'notes_get', arguments: { id } });
    assert.equal(got.isError, false, JSON.stringify(got));
    assert.equal(JSON.parse(got.content[0].text).content, 'replicated');
    const { tools } = await client.listTools();
    assert.ok(tools.some((t) => t.name === 'notes_get'));
  }
  // The SDK also tries GET /mcp for a server-to-client stream; a stateless server answers 405
  // (the spec's "no stream offered"), which the SDK accepts. The JSON-RPC traffic is the POSTs.
  const gets = balancer.log.slice(start).filter((e) => e.method === 'GET');
  assert.ok(gets.every((e) => e.status === 405), JSON.stringify(gets));
  const mcpRequests = balancer.log.slice(start).filter((e) => e.path.startsWith('/mcp') && e.method === 'POST');
  assert.ok(mcpRequests.length >= 7, `${mcpRequests.length} requests`);
  for (let i = 1; i < mcpRequests.length; i += 1) {
    assert.notEqual(mcpRequests[i].target, mcpRequests[i - 1].target, `request ${i} went to the same replica twice in a row`);
  }
  assert.ok(mcpRequests.every((e) => e.status === 200), JSON.stringify(mcpRequests));
  const [a, b] = await Promise.all(stack.mcpServers.map(toolCalls));
  // 4 tool calls in all, interleaved with tools/list: both replicas ran some.
  assert.ok(a >= 1 && b >= 1 && a + b === 4, `tool calls per replica: ${a}, ${b}`);
  await client.close();
});
