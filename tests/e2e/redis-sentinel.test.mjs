// auth-proxy on Redis Sentinel (1 master, 2 replicas, 3 sentinels), with the documented
// durability setting (`wait_replicas=1`: every grant, code and refresh rotation is on a replica
// before it is answered). First the whole OAuth flow with no failover; then the master is
// killed while requests keep coming: the proxy answers 503 (never another error) until the
// sentinels have promoted a replica, then serves again by itself, and the grant written before
// the kill still refreshes; last a planned failover.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import os from 'node:os';
import {
  startIdp, startProxy, register, runAuthorization, token, revoke, freePort, waitFor, stopAll, dumpLogsOnFailure,
} from '../lib/harness.mjs';
import { startRedisSentinel, redisCli, waitCalls } from '../lib/redis-topologies.mjs';

/** The store's connections the proxy's requests use: each actix worker thread (one per CPU)
 * opens its own, two of them here (wait_replicas: the durable writes have their own). */
const STORE_CONNECTIONS = 2 * os.availableParallelism();

let proxy; let sentinel; let clientRedirect;

before(async () => {
  sentinel = await startRedisSentinel();
  const port = await freePort();
  clientRedirect = `http://127.0.0.1:${await freePort()}/callback`;
  const idp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
  proxy = await startProxy({
    idp,
    redis: { url: sentinel.url('?wait_replicas=1&wait_timeout_ms=500') },
    port,
    env: { AUTH_PROXY_RATE_LIMIT_TOKEN: '100000/60', AUTH_PROXY_RATE_LIMIT_REGISTER: '100000/60', AUTH_PROXY_RATE_LIMIT_REGISTER_GLOBAL: '100000/60' },
  });
});

after(async () => { await stopAll(); await sentinel?.stop(); });
afterEach(dumpLogsOnFailure);

async function issue(client) {
  const run = await runAuthorization({ proxy, client });
  assert.ok(run.query?.code, JSON.stringify(run.query));
  const issued = await token(proxy, { grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect, client_id: client.client_id, code_verifier: run.pkce.verifier });
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  return issued.body;
}

test('the full flow on Redis Sentinel, no failover', async () => {
  const waitsBefore = await waitCalls([sentinel.master.port]);
  const master = await sentinel.currentMaster();
  assert.equal(master, sentinel.master.port, 'the sentinels name the master they were started with');
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  assert.ok(client.client_id, JSON.stringify(client));
  for (const ending of ['revoke', 'code replay']) {
    const run = await runAuthorization({ proxy, client });
    assert.ok(run.query?.code, JSON.stringify(run.query));
    const redeem = () => token(proxy, { grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect, client_id: client.client_id, code_verifier: run.pkce.verifier });
    const issued = await redeem();
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    const first = await token(proxy, { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token, client_id: client.client_id });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    const second = await token(proxy, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: client.client_id });
    assert.equal(second.status, 200, JSON.stringify(second.body));
    if (ending === 'revoke') {
      const revoked = await revoke(proxy, { token: second.body.refresh_token, client_id: client.client_id });
      assert.equal(revoked.status, 200);
      const after = await token(proxy, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token, client_id: client.client_id });
      assert.equal(after.status, 400, 'a revoked grant refreshes no more');
    } else {
      const replay = await redeem();
      assert.equal(replay.status, 400, JSON.stringify(replay.body));
      const gone = await token(proxy, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token, client_id: client.client_id });
      assert.equal(gone.status, 400, 'the replay revoked the whole grant');
    }
  }
  assert.equal(await sentinel.currentMaster(), master, 'no failover happened');
  // Durable writes were followed by WAIT on the master (whether the replica answered within
  // wait_timeout_ms depends on the machine's load, so it is not asserted here).
  assert.ok(await waitCalls([sentinel.master.port]) > waitsBefore, 'WAIT was sent after durable writes');
});

