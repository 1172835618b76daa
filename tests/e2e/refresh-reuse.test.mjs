// Refresh token reuse detection with no grace window (AUTH_PROXY_REFRESH_GRACE_SECS=0): the
// moment a rotated refresh token is presented again, the whole family is revoked — the newest
// token of the family stops working too.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startIdp, startProxy, register, runAuthorization, token, freePort, stopAll, dumpLogsOnFailure } from '../lib/harness.mjs';

let proxy; let clientRedirect;

before(async () => {
  const redis = await startRedis();
  const port = await freePort();
  clientRedirect = `http://127.0.0.1:${await freePort()}/callback`;
  const idp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
  proxy = await startProxy({ idp, redis, port, env: { AUTH_PROXY_REFRESH_GRACE_SECS: '0' } });
});

after(async () => { await stopAll(); });
afterEach(dumpLogsOnFailure);

async function family() {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const run = await runAuthorization({ proxy, client });
  assert.ok(run.query?.code, JSON.stringify(run.query));
  const first = await token(proxy, { grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect, client_id: client.client_id, code_verifier: run.pkce.verifier });
  assert.equal(first.status, 200, JSON.stringify(first.body));
  const refresh = (rt) => token(proxy, { grant_type: 'refresh_token', refresh_token: rt, client_id: client.client_id });
  return { client, first, refresh };
}

test('reusing a rotated refresh token (grace 0) fails and revokes the family', async () => {
  const { first, refresh } = await family();
  const second = await refresh(first.body.refresh_token);
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.notEqual(second.body.refresh_token, first.body.refresh_token);

  // Immediately, as an attacker holding a stolen copy would: no grace, no waiting.
  const reuse = await refresh(first.body.refresh_token);
  assert.equal(reuse.status, 400, `reuse of the rotated token with grace 0: ${JSON.stringify(reuse.body)}`);
  assert.equal(reuse.body.error, 'invalid_grant');
  const newest = await refresh(second.body.refresh_token);
  assert.equal(newest.status, 400, `newest token after reuse: ${JSON.stringify(newest.body)}`);
  assert.equal(newest.body.error, 'invalid_grant', 'the newest token of the family is revoked too');
});

test('a refresh token of another client is refused and does not rotate', async () => {
  const { first, refresh } = await family();
  // Another name: identical public registrations are one client.
  const other = await register(proxy, { client_name: 'Other client', redirect_uris: [clientRedirect] });
  const stolen = await token(proxy, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: other.client_id });
  assert.equal(stolen.status, 400, JSON.stringify(stolen.body));
  assert.equal(stolen.body.error, 'invalid_grant');
  const owner = await refresh(first.body.refresh_token);
  assert.equal(owner.status, 200, `the owner can still refresh: ${JSON.stringify(owner.body)}`);
});
