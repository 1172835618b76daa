// Single-user mode: no OAuth at all; mcp-server reaches Nextcloud with one app password (HTTP
// Basic), and every tool is offered. The official TypeScript SDK connects without credentials.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { startMcpServer, startNextcloud, dumpMcpLogsOnFailure, stopAll } from '../lib/harness.mjs';

const APP_PASSWORD = 'single-user-app-password-123';
let nextcloud; let server;
before(async () => {
  nextcloud = await startNextcloud({ basicUsers: { alice: APP_PASSWORD } });
  server = await startMcpServer({ nextcloud, singleUser: { user: 'alice', password: APP_PASSWORD } });
});
after(async () => { await server?.stop(); await nextcloud?.stop(); await stopAll(); });
afterEach(dumpMcpLogsOnFailure);

test('every tool, no token needed, Nextcloud reached with the app password', async () => {
  const prm = await (await fetch(`${server.base}/.well-known/oauth-protected-resource/mcp`)).json();
  assert.deepEqual(prm.authorization_servers, [], 'no authorization server in single-user mode');

  const client = new Client({ name: 'single-user', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(server.url)));
  const { tools } = await client.listTools();
  for (const prefix of ['notes_', 'files_', 'calendar_', 'contacts_']) {
    assert.ok(tools.some((t) => t.name.startsWith(prefix)), `${prefix}* listed`);
  }
  const who = JSON.parse((await client.callTool({ name: 'whoami', arguments: {} })).content[0].text);
  assert.equal(who.user.id, 'alice');
  assert.equal(who.client_id, null);

  const created = await client.callTool({ name: 'notes_create', arguments: { content: '# Offline\nlocal only' } });
  assert.equal(created.isError, false, created.content[0].text);
  assert.equal(JSON.parse(created.content[0].text).title, 'Offline', 'title from the first line');
  const requests = nextcloud.state.requests.filter((r) => r.path.includes('/apps/notes/'));
  assert.ok(requests.length > 0 && requests.every((r) => r.auth === 'basic' && r.user === 'alice'), JSON.stringify(requests));
  assert.ok(!server.output().includes(APP_PASSWORD), 'the app password is not logged');
  await client.close();
});

test('a wrong app password surfaces as a sign-in error, not a crash', async () => {
  const bad = await startMcpServer({ nextcloud, singleUser: { user: 'alice', password: 'wrong-password' } });
  try {
    const client = new Client({ name: 'single-user-bad', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(bad.url)));
    const result = await client.callTool({ name: 'notes_list', arguments: {} });
    assert.equal(result.isError, true);
    assert.match(result.content[0].text, /Nextcloud refused the configured app password/);
    await client.close();
  } finally {
    await bad.stop();
  }
});