test('the master dies under load: 503s only during the failover, then service with no grant lost', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const kept = await issue(client);
  // Rotated once before the kill: the rotation (not just the first token) must survive too.
  const rotated = await token(proxy, { grant_type: 'refresh_token', refresh_token: kept.refresh_token, client_id: client.client_id });
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));

  // Load: registrations (writes) and refreshes of unknown tokens (reads), back to back.
  const statuses = [];
  let loading = true;
  const load = (async () => {
    let i = 0;
    while (loading) {
      i += 1;
      const reg = await fetch(`${proxy.base}/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: `load ${i}`, redirect_uris: [clientRedirect], grant_types: ['authorization_code', 'refresh_token'] }),
      });
      await reg.arrayBuffer();
      const bogus = await token(proxy, { grant_type: 'refresh_token', refresh_token: `AAAAAAAAAAAAAAAAAAAAAA.unknown${i}`, client_id: client.client_id });
      statuses.push({ at: Date.now(), register: reg.status, refresh: bogus.status });
    }
  })();
  await waitFor('some load before the kill', () => statuses.length >= 5);

  const oldMaster = sentinel.master.port;
  const killedAt = Date.now();
  sentinel.master.proc.kill('SIGKILL');
  await waitFor('the sentinels to promote a replica', async () => {
    const now = await sentinel.currentMaster();
    return now !== undefined && now !== oldMaster;
  }, { timeoutMs: 30000, intervalMs: 100 });
  // The proxy follows by itself: its load goes through again.
  await waitFor('the proxy to serve again', () => statuses.some((s) => s.at > killedAt && s.register === 201 && s.refresh === 400), { timeoutMs: 20000 });
  const recoveredAt = Date.now();
  await waitFor('more load after recovery', () => statuses.filter((s) => s.at > recoveredAt).length >= 8, { timeoutMs: 20000 });
  loading = false;
  await load;

  for (const s of statuses) {
    assert.ok([201, 503].includes(s.register), `registration answered ${s.register}`);
    assert.ok([400, 503].includes(s.refresh), `refresh of an unknown token answered ${s.refresh}`);
  }
  assert.ok(statuses.some((s) => s.at > killedAt && s.at < recoveredAt), 'load ran during the failover');
  const problems = () => proxy.output().split('\n').filter((l) => / (WARN|ERROR) /.test(l)).slice(-40).join('\n');
  // A command in flight when a connection drops is not sent again (it may have run: a rotation
  // must not run twice), so each of the store's connections may answer one more 503.
  const late = statuses.filter((x) => x.at > recoveredAt);
  const late503 = late.filter((x) => x.register === 503 || x.refresh === 503).length;
  assert.ok(late503 <= STORE_CONNECTIONS, `after the failover at most one 503 per store connection (${STORE_CONNECTIONS}), got ${late503} (killed ${killedAt}, recovered ${recoveredAt}):\n${problems()}`);
  for (const s of late.slice(-3)) {
    assert.deepEqual([s.register, s.refresh], [201, 400], `after the failover every request is served:\n${problems()}`);
  }

  // The grant written (and rotated) before the kill is still there on the new master.
  const after = await token(proxy, { grant_type: 'refresh_token', refresh_token: rotated.body.refresh_token, client_id: client.client_id });
  assert.equal(after.status, 200, JSON.stringify(after.body));
  // And new sign-ins work end to end.
  await issue(client);
});

test('a planned failover (SENTINEL FAILOVER): the demoted master answers READONLY, the proxy moves on', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const kept = await issue(client);
  const oldMaster = await sentinel.currentMaster();
  // A replica in sync is what a failover needs (after the first test, the one left had to be
  // re-pointed at the new master); the sentinels answer NOGOODSLAVE or INPROG until then.
  await waitFor('a replica in sync with the master', async () => /connected_slaves:1/.test(await redisCli(oldMaster, ['INFO', 'replication'])), { timeoutMs: 30000, intervalMs: 100 });
  await waitFor('the sentinels to start a failover', async () => (await redisCli(sentinel.sentinels[0].port, ['SENTINEL', 'FAILOVER', sentinel.masterName])).trim() === 'OK', { timeoutMs: 30000, intervalMs: 200 });
  await waitFor('the sentinels to switch masters', async () => {
    const now = await sentinel.currentMaster();
    return now !== undefined && now !== oldMaster;
  }, { timeoutMs: 30000, intervalMs: 100 });
  // The old master now refuses writes (READONLY): the proxy asks the sentinels again and sends
  // the refused write to the new master, so registrations go through.
  await waitFor('the old master to be demoted', async () => /role:slave/.test(await redisCli(oldMaster, ['INFO', 'replication'])), { timeoutMs: 30000, intervalMs: 100 });
  // The demoted master also drops its clients: the first command on each of the store's
  // connections may answer 503 (it may have run, so it is not sent again); nothing else.
  const connections = STORE_CONNECTIONS;
  let unavailable = 0;
  for (let i = 0; i < connections + 4; i += 1) {
    const reg = await fetch(`${proxy.base}/register`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ client_name: `after ${i}`, redirect_uris: [clientRedirect], grant_types: ['authorization_code', 'refresh_token'] }),
    });
    const body = await reg.text();
    if (reg.status === 503) unavailable += 1;
    else assert.equal(reg.status, 201, body);
  }
  assert.ok(unavailable <= connections, `${unavailable} registrations answered 503 (${connections} connections)`);
  const after = await token(proxy, { grant_type: 'refresh_token', refresh_token: kept.refresh_token, client_id: client.client_id });
  assert.equal(after.status, 200, JSON.stringify(after.body));
});
