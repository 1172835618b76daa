// The whole authorization flow against the real parts: redis-server, the oidc-provider IdP and
// the auth-proxy binary, driven as a browser would (forms, cookies, redirects).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import {
  startRedis, startIdp, startProxy, register, runAuthorization, token, freePort, pkcePair,
  newSigningKeyPem, newEncryptionKey, Browserless,
} from '../lib/harness.mjs';

let redis; let idp; let proxy; let proxyPort; let clientRedirect;
const secretsSeen = new Set();

before(async () => {
  redis = await startRedis();
  proxyPort = await freePort();
  clientRedirect = `http://127.0.0.1:${await freePort()}/callback`;
  idp = await startIdp({ redirectUris: [`http://127.0.0.1:${proxyPort}/callback`] });
  proxy = await startProxy({ idp, redis, port: proxyPort });
});

after(async () => {
  await proxy?.stop();
  await idp?.stop();
  await redis?.stop();
});

async function authorizedCode(client, opts = {}) {
  const run = await runAuthorization({ proxy, clientId: client.client_id, redirectUri: clientRedirect, ...opts });
  assert.ok(run.query.code, `expected a code, got ${JSON.stringify(run.query)}`);
  secretsSeen.add(run.query.code).add(run.pkce.verifier);
  for (const jar of run.browser.jar.values()) for (const v of jar.values()) secretsSeen.add(v);
  return run;
}

function redeem(client, run, overrides = {}) {
  return token(proxy, {
    grant_type: 'authorization_code',
    code: run.query.code,
    redirect_uri: clientRedirect,
    client_id: client.client_id,
    code_verifier: run.pkce.verifier,
    resource: proxy.resource,
    ...overrides,
  });
}

