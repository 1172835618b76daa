// The official MCP TypeScript SDK client against the whole stack (redis, oidc-provider IdP,
// auth-proxy, mcp-server, Nextcloud stand-in). The client does everything itself from a bare
// 401: protected-resource metadata, authorization-server metadata, dynamic registration, PKCE,
// the authorization request (a scripted person approves, unticking some permissions), the
// token request; then tools, scope refusals, and a refresh when its access token is refused.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  startStack, completeAuthorization, dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll,
} from '../lib/harness.mjs';

const REDIRECT = 'http://127.0.0.1:17999/oauth/callback';
const UNTICK = {
  'grant.files:read': null, 'grant.files:write': null,
  'grant.calendar:read': null, 'grant.calendar:write': null,
  'grant.contacts:read': null, 'grant.contacts:write': null,
  'grant.tasks:read': null, 'grant.tasks:write': null,
  'grant.sharing:read': null, 'grant.sharing:write': null,
  'grant.deck:read': null, 'grant.deck:write': null,
  'grant.talk:read': null, 'grant.talk:write': null,
};

/** An in-memory OAuthClientProvider, as a desktop client would implement it. */
class MemoryProvider {
  constructor() {
    this.client = undefined;
    this.saved = undefined;
    this.verifier = undefined;
    this.authorizationUrl = undefined;
    this.savedTokens = [];
  }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return {
      client_name: 'MCP TypeScript SDK e2e',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this.saved; }
  saveTokens(tokens) { this.saved = tokens; this.savedTokens.push(tokens); }
  redirectToAuthorization(url) { this.authorizationUrl = url; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
}

/** fetch that remembers every response status and challenge, for assertions. */
function recordingFetch(log) {
  return async (url, init) => {
    const res = await fetch(url, init);
    log.push({ url: String(url), method: init?.method ?? 'GET', status: res.status, www: res.headers.get('www-authenticate') });
    return res;
  };
}

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); await stopAll(); });
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

function textOf(result) {
  return result.content.map((c) => c.text).join('');
}

async function signedInClient() {
  const provider = new MemoryProvider();
  const log = [];
  const url = new URL(stack.mcpServers[0].url);
  const client = new Client({ name: 'e2e-ts', version: '1.0.0' });
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: recordingFetch(log) });
  await assert.rejects(client.connect(first), UnauthorizedError);
  assert.ok(provider.authorizationUrl, 'the SDK asked to open the authorization page');
  const run = await completeAuthorization(provider.authorizationUrl, REDIRECT, { fields: UNTICK });
  assert.ok(run.query.code, `authorization answered ${run.redirect}`);
  await first.finishAuth(run.query.code);
  const transport = new StreamableHTTPClientTransport(url, { authProvider: provider, fetch: recordingFetch(log) });
  await client.connect(transport);
  return { client, provider, log, run, transport };
}

