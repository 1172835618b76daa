// Two auth-proxy processes sharing one Redis (same issuer, same keys), as two replicas behind a
// load balancer: the browser starts on replica A, the IdP's redirect to /callback and the token
// request land on replica B. A rate limit counts requests across both replicas.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  startRedis, startIdp, startProxy, register, runAuthorization, token, freePort, Browserless,
  newSigningKeyPem, newEncryptionKey, stopAll, dumpLogsOnFailure,
} from '../lib/harness.mjs';

let a; let b; let idp; let issuer; let portA; let portB; let clientRedirect;

before(async () => {
  const redis = await startRedis();
  portA = await freePort();
  portB = await freePort();
  issuer = `http://127.0.0.1:${portA}`;
  clientRedirect = `http://127.0.0.1:${await freePort()}/callback`;
  idp = await startIdp({ redirectUris: [`${issuer}/callback`] });
  const keys = { signing: newSigningKeyPem(), encryption: newEncryptionKey() };
  const env = { AUTH_PROXY_REDIS_PREFIX: `e2e-replicas-${portA}`, AUTH_PROXY_RATE_LIMIT_TOKEN: '4/60', AUTH_PROXY_RATE_LIMIT_REGISTER: '3/60', AUTH_PROXY_RATE_LIMIT_AUTHORIZE: '3/60', AUTH_PROXY_LOG_FORMAT: 'json' };
  [a, b] = await Promise.all([
    startProxy({ idp, redis, port: portA, issuer, keys, env }),
    startProxy({ idp, redis, port: portB, issuer, keys, env }),
  ]);
});

after(async () => { await stopAll(); });
afterEach(dumpLogsOnFailure);

test('authorize + consent on A, callback and token on B; rate limit reached across both', async () => {
  const client = await register(a, { redirect_uris: [clientRedirect] });
  // The browser (and its cookies) stays the same; only /callback is routed to B.
  const toB = (u) => (u.startsWith(`${issuer}/callback`) ? `http://127.0.0.1:${portB}${u.slice(issuer.length)}` : u);
  const browser = new Browserless({ rewrite: toB });
  const run = await runAuthorization({ proxy: a, client, browser });
  const callback = run.trace.find((t) => t.url.includes('/callback?'));
  assert.ok(callback.url.startsWith(`${b.base}/callback?`), `callback served by B: ${callback.url}`);
  assert.equal(callback.status, 302);
  const consent = run.trace.find((t) => t.method === 'POST');
  assert.ok(consent.url.startsWith(`${a.base}/consent`), 'consent served by A');
  assert.ok(run.query?.code, JSON.stringify(run.query));
  assert.equal(run.query.iss, issuer);
  assert.equal(run.query.state, run.state);

  // Token request #1 of the rate-limit window, on B.
  const issued = await token(b, { grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect, client_id: client.client_id, code_verifier: run.pkce.verifier });
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  // Same keys: B's token verifies against A's JWKS.
  await jwtVerify(issued.body.access_token, createRemoteJWKSet(new URL(`${a.base}/jwks.json`)), { issuer, audience: a.resource, typ: 'at+jwt' });

  // #2 A (refresh, also proves A sees B's grant), #3 B, #4 A are allowed; #5 on B is refused.
  const refreshed = await token(a, { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token, client_id: client.client_id });
  assert.equal(refreshed.status, 200, `refresh on A of a token issued by B: ${JSON.stringify(refreshed.body)}`);
  const bogus = (replica) => token(replica, { grant_type: 'refresh_token', refresh_token: 'not-a-token', client_id: client.client_id });
  const third = await bogus(b);
  const fourth = await bogus(a);
  assert.deepEqual([third.status, fourth.status], [400, 400], 'requests 3 and 4 are within the limit');
  const fifth = await bogus(b);
  assert.equal(fifth.status, 429, `5th token request (on B): ${JSON.stringify(fifth.body)}`);
  const retryAfter = fifth.headers.get('retry-after');
  assert.ok(retryAfter && Number(retryAfter) >= 1 && Number(retryAfter) <= 60, `Retry-After: ${retryAfter}`);
  const sixth = await bogus(a);
  assert.equal(sixth.status, 429, '6th token request (on A) is refused as well');
});

test('registration and authorization rate limits also count across replicas', async () => {
  // The test above used 1 registration and 1 authorization request (both on A); limits are 3/60.
  const registerOn = (replica) => fetch(`${replica.base}/register`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ client_name: 'rl', redirect_uris: [clientRedirect] }),
  });
  const registrations = [];
  let client;
  for (const replica of [b, a, b]) {
    const res = await registerOn(replica);
    const body = await res.json();
    client ??= body;
    registrations.push([res.status, res.headers.get('retry-after')]);
  }
  assert.deepEqual(registrations.map(([s]) => s), [201, 201, 429], 'registrations #2 B, #3 A allowed, #4 B refused');
  assert.ok(Number(registrations[2][1]) >= 1, `Retry-After on /register: ${registrations[2][1]}`);

  const url = (replica) => `${replica.base}/authorize?${new URLSearchParams({ response_type: 'code', client_id: client.client_id, redirect_uri: clientRedirect, state: 's', code_challenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM', code_challenge_method: 'S256', scope: 'notes:read' })}`;
  const authorizations = [];
  for (const replica of [b, a, b]) {
    const res = await fetch(url(replica), { redirect: 'manual' });
    await res.text();
    authorizations.push([res.status, res.headers.get('retry-after')]);
  }
  assert.deepEqual(authorizations.map(([s]) => s), [200, 200, 429], 'authorize #2 B, #3 A allowed, #4 B refused');
  assert.ok(Number(authorizations[2][1]) >= 1, `Retry-After on /authorize: ${authorizations[2][1]}`);
});

test('JSON logs of both replicas carry no token, code or cookie', () => {
  for (const [name, replica] of [['A', a], ['B', b]]) {
    const logs = replica.output();
    const lines = logs.split('\n').filter((l) => l.startsWith('{'));
    assert.ok(lines.length > 5, `replica ${name} logs JSON lines`);
    for (const l of lines) JSON.parse(l);
    assert.doesNotMatch(logs, /eyJ[A-Za-z0-9_-]{20,}\.eyJ/, `replica ${name}: no JWT in the logs`);
    assert.doesNotMatch(logs, /[?&](code|state)=/, `replica ${name}: no query strings with codes/state`);
    assert.doesNotMatch(logs, /mcp-auth-flow=/, `replica ${name}: no cookies`);
  }
});
