// The `bearer` Nextcloud credential strategy (AUTH_PROXY_NEXTCLOUD_CREDENTIALS=bearer) against
// the stand-in with the patched user_oidc (`stock: false`, Bearer accepted on #[CORS] app APIs):
// no connect page at sign-in, no app password, the mcp-server reaches Nextcloud with the
// user's upstream token. Also: the same strategy on a STOCK Nextcloud fails on Notes with
// Nextcloud's "CORS requires basic auth" (why app-password is the default).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  startStack, completeAuthorization, isConnectPage, dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll,
} from '../lib/harness.mjs';

const REDIRECT = 'http://127.0.0.1:17994/oauth/callback';

class MemoryProvider {
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() { return { client_name: 'bearer strategy e2e', redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' }; }
  clientInformation() { return this.client; }
  saveClientInformation(c) { this.client = c; }
  tokens() { return this.saved; }
  saveTokens(t) { this.saved = t; }
  redirectToAuthorization(url) { this.url = url; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
}

const stacks = [];
after(async () => { for (const s of stacks) await s.stop(); await stopAll(); });
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

const textOf = (result) => result.content.map((c) => c.text).join('');

async function signIn(stack) {
  const provider = new MemoryProvider();
  const url = new URL(stack.mcpServers[0].url);
  const client = new Client({ name: 'bearer-e2e', version: '1.0.0' });
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await assert.rejects(client.connect(first), UnauthorizedError);
  const run = await completeAuthorization(provider.url, REDIRECT);
  assert.ok(run.query.code, run.redirect);
  await first.finishAuth(run.query.code);
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return { client, run };
}

test('bearer + patched user_oidc: no connect page, notes tools work with the upstream Bearer token', { timeout: 60000 }, async () => {
  const stack = await startStack({ credentials: 'bearer' });
  stacks.push(stack);
  assert.equal(stack.proxy.env.AUTH_PROXY_NEXTCLOUD_CREDENTIALS, 'bearer');
  const { client, run } = await signIn(stack);
  assert.equal(run.connect, null);
  assert.ok(!run.trace.some((t) => isConnectPage(t.url)), 'no connect page with the bearer strategy');
  const created = await client.callTool({ name: 'notes_create', arguments: { title: 'Bearer note', content: 'patched user_oidc' } });
  assert.equal(created.isError, false, textOf(created));
  const listed = JSON.parse(textOf(await client.callTool({ name: 'notes_list', arguments: {} })));
  assert.ok(listed.notes.some((n) => n.title === 'Bearer note'));
  assert.equal(JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).user.id, 'alice');
  const nc = stack.nextcloud;
  assert.ok(nc.state.requests.some((r) => r.path.startsWith('/index.php/apps/notes/') && r.auth === 'bearer' && r.user === 'alice' && r.status === 200), 'Notes was reached with Bearer');
  assert.equal(nc.state.requests.filter((r) => r.auth === 'basic').length, 0, 'no Basic credential was used');
  assert.deepEqual(nc.state.appPasswords('alice'), [], 'no app password was made');
  assert.equal(nc.state.rejectedBearer, 0);
  await client.close();
});

test('bearer on a stock Nextcloud: Notes answers "CORS requires basic auth" (OCS still works)', { timeout: 60000 }, async () => {
  const stack = await startStack({ proxyEnv: { AUTH_PROXY_NEXTCLOUD_CREDENTIALS: 'bearer' } });
  stacks.push(stack);
  const { client } = await signIn(stack);
  assert.equal(JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} }))).user.id, 'alice');
  const refused = await client.callTool({ name: 'notes_list', arguments: {} });
  assert.equal(refused.isError, true, textOf(refused));
  assert.ok(stack.nextcloud.state.requests.some((r) => r.path.startsWith('/index.php/apps/notes/') && r.auth === 'bearer' && r.status === 401), JSON.stringify(stack.nextcloud.state.requests.filter((r) => r.path.includes('notes'))));
  await client.close();
});
