// Dynamic client registration across two auth-proxy replicas sharing one Redis (same issuer,
// same keys, as behind a load balancer): an identical public registration is one client,
// whichever replica answers and even when the requests race, and the global registration quota
// (AUTH_PROXY_RATE_LIMIT_REGISTER_GLOBAL) is one budget for both replicas.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import {
  startRedis, startIdp, startProxy, runAuthorization, token, freePort,
  newSigningKeyPem, newEncryptionKey, stopAll, dumpLogsOnFailure,
} from '../lib/harness.mjs';

const QUOTA = 4;
// Two pairs of replicas with their own key prefixes: racing registrations may each spend
// quota before one of them wins (see docs/architecture.md), so the quota is counted on a pair
// that sees no races.
let a; let b; let qa; let qb; let clientRedirect;

before(async () => {
  const redis = await startRedis();
  const [portA, portB, portQa, portQb] = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const issuer = `http://127.0.0.1:${portA}`;
  clientRedirect = `http://127.0.0.1:${await freePort()}/callback`;
  const idp = await startIdp({ redirectUris: [`${issuer}/callback`] });
  const keys = { signing: newSigningKeyPem(), encryption: newEncryptionKey() };
  // Per IP (every request comes from 127.0.0.1) generous, so only the global quota bites.
  const env = { AUTH_PROXY_REDIS_PREFIX: `e2e-registration-${portA}`, AUTH_PROXY_RATE_LIMIT_REGISTER: '100/60' };
  const quotaEnv = {
    AUTH_PROXY_REDIS_PREFIX: `e2e-registration-quota-${portQa}`,
    AUTH_PROXY_RATE_LIMIT_REGISTER: '100/60',
    AUTH_PROXY_RATE_LIMIT_REGISTER_GLOBAL: `${QUOTA}/3600`,
  };
  const quotaIssuer = `http://127.0.0.1:${portQa}`;
  [a, b, qa, qb] = await Promise.all([
    startProxy({ idp, redis, port: portA, issuer, keys, env }),
    startProxy({ idp, redis, port: portB, issuer, keys, env }),
    startProxy({ idp, redis, port: portQa, issuer: quotaIssuer, keys, env: quotaEnv }),
    startProxy({ idp, redis, port: portQb, issuer: quotaIssuer, keys, env: quotaEnv }),
  ]);
});

after(async () => { await stopAll(); });
afterEach(dumpLogsOnFailure);

async function registerOn(replica, metadata) {
  const res = await fetch(`${replica.base}/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(metadata),
  });
  return { status: res.status, headers: res.headers, body: await res.json() };
}

const desktop = (name) => ({
  client_name: name,
  redirect_uris: [clientRedirect],
  grant_types: ['authorization_code', 'refresh_token'],
  token_endpoint_auth_method: 'none',
});

test('an identical public registration is one client on either replica, even when racing', async () => {
  const first = await registerOn(a, desktop('Desktop app'));
  assert.equal(first.status, 201, JSON.stringify(first.body));
  const again = await registerOn(b, { ...desktop('Desktop app'), grant_types: ['refresh_token', 'authorization_code'] });
  assert.equal(again.status, 201, JSON.stringify(again.body));
  assert.equal(again.body.client_id, first.body.client_id, 'B answers with the client A registered');
  assert.equal(again.body.client_id_issued_at, first.body.client_id_issued_at);
  assert.equal(again.body.application_type, 'native');
  assert.equal(again.body.client_secret, undefined);

  // Eight identical registrations at once, spread over both replicas.
  const racing = await Promise.all(Array.from({ length: 8 }, (_, i) => registerOn(i % 2 ? b : a, desktop('Racing app'))));
  assert.deepEqual(racing.map((r) => r.status), Array(8).fill(201));
  const ids = new Set(racing.map((r) => r.body.client_id));
  assert.equal(ids.size, 1, `one client for all racers: ${[...ids]}`);
  assert.notEqual([...ids][0], first.body.client_id, 'other metadata, other client');

  // The deduplicated client works end to end on the other replica.
  const run = await runAuthorization({ proxy: b, client: again.body });
  assert.ok(run.query?.code, JSON.stringify(run.query ?? run.consent?.status));
  const issued = await token(a, { grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect, client_id: first.body.client_id, code_verifier: run.pkce.verifier });
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
});

test('the global registration quota is counted across both replicas', async () => {
  const news = [[qa, 'First app'], [qb, 'Second app'], [qa, 'Third app'], [qb, 'Fourth app']];
  for (const [replica, name] of news) {
    const res = await registerOn(replica, desktop(name));
    assert.equal(res.status, 201, `${name}: ${JSON.stringify(res.body)}`);
  }
  for (const [replica, name] of [[qb, 'Fifth app'], [qa, 'Sixth app']]) {
    const refused = await registerOn(replica, desktop(name));
    assert.equal(refused.status, 429, `${name}: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.error, 'temporarily_unavailable');
    const retryAfter = Number(refused.headers.get('retry-after'));
    assert.ok(retryAfter >= 1 && retryAfter <= 3600, `Retry-After: ${retryAfter}`);
  }
  // Confidential registrations are new clients too.
  const confidential = await registerOn(qa, { ...desktop('Server app'), token_endpoint_auth_method: 'client_secret_basic' });
  assert.equal(confidential.status, 429, JSON.stringify(confidential.body));
  // A repeat creates nothing, so the spent quota does not stop it, on either replica.
  for (const replica of [qa, qb]) {
    const repeat = await registerOn(replica, desktop('First app'));
    assert.equal(repeat.status, 201, JSON.stringify(repeat.body));
  }

  for (const replica of [qa, qb]) {
    const metrics = await (await fetch(`${replica.metrics}/metrics`)).text();
    assert.match(metrics, /auth_proxy_rate_limited_total\{endpoint="register_global"\} [1-9]/, 'each replica refused some');
  }
});
