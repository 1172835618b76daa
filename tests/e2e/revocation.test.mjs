// Issue 12, L7 (ADR 0006): revoking an access token (its jti on the deny-list), a grant (its
// refresh token), or replaying a code (which revokes the grant) stops tool calls within the
// mcp-server's revalidation interval (MCP_SERVER_EXCHANGE_REVALIDATE_SECS, here 1 s), although
// the mcp-server validates tokens offline and caches the exchanged Nextcloud credential. For both
// Nextcloud credential strategies: app-password (the default) and bearer.
import { test, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startStack, register, runAuthorization, redeemCode, token, revoke, freePort,
  dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll,
} from '../lib/harness.mjs';

const REVALIDATE_SECS = 1;
/** A revocation must stop tool calls within the interval plus a second. */
const DEADLINE_MS = (REVALIDATE_SECS + 1) * 1000;

const stacks = new Map();
after(async () => { for (const s of stacks.values()) await s.stop(); await stopAll(); });
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** One stack per strategy, shared by its tests. */
async function stackFor(credentials) {
  if (!stacks.has(credentials)) {
    stacks.set(credentials, await startStack({
      credentials,
      mcpEnv: { MCP_SERVER_EXCHANGE_REVALIDATE_SECS: String(REVALIDATE_SECS) },
    }));
  }
  return stacks.get(credentials);
}

/** A new client signs alice in (through Login Flow v2 with app passwords): the token response. */
async function signIn(stack) {
  const client = await register(stack.proxy, { redirect_uris: [`http://127.0.0.1:${await freePort()}/callback`] });
  const run = await runAuthorization({ proxy: stack.proxy, client, scope: 'notes:read notes:write' });
  assert.ok(run.query?.code, `expected a code, got ${JSON.stringify(run.query ?? run.connect?.status ?? run.consent?.status)}`);
  const res = await redeemCode(stack.proxy, client, run);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return { client, run, tokens: res.body };
}

/** `notes_list` with `accessToken`: { ok, status, www, text }. */
async function notesList(stack, accessToken) {
  const res = await fetch(stack.mcpServers[0].url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      'mcp-protocol-version': '2025-06-18',
      authorization: `Bearer ${accessToken}`,
    },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_list', arguments: {} } }),
  });
  const text = await res.text();
  const www = res.headers.get('www-authenticate');
  if (res.status !== 200) return { ok: false, status: res.status, www, text };
  return { ok: JSON.parse(text).result?.isError === false, status: 200, www, text };
}

async function assertWorks(stack, accessToken) {
  const call = await notesList(stack, accessToken);
  assert.ok(call.ok, `notes_list failed: ${call.status} ${call.text}`);
}

/**
 * Calls `notes_list` until it fails, and asserts that this happens within DEADLINE_MS of
 * `revokedAt`, and that the failure tells the client to sign in again.
 */
async function assertStopsInTime(stack, accessToken, revokedAt) {
  for (;;) {
    const call = await notesList(stack, accessToken);
    const elapsed = Date.now() - revokedAt;
    if (!call.ok) {
      assert.ok(elapsed <= DEADLINE_MS, `the first refused call came ${elapsed} ms after the revocation`);
      if (call.status === 401) {
        // Found revoked by the exchange: the client is told to sign in again.
        assert.match(call.www ?? '', /error="invalid_token"/, call.www);
      } else {
        // Nextcloud no longer knew the credential (app password deleted with the grant) and the
        // exchange refused a new one: the tool says to sign in again.
        assert.equal(call.status, 200, call.text);
        assert.match(call.text, /Sign in again/, call.text);
      }
      return;
    }
    assert.ok(elapsed <= DEADLINE_MS, `tool calls still work ${elapsed} ms after the revocation`);
    await sleep(100);
  }
}

for (const credentials of ['app-password', 'bearer']) {
  test(`${credentials}: a revoked access token stops within the revalidation interval; its refreshed sibling goes on`, { timeout: 90000 }, async () => {
    const stack = await stackFor(credentials);
    const { client, tokens } = await signIn(stack);
    // Both calls work; the second one from the mcp-server's cache.
    await assertWorks(stack, tokens.access_token);
    await assertWorks(stack, tokens.access_token);
    const refreshed = await token(stack.proxy, { grant_type: 'refresh_token', refresh_token: tokens.refresh_token, client_id: client.client_id });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    const sibling = refreshed.body.access_token;
    await assertWorks(stack, sibling);

    const revokedAt = Date.now();
    const res = await revoke(stack.proxy, { token: tokens.access_token, token_type_hint: 'access_token', client_id: client.client_id });
    assert.equal(res.status, 200, res.text);
    await assertStopsInTime(stack, tokens.access_token, revokedAt);
    // Only that token: the grant and the token issued by the refresh still work.
    await assertWorks(stack, sibling);
  });

  test(`${credentials}: a revoked grant stops within the revalidation interval`, { timeout: 90000 }, async () => {
    const stack = await stackFor(credentials);
    const { client, tokens } = await signIn(stack);
    await assertWorks(stack, tokens.access_token);
    await assertWorks(stack, tokens.access_token);

    const revokedAt = Date.now();
    const res = await revoke(stack.proxy, { token: tokens.refresh_token, token_type_hint: 'refresh_token', client_id: client.client_id });
    assert.equal(res.status, 200, res.text);
    await assertStopsInTime(stack, tokens.access_token, revokedAt);
  });

  test(`${credentials}: a replayed code revokes its grant, and tool calls stop within the revalidation interval`, { timeout: 90000 }, async () => {
    const stack = await stackFor(credentials);
    const { client, run, tokens } = await signIn(stack);
    await assertWorks(stack, tokens.access_token);
    await assertWorks(stack, tokens.access_token);

    const replayedAt = Date.now();
    const replay = await redeemCode(stack.proxy, client, run);
    assert.equal(replay.status, 400, JSON.stringify(replay.body));
    assert.equal(replay.body.error, 'invalid_grant');
    await assertStopsInTime(stack, tokens.access_token, replayedAt);
  });
}