test('the SDK discovers, registers, authorizes and lists only the granted tools', async () => {
  const { client, provider, log, run } = await signedInClient();
  // It started from a bare 401 and found everything from there.
  assert.equal(log[0].status, 401);
  assert.match(log[0].www, /resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
  assert.ok(log.some((l) => l.url.endsWith('/.well-known/oauth-protected-resource/mcp') && l.status === 200), 'PRM fetched');
  assert.ok(log.some((l) => l.url === `${stack.proxy.base}/.well-known/oauth-authorization-server` && l.status === 200), 'AS metadata fetched');
  assert.ok(log.some((l) => l.url === `${stack.proxy.base}/register` && l.status === 201), 'registered dynamically');
  assert.ok(log.some((l) => l.url === `${stack.proxy.base}/token` && l.status === 200), 'code redeemed');
  const authUrl = new URL(provider.authorizationUrl);
  assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
  assert.equal(authUrl.searchParams.get('resource'), stack.resource);
  assert.ok(run.trace.some((t) => t.url.startsWith(stack.idp.issuer)), 'the person signed in at the IdP');
  assert.equal(provider.tokens().scope, 'notes:read notes:write');

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  assert.ok(names.includes('whoami'));
  for (const n of ['notes_list', 'notes_search', 'notes_get', 'notes_create', 'notes_update', 'notes_append', 'notes_delete']) {
    assert.ok(names.includes(n), `${n} listed`);
  }
  assert.ok(!names.some((n) => /^(files|calendar|contacts|tasks|sharing|deck|talk)_/.test(n)), `no ungranted tools: ${names}`);
  const create = tools.find((t) => t.name === 'notes_create');
  assert.equal(create.inputSchema.type, 'object');
  assert.ok(create.inputSchema.required.includes('content'));
  assert.ok(create.description.length > 20);

  const who = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
  assert.equal(who.user.id, 'alice');
  assert.deepEqual(who.scopes, ['notes:read', 'notes:write']);
  await client.close();
});

test('notes through the tools: create, search, a conflicting update, delete', async () => {
  const { client } = await signedInClient();
  const created = await client.callTool({ name: 'notes_create', arguments: { title: 'Shopping', content: 'milk\neggs', category: 'Home' } });
  assert.equal(created.isError, false, textOf(created));
  const note = JSON.parse(textOf(created));
  assert.equal(note.title, 'Shopping');
  assert.ok(note.id > 0 && note.etag);
  // It is really in "Nextcloud".
  assert.equal([...stack.nextcloud.state.notes('alice')].length >= 1, true);

  const found = JSON.parse(textOf(await client.callTool({ name: 'notes_search', arguments: { query: 'EGGS' } })));
  assert.equal(found.count, 1);
  assert.equal(found.notes[0].id, note.id);
  assert.match(found.notes[0].snippet, /eggs/);

  const updated = JSON.parse(textOf(await client.callTool({ name: 'notes_update', arguments: { id: note.id, etag: note.etag, content: 'milk\neggs\nbread' } })));
  assert.notEqual(updated.etag, note.etag);
  // The old ETag is stale now: a conflict, not an overwrite.
  const conflict = await client.callTool({ name: 'notes_update', arguments: { id: note.id, etag: note.etag, content: 'overwrite!' } });
  assert.equal(conflict.isError, true);
  assert.match(textOf(conflict), /conflict: note \d+ was changed since it was read/);
  const current = JSON.parse(textOf(await client.callTool({ name: 'notes_get', arguments: { id: note.id } })));
  assert.equal(current.content, 'milk\neggs\nbread');

  const appended = JSON.parse(textOf(await client.callTool({ name: 'notes_append', arguments: { id: note.id, text: 'butter' } })));
  assert.equal(appended.content, 'milk\neggs\nbread\nbutter');

  const deleted = await client.callTool({ name: 'notes_delete', arguments: { id: note.id } });
  assert.equal(deleted.isError, false);
  const gone = await client.callTool({ name: 'notes_get', arguments: { id: note.id } });
  assert.equal(gone.isError, true);
  assert.match(textOf(gone), /not found: there is no note with id/);

  const bad = await client.callTool({ name: 'notes_get', arguments: { id: 'seven' } });
  assert.equal(bad.isError, true);
  assert.match(textOf(bad), /invalid arguments/);

  // One token exchange per grant, then the cache: this session's many calls cost one exchange.
  const metrics = await (await fetch(`${stack.mcpServers[0].metrics}/metrics`)).text();
  const exchanges = (outcome) => Number(metrics.match(new RegExp(`^mcp_server_token_exchanges_total\\{outcome="${outcome}"\\} (\\d+)`, 'm'))?.[1] ?? 0);
  assert.ok(exchanges('cached') >= 8, `cached exchanges: ${exchanges('cached')}`);
  assert.ok(exchanges('ok') <= 3, `fresh exchanges (one per signed-in client so far): ${exchanges('ok')}`);
  await client.close();
});

test('a tool outside the granted scopes gets 403 insufficient_scope naming what it needs', async () => {
  const { client, log } = await signedInClient();
  // The SDK reacts to the 403 by trying to up-scope (here: a refresh, which cannot widen the
  // grant); the server answers 403 again and the call fails.
  await assert.rejects(client.callTool({ name: 'files_list', arguments: { path: '/' } }), /403/);
  const denied = log.filter((l) => l.status === 403);
  assert.ok(denied.length >= 1, `no 403 in ${JSON.stringify(log.map((l) => l.status))}`);
  for (const d of denied) {
    assert.match(d.www, /^Bearer error="insufficient_scope", scope="files:read", resource_metadata="http:\/\/127\.0\.0\.1:\d+\/\.well-known\/oauth-protected-resource\/mcp"/);
  }
  // Nothing reached Nextcloud's files.
  assert.ok(!stack.nextcloud.state.requests.some((r) => r.path.includes('/remote.php/dav/files/')), 'no WebDAV request was made');
  // Calls within the grant still work on the same session.
  const who = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
  assert.equal(who.user.id, 'alice');
  await client.close();
});

test('the SDK refreshes when its access token is refused, and the refresh token rotates', async () => {
  const { client, provider, log } = await signedInClient();
  const before = provider.tokens();
  assert.ok(before.refresh_token);
  // Simulate an expired access token: the server refuses it, the SDK refreshes and retries.
  provider.saved = { ...before, access_token: `${before.access_token.slice(0, -4)}AAAA` };
  const { tools } = await client.listTools();
  assert.ok(tools.length > 0);
  const after = provider.tokens();
  assert.notEqual(after.access_token, before.access_token);
  assert.notEqual(after.refresh_token, before.refresh_token, 'refresh token rotated');
  assert.ok(log.some((l) => l.url === `${stack.proxy.base}/token` && l.status === 200 && l.method === 'POST'));
  assert.ok(log.some((l) => l.status === 401 && /error="invalid_token"/.test(l.www ?? '')));
  // And the new token works for Nextcloud too (token exchange with the refreshed grant).
  const who = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
  assert.equal(who.user.id, 'alice');
  await client.close();
});

test('no passthrough: Nextcloud never sees the proxy token, and refuses it if sent', async () => {
  const { provider } = await signedInClient();
  const proxyToken = provider.tokens().access_token;
  // With the default app-password strategy mcp-server reaches Nextcloud with HTTP Basic (the
  // user's app password), never with a bearer token of any kind.
  assert.ok(stack.nextcloud.state.requests.some((r) => r.auth === 'basic' && r.user === 'alice'), 'mcp-server called Nextcloud with the app password');
  assert.equal(stack.nextcloud.state.bearerChecks, 0, 'mcp-server never sent Nextcloud a bearer token');
  // OCS checks a bearer token (user_oidc); the proxy's token is not one the IdP accepts.
  const res = await fetch(`${stack.nextcloud.base}/ocs/v2.php/cloud/user?format=json`, { headers: { authorization: `Bearer ${proxyToken}`, 'ocs-apirequest': 'true' } });
  assert.equal(res.status, 401);
  assert.equal(stack.nextcloud.state.rejectedBearer, 1, 'the proxy token is refused by Nextcloud');
  for (const s of stack.mcpServers) {
    assert.ok(!s.output().includes(proxyToken), 'the proxy token is not in mcp-server logs');
    // Nor any other bearer credential (the exchanged upstream token), even at debug level.
    assert.ok(!/Bearer [A-Za-z0-9._~+/=-]{16,}/.test(s.output()), 'no bearer credential in mcp-server logs');
  }
  assert.ok(!stack.proxy.output().includes(proxyToken), 'nor in auth-proxy logs');
});
