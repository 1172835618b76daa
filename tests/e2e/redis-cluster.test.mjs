// auth-proxy on a 3-master Redis Cluster (with replicas): the whole OAuth flow (registration,
// authorization through the IdP, code redemption, refresh rotation, reuse detection, revocation)
// works with grants spread over the cluster's slots.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startIdp, startProxy, register, runAuthorization, token, revoke, freePort, stopAll, dumpLogsOnFailure,
} from '../lib/harness.mjs';
import { startRedisCluster, waitCalls } from '../lib/redis-topologies.mjs';

let proxy; let cluster; let clientRedirect;

before(async () => {
  cluster = await startRedisCluster();
  const port = await freePort();
  clientRedirect = `http://127.0.0.1:${await freePort()}/callback`;
  const idp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
  proxy = await startProxy({ idp, redis: { url: `${cluster.url}?wait_replicas=1` }, port });
});

after(async () => { await stopAll(); await cluster?.stop(); });
afterEach(dumpLogsOnFailure);

test('the full flow on Redis Cluster, for several grants (several slots)', async () => {
  const waitsBefore = await waitCalls(cluster.nodes.map((n) => n.port));
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  assert.ok(client.client_id, JSON.stringify(client));
  for (let i = 0; i < 3; i += 1) {
    const run = await runAuthorization({ proxy, client });
    assert.ok(run.query?.code, JSON.stringify(run.query));
    const issued = await token(proxy, { grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect, client_id: client.client_id, code_verifier: run.pkce.verifier });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const first = await token(proxy, { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token, client_id: client.client_id });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const second = await token(proxy, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: client.client_id });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    if (i === 2) {
      // A replayed code revokes its grant (the code-used marker and the grant share a slot).
      const replay = await token(proxy, { grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect, client_id: client.client_id, code_verifier: run.pkce.verifier });
      assert.equal(replay.status, 400);
      const gone = await token(proxy, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token, client_id: client.client_id });
      assert.equal(gone.status, 400, 'the replay revoked the whole grant');
      break;
    }

    const revoked = await revoke(proxy, { token: second.body.refresh_token, client_id: client.client_id });
    assert.equal(revoked.status, 200);
    const after = await token(proxy, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token, client_id: client.client_id });
    assert.equal(after.status, 400, 'a revoked grant refreshes no more');
  }
  // Durable writes were followed by WAIT on the grant's own master. (Whether a replica answered
  // within wait_timeout_ms depends on the machine's load, so it is not asserted here; the Rust
  // store test checks the replica has the write.)
  assert.ok(await waitCalls(cluster.nodes.map((n) => n.port)) > waitsBefore, 'WAIT was sent after durable writes');
});