test('register → authorize → consent → upstream login → callback → token → refresh → revoke', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const run = await authorizedCode(client);
  assert.equal(run.query.state, run.state);
  assert.equal(run.query.iss, proxy.issuer, 'RFC 9207 iss on the authorization response');
  assert.match(run.consentHtml, /E2E Client/);

  const issued = await redeem(client, run);
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  assert.equal(issued.headers.get('cache-control'), 'no-store');
  assert.equal(issued.body.token_type, 'Bearer');
  secretsSeen.add(issued.body.access_token).add(issued.body.refresh_token);

  const jwks = createLocalJWKSet(await (await fetch(`${proxy.base}/jwks.json`)).json());
  const header = decodeProtectedHeader(issued.body.access_token);
  assert.equal(header.typ, 'at+jwt');
  assert.equal(header.alg, 'ES256');
  const { payload } = await jwtVerify(issued.body.access_token, jwks, {
    issuer: proxy.issuer, audience: proxy.resource, typ: 'at+jwt', algorithms: ['ES256'],
  });
  assert.equal(payload.sub, 'alice', 'subject comes from the upstream ID token');
  assert.equal(payload.client_id, client.client_id);
  assert.equal(payload.scope, 'notes:read notes:write');
  assert.ok(payload.jti && payload.gid);

  const refreshed = await token(proxy, { grant_type: 'refresh_token', refresh_token: issued.body.refresh_token, client_id: client.client_id });
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  assert.notEqual(refreshed.body.refresh_token, issued.body.refresh_token, 'refresh tokens rotate');
  secretsSeen.add(refreshed.body.access_token).add(refreshed.body.refresh_token);
  await jwtVerify(refreshed.body.access_token, jwks, { issuer: proxy.issuer, audience: proxy.resource });

  const revoked = await fetch(`${proxy.base}/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token: refreshed.body.refresh_token, token_type_hint: 'refresh_token', client_id: client.client_id }),
  });
  assert.equal(revoked.status, 200);
  const after = await token(proxy, { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token, client_id: client.client_id });
  assert.equal(after.status, 400);
  assert.equal(after.body.error, 'invalid_grant');
});

test('a confidential client authenticates with client_secret_basic', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect], token_endpoint_auth_method: 'client_secret_basic' });
  secretsSeen.add(client.client_secret);
  const run = await authorizedCode(client);
  const form = { grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect, code_verifier: run.pkce.verifier };
  const bad = await token(proxy, form, { basic: [client.client_id, 'wrong'] });
  assert.equal(bad.status, 401);
  assert.equal(bad.body.error, 'invalid_client');
  assert.match(bad.headers.get('www-authenticate'), /^Basic/);
  const good = await token(proxy, form, { basic: [client.client_id, client.client_secret] });
  assert.equal(good.status, 200, JSON.stringify(good.body));
});

test('a replayed code fails and revokes what it issued', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const run = await authorizedCode(client);
  const first = await redeem(client, run);
  assert.equal(first.status, 200);
  const replay = await redeem(client, run);
  assert.equal(replay.status, 400);
  assert.equal(replay.body.error, 'invalid_grant');
  const refresh = await token(proxy, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: client.client_id });
  assert.equal(refresh.body.error, 'invalid_grant', 'the refresh token from the replayed code is revoked');
});

test('wrong verifier, redirect, client and resource each get the RFC error', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const other = await register(proxy, { redirect_uris: [clientRedirect] });
  const cases = [
    ['wrong verifier', { code_verifier: pkcePair().verifier }, 'invalid_grant'],
    ['wrong redirect_uri', { redirect_uri: `${clientRedirect}/other` }, 'invalid_grant'],
    ['wrong client', { client_id: other.client_id }, 'invalid_grant'],
    ['wrong resource', { resource: 'https://elsewhere.example/mcp' }, 'invalid_target'],
  ];
  for (const [name, overrides, expected] of cases) {
    const run = await authorizedCode(client);
    const res = await redeem(client, run, overrides);
    assert.equal(res.status, 400, name);
    assert.equal(res.body.error, expected, name);
  }
  // An unknown resource at /authorize goes back to the client as invalid_target.
  const run = await runAuthorization({ proxy, clientId: client.client_id, redirectUri: clientRedirect, resource: 'https://elsewhere.example/mcp' });
  assert.equal(run.query.error, 'invalid_target');
  assert.equal(run.query.state, run.state);
});

test('authorize: errors before client validation are pages; later ones redirect', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  for (const extra of [{ client_id: 'unknown-client' }, { redirect_uri: 'http://127.0.0.1:1/not-registered' }]) {
    const run = await runAuthorization({ proxy, clientId: client.client_id, redirectUri: clientRedirect, extra });
    assert.equal(run.consentStatus, 400, JSON.stringify(extra));
    assert.match(run.body, /<h1>/);
  }
  for (const [extra, desc] of [[{ state: null }, 'state'], [{ code_challenge: null }, 'code_challenge'], [{ code_challenge_method: 'plain' }, 'S256']]) {
    const run = await runAuthorization({ proxy, clientId: client.client_id, redirectUri: clientRedirect, extra });
    assert.equal(run.query.error, 'invalid_request', JSON.stringify(extra));
    assert.match(run.query.error_description, new RegExp(desc));
    assert.equal(run.query.iss, proxy.issuer);
  }
});

test('denying consent sends access_denied with the client state', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const run = await runAuthorization({ proxy, clientId: client.client_id, redirectUri: clientRedirect, decision: 'deny' });
  assert.equal(run.query.error, 'access_denied');
  assert.equal(run.query.state, run.state);
  assert.equal(run.query.code, undefined);
});

test('refresh token reuse after the grace window revokes the whole family', async () => {
  const port = await freePort();
  const strictIdp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
  const strict = await startProxy({ idp: strictIdp, redis, port, env: { AUTH_PROXY_REFRESH_GRACE_SECS: '0' } });
  try {
    const client = await register(strict, { redirect_uris: [clientRedirect] });
    const run = await runAuthorization({ proxy: strict, clientId: client.client_id, redirectUri: clientRedirect });
    const first = await token(strict, { grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect, client_id: client.client_id, code_verifier: run.pkce.verifier });
    const second = await token(strict, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: client.client_id });
    assert.equal(second.status, 200);
    // Grace 0 still allows retries within the same second; step past it.
    await new Promise((r) => setTimeout(r, 1100));
    const reuse = await token(strict, { grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: client.client_id });
    assert.equal(reuse.body.error, 'invalid_grant');
    const newest = await token(strict, { grant_type: 'refresh_token', refresh_token: second.body.refresh_token, client_id: client.client_id });
    assert.equal(newest.body.error, 'invalid_grant', 'the newest token of the family is revoked too');
  } finally {
    await strict.stop();
    await strictIdp.stop();
  }
});

test('two replicas share one Redis: authorize on A, callback and token on B; rate limit counts across both', async () => {
  const portA = await freePort();
  const portB = await freePort();
  const issuer = `http://127.0.0.1:${portA}`;
  const sharedIdp = await startIdp({ redirectUris: [`${issuer}/callback`] });
  const keys = { signing: newSigningKeyPem(), encryption: newEncryptionKey() };
  const prefix = `e2e-shared-${portA}`;
  const env = { AUTH_PROXY_REDIS_PREFIX: prefix, AUTH_PROXY_RATE_LIMIT_TOKEN: '4/60' };
  const a = await startProxy({ idp: sharedIdp, redis, port: portA, issuer, keys, env });
  const b = await startProxy({ idp: sharedIdp, redis, port: portB, issuer, keys, env });
  try {
    const client = await register(a, { redirect_uris: [clientRedirect] });
    // Everything after the consent page goes to B, as a load balancer might send it.
    const toB = (u) => (u.includes('/callback') && u.startsWith(issuer) ? u.replace(`:${portA}/`, `:${portB}/`) : u);
    const browser = new Browserless({ rewrite: toB });
    let callbackOnB = false;
    const origFetch = browser.fetch.bind(browser);
    browser.fetch = async (url, init) => {
      if (toB(url) !== url) callbackOnB = true;
      return origFetch(url, init);
    };
    const run = await runAuthorization({ proxy: a, clientId: client.client_id, redirectUri: clientRedirect, browser });
    assert.ok(callbackOnB, 'the callback was served by replica B');
    assert.ok(run.query.code, JSON.stringify(run.query));
    const issued = await token(b, { grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect, client_id: client.client_id, code_verifier: run.pkce.verifier });
    assert.equal(issued.status, 200, JSON.stringify(issued.body));
    // Same keys: B's token verifies against A's JWKS.
    const jwks = createLocalJWKSet(await (await fetch(`${a.base}/jwks.json`)).json());
    await jwtVerify(issued.body.access_token, jwks, { issuer, audience: a.resource });

    // 1 token request used above (on B); alternate A, B, A: the 5th overall is refused.
    const statuses = [];
    for (const replica of [a, b, a, b]) {
      const res = await fetch(`${replica.base}/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'grant_type=nope' });
      statuses.push([res.status, res.headers.get('retry-after')]);
    }
    assert.deepEqual(statuses.slice(0, 3).map(([s]) => s), [400, 400, 400]);
    assert.equal(statuses[3][0], 429);
    assert.ok(Number(statuses[3][1]) >= 1, 'Retry-After present');
  } finally {
    await a.stop();
    await b.stop();
    await sharedIdp.stop();
  }
});

test('no token, code, verifier, secret or cookie value ever reaches the logs', async () => {
  const logs = proxy.output();
  assert.ok(logs.length > 1000, 'the proxy logged (debug level)');
  assert.ok(secretsSeen.size > 10);
  for (const secret of secretsSeen) {
    if (!secret || secret.length < 16) continue;
    assert.ok(!logs.includes(secret), `a secret value appeared in the logs: ${secret.slice(0, 8)}…`);
  }
});
