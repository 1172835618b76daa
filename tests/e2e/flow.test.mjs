// The whole authorization flow against the real parts: redis-server, the oidc-provider IdP and
// the auth-proxy binary, driven as a browser would (forms, cookies, redirects by hand).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createRemoteJWKSet, createLocalJWKSet, jwtVerify, decodeProtectedHeader } from 'jose';
import {
  redeemCode,
  startRedis, startIdp, startProxy, register, runAuthorization, token, revoke, freePort, pkcePair,
  Browserless, parseForms, stopAll, dumpLogsOnFailure,
} from '../lib/harness.mjs';

let redis; let idp; let proxy; let clientRedirect;
/** Every secret value the flows below handled; none may appear in the proxy's logs. */
const secrets = new Map();

function remember(label, value) {
  if (typeof value !== 'string' || value.length < 8) return;
  secrets.set(value, label);
  // Opaque proxy tokens look like `<grant id>.<secret>`: the secret part alone must not leak either.
  const dot = value.lastIndexOf('.');
  if (dot > 0 && !value.startsWith('eyJ') && value.length - dot > 16) secrets.set(value.slice(dot + 1), `${label} (secret part)`);
}

function rememberRun(run) {
  remember('authorization code', run.query?.code);
  remember('code_verifier', run.pkce.verifier);
  for (const c of run.browser.jar.all()) remember(`cookie ${c.name}`, c.value);
  if (run.consent?.form) {
    remember('consent csrf', run.consent.form.hidden.csrf);
    remember('consent flow handle', run.consent.form.hidden.flow);
  }
}

function rememberTokens(body) {
  remember('access token', body.access_token);
  remember('refresh token', body.refresh_token);
}

before(async () => {
  redis = await startRedis();
  const proxyPort = await freePort();
  clientRedirect = `http://127.0.0.1:${await freePort()}/callback`;
  idp = await startIdp({ redirectUris: [`http://127.0.0.1:${proxyPort}/callback`] });
  remember('upstream client secret', idp.clientSecret);
  // Many registrations from one address: lift the registration rate limit for this suite.
  proxy = await startProxy({ idp, redis, port: proxyPort, env: { AUTH_PROXY_RATE_LIMIT_REGISTER: '1000/60' } });
  remember('signing key', proxy.env.AUTH_PROXY_SIGNING_KEYS.split('\n')[2]); // a line of pure key material
  remember('encryption key', proxy.env.AUTH_PROXY_ENCRYPTION_KEYS);
});

after(async () => { await stopAll(); });
afterEach(dumpLogsOnFailure);

/** A fresh approved authorization; asserts the client got a code. */
async function authorizedCode(client, opts = {}) {
  const run = await runAuthorization({ proxy, client, ...opts });
  rememberRun(run);
  assert.ok(run.query?.code, `expected a code, got ${JSON.stringify(run.query ?? run.consent?.status)}`);
  return run;
}

function redeem(client, run, overrides = {}) {
  return redeemCode(proxy, client, run, overrides);
}

function refresh(client, refreshToken, extra = {}) {
  return token(proxy, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: client.client_id, ...extra });
}

function assertOAuthError(res, status, error, what) {
  assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body.error, error, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(res.headers.get('cache-control'), 'no-store', `${what}: Cache-Control`);
}

test('metadata, JWKS, health and metrics endpoints', async () => {
  for (const wellKnown of ['oauth-authorization-server', 'openid-configuration']) {
    const res = await fetch(`${proxy.base}/.well-known/${wellKnown}`);
    assert.equal(res.status, 200, wellKnown);
    const md = await res.json();
    assert.equal(md.issuer, proxy.issuer);
    for (const [field, path] of [['authorization_endpoint', '/authorize'], ['token_endpoint', '/token'], ['registration_endpoint', '/register'], ['revocation_endpoint', '/revoke'], ['jwks_uri', '/jwks.json']]) {
      assert.equal(md[field], `${proxy.issuer}${path}`, `${wellKnown} ${field}`);
    }
    assert.deepEqual(md.response_types_supported, ['code']);
    assert.deepEqual(md.code_challenge_methods_supported, ['S256']);
    assert.equal(md.authorization_response_iss_parameter_supported, true);
    for (const g of ['authorization_code', 'refresh_token']) assert.ok(md.grant_types_supported.includes(g), g);
    for (const m of ['none', 'client_secret_basic', 'client_secret_post']) assert.ok(md.token_endpoint_auth_methods_supported.includes(m), m);
    for (const s of ['notes:read', 'notes:write', 'files:read']) assert.ok(md.scopes_supported.includes(s), s);
  }
  const jwks = await (await fetch(`${proxy.base}/jwks.json`)).json();
  assert.ok(jwks.keys.length >= 1);
  for (const k of jwks.keys) {
    assert.equal(k.kty, 'EC');
    assert.equal(k.crv, 'P-256');
    assert.ok(k.kid);
    assert.equal(k.d, undefined, 'no private key material in the JWKS');
  }
  assert.equal((await fetch(`${proxy.base}/healthz`)).status, 200);
  assert.equal((await fetch(`${proxy.base}/readyz`)).status, 200);
  const metrics = await fetch(`${proxy.metrics}/metrics`);
  assert.equal(metrics.status, 200);
  assert.match(await metrics.text(), /^# (HELP|TYPE) /m);
});

test('register → authorize → consent → upstream login → callback → token → refresh → revoke', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  assert.equal(client.token_endpoint_auth_method ?? 'none', 'none');
  assert.equal(client.client_secret, undefined, 'a public client gets no secret');
  const run = await authorizedCode(client);

  // The consent page: a form POST /consent with flow + csrf, approve/deny, a binding cookie.
  const { consent } = run;
  assert.equal(consent.status, 200);
  assert.match(consent.headers.get('content-type'), /^text\/html/);
  assert.match(consent.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
  assert.match(consent.html, /E2E Client/);
  assert.equal(consent.form.method, 'POST');
  assert.equal(consent.form.action, `${proxy.base}/consent`);
  assert.ok(consent.form.hidden.flow, 'hidden input flow');
  assert.ok(consent.form.hidden.csrf, 'hidden input csrf');
  assert.deepEqual(consent.form.buttons.filter((b) => b.name === 'decision').map((b) => b.value).sort(), ['approve', 'deny']);
  const flowCookie = run.browser.jar.get('127.0.0.1', 'mcp-auth-flow');
  assert.ok(flowCookie, `mcp-auth-flow cookie set (have ${run.browser.jar.all().map((c) => c.name)})`);
  assert.ok(flowCookie.flags.httponly, 'the binding cookie is HttpOnly');

  // The browser's path: /authorize 200, /consent 303 → IdP, …, /callback 302 → client.
  const consentPost = run.trace.find((t) => t.method === 'POST' && t.url === `${proxy.base}/consent`);
  assert.equal(consentPost.status, 303);
  assert.ok(consentPost.location.startsWith(idp.issuer), `consent approve goes to the IdP: ${consentPost.location}`);
  const upstream = new URL(consentPost.location);
  assert.equal(upstream.searchParams.get('client_id'), idp.clientId);
  assert.equal(upstream.searchParams.get('redirect_uri'), `${proxy.issuer}/callback`);
  assert.equal(upstream.searchParams.get('code_challenge_method'), 'S256');
  assert.notEqual(upstream.searchParams.get('code_challenge'), run.pkce.challenge, 'the proxy uses its own PKCE pair upstream');
  assert.ok(upstream.searchParams.get('scope').split(' ').includes('openid'));
  const callback = run.trace.find((t) => t.url.startsWith(`${proxy.base}/callback`));
  assert.equal(callback.status, 302);
  assert.ok(callback.location.startsWith(clientRedirect));

  assert.equal(run.query.state, run.state);
  assert.equal(run.query.iss, proxy.issuer, 'RFC 9207 iss on the authorization response');

  const issued = await redeem(client, run);
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  rememberTokens(issued.body);
  assert.equal(issued.headers.get('cache-control'), 'no-store');
  assert.equal(issued.body.token_type, 'Bearer');
  assert.equal(typeof issued.body.expires_in, 'number');
  assert.ok(issued.body.expires_in > 0);
  assert.equal(issued.body.scope, 'notes:read notes:write');
  assert.ok(issued.body.refresh_token);

  const jwks = createRemoteJWKSet(new URL(`${proxy.base}/jwks.json`));
  const header = decodeProtectedHeader(issued.body.access_token);
  assert.equal(header.typ, 'at+jwt');
  assert.equal(header.alg, 'ES256');
  assert.ok(header.kid);
  const { payload } = await jwtVerify(issued.body.access_token, jwks, {
    issuer: proxy.issuer, audience: proxy.resource, typ: 'at+jwt', algorithms: ['ES256'],
  });
  assert.equal(payload.sub, 'alice', 'subject comes from the upstream ID token');
  assert.equal(payload.aud, proxy.resource);
  assert.equal(payload.client_id, client.client_id);
  assert.equal(payload.scope, 'notes:read notes:write');
  for (const claim of ['iat', 'nbf', 'exp']) assert.equal(typeof payload[claim], 'number', claim);
  assert.equal(payload.exp - payload.iat, issued.body.expires_in);
  assert.ok(payload.jti, 'jti');
  assert.ok(payload.gid, 'gid');

  // Refresh rotates: a new refresh token, a new access token that verifies.
  const refreshed = await refresh(client, issued.body.refresh_token);
  assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
  rememberTokens(refreshed.body);
  assert.equal(refreshed.headers.get('cache-control'), 'no-store');
  assert.ok(refreshed.body.refresh_token);
  assert.notEqual(refreshed.body.refresh_token, issued.body.refresh_token, 'refresh tokens rotate');
  assert.notEqual(refreshed.body.access_token, issued.body.access_token);
  const again = await jwtVerify(refreshed.body.access_token, jwks, { issuer: proxy.issuer, audience: proxy.resource, typ: 'at+jwt' });
  assert.equal(again.payload.sub, 'alice');
  assert.equal(again.payload.gid, payload.gid, 'same grant');
  assert.notEqual(again.payload.jti, payload.jti);

  // A refresh may narrow the scope.
  const narrowed = await refresh(client, refreshed.body.refresh_token, { scope: 'notes:read' });
  assert.equal(narrowed.status, 200, JSON.stringify(narrowed.body));
  rememberTokens(narrowed.body);
  assert.equal(narrowed.body.scope, 'notes:read');
  const narrow = await jwtVerify(narrowed.body.access_token, jwks, { issuer: proxy.issuer, audience: proxy.resource });
  assert.equal(narrow.payload.scope, 'notes:read');
  const widened = await refresh(client, narrowed.body.refresh_token, { scope: 'notes:read files:read' });
  assertOAuthError(widened, 400, 'invalid_scope', 'refresh asking for more scope');

  // Revoke the newest refresh token: it no longer refreshes.
  const revoked = await revoke(proxy, { token: narrowed.body.refresh_token, token_type_hint: 'refresh_token', client_id: client.client_id });
  assert.equal(revoked.status, 200);
  const afterRevoke = await refresh(client, narrowed.body.refresh_token);
  assertOAuthError(afterRevoke, 400, 'invalid_grant', 'refresh with a revoked token');
});

test('within the grace window the previous refresh token still works (default grace)', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const run = await authorizedCode(client);
  const first = await redeem(client, run);
  rememberTokens(first.body);
  const second = await refresh(client, first.body.refresh_token);
  assert.equal(second.status, 200, JSON.stringify(second.body));
  rememberTokens(second.body);
  const retry = await refresh(client, first.body.refresh_token);
  assert.equal(retry.status, 200, `a client retrying within the grace window: ${JSON.stringify(retry.body)}`);
  rememberTokens(retry.body);
  const newest = await refresh(client, second.body.refresh_token);
  assert.equal(newest.status, 200, 'the family is intact');
  rememberTokens(newest.body);
});

test('confidential clients: client_secret_basic and client_secret_post', async () => {
  for (const method of ['client_secret_basic', 'client_secret_post']) {
    const client = await register(proxy, { redirect_uris: [clientRedirect], token_endpoint_auth_method: method });
    assert.equal(client.token_endpoint_auth_method, method);
    assert.ok(client.client_secret, `${method}: a secret is returned`);
    remember('client secret', client.client_secret);
    const run = await authorizedCode(client);
    const form = { grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect, code_verifier: run.pkce.verifier };
    const send = (secret) => (method === 'client_secret_basic'
      ? token(proxy, form, { basic: [client.client_id, secret] })
      : token(proxy, { ...form, client_id: client.client_id, client_secret: secret }));
    const bad = await send('wrong-secret');
    assertOAuthError(bad, 401, 'invalid_client', `${method} with a wrong secret`);
    assert.ok(bad.headers.get('www-authenticate'), `${method}: 401 carries WWW-Authenticate`);
    const none = await token(proxy, { ...form, client_id: client.client_id });
    assertOAuthError(none, 401, 'invalid_client', `${method} client without its secret`);
    // The failed attempts did not consume the code: client authentication comes first.
    const good = await send(client.client_secret);
    assert.equal(good.status, 200, `${method}: ${JSON.stringify(good.body)}`);
    rememberTokens(good.body);
  }
});

test('a replayed code fails and revokes what it issued', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const run = await authorizedCode(client);
  const first = await redeem(client, run);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  rememberTokens(first.body);
  const replay = await redeem(client, run);
  assertOAuthError(replay, 400, 'invalid_grant', 'replayed code');
  const afterReplay = await refresh(client, first.body.refresh_token);
  assertOAuthError(afterReplay, 400, 'invalid_grant', 'refresh token issued from the replayed code');
});

test('wrong verifier, redirect_uri, client and resource each get the RFC error', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  // Another name: identical public registrations are one client.
  const other = await register(proxy, { client_name: 'Other client', redirect_uris: [clientRedirect] });
  const cases = [
    ['wrong code_verifier', { code_verifier: pkcePair().verifier }, 400, 'invalid_grant'],
    ['wrong redirect_uri', { redirect_uri: `${clientRedirect}/other` }, 400, 'invalid_grant'],
    ['another client redeeming the code', { client_id: other.client_id }, 400, 'invalid_grant'],
    ['wrong resource', { resource: 'https://elsewhere.example/mcp' }, 400, 'invalid_target'],
    ['unknown client', { client_id: 'no-such-client' }, 401, 'invalid_client'],
  ];
  for (const [name, overrides, status, error] of cases) {
    const run = await authorizedCode(client); // a failed redemption may consume the code
    assertOAuthError(await redeem(client, run, overrides), status, error, name);
  }
  assertOAuthError(await token(proxy, { grant_type: 'password', username: 'a', password: 'b', client_id: client.client_id }), 400, 'unsupported_grant_type', 'password grant');
  assertOAuthError(await token(proxy, { grant_type: 'authorization_code', code: 'not-a-code', redirect_uri: clientRedirect, client_id: client.client_id, code_verifier: pkcePair().verifier }), 400, 'invalid_grant', 'unknown code');

  // An unknown resource at /authorize goes back to the client as invalid_target.
  const run = await runAuthorization({ proxy, client, resource: 'https://elsewhere.example/mcp' });
  assert.equal(run.query?.error, 'invalid_target', JSON.stringify(run.query ?? run.consent?.status));
  assert.equal(run.query.state, run.state);
  assert.equal(run.query.iss, proxy.issuer);
  assert.equal(run.trace[0].status, 302, 'a redirect, no consent page');
});

test('the token request must repeat the redirect_uri of the authorization request', async () => {
  // RFC 6749 §4.1.3: redirect_uri is REQUIRED at the token endpoint when it was included in the
  // authorization request (runAuthorization always includes it).
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const run = await authorizedCode(client);
  const res = await redeem(client, run, { redirect_uri: null });
  if (res.status === 200) rememberTokens(res.body);
  assert.equal(res.status, 400, `token request without redirect_uri: ${JSON.stringify(res.body)}`);
  assert.ok(['invalid_request', 'invalid_grant'].includes(res.body.error), JSON.stringify(res.body));
});

test('authorize: errors before client validation are pages (400, no redirect); later ones redirect', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const { challenge } = pkcePair();
  const good = { response_type: 'code', client_id: client.client_id, redirect_uri: clientRedirect, state: 'st-123', code_challenge: challenge, code_challenge_method: 'S256', scope: 'notes:read' };
  const authorize = (params) => {
    const url = new URL(`${proxy.base}/authorize`);
    for (const [k, v] of Object.entries(params)) if (v !== null) url.searchParams.set(k, v);
    return fetch(url, { redirect: 'manual' });
  };
  const pageCases = [
    ['unknown client_id', { client_id: 'no-such-client' }],
    ['missing client_id', { client_id: null }],
    ['redirect_uri not registered (other path)', { redirect_uri: `${clientRedirect}-other` }],
    ['redirect_uri not registered (other host)', { redirect_uri: 'https://attacker.example/callback' }],
  ];
  // Omitting redirect_uri is allowed only when exactly one is registered (RFC 6749 §3.1.2.3);
  // with two registered it must be a page too.
  const twoUris = await register(proxy, { redirect_uris: [clientRedirect, `${clientRedirect}2`] });
  pageCases.push(['missing redirect_uri, two registered', { client_id: twoUris.client_id, redirect_uri: null }]);
  for (const [name, extra] of pageCases) {
    const res = await authorize({ ...good, ...extra });
    assert.equal(res.status, 400, name);
    assert.equal(res.headers.get('location'), null, `${name}: no redirect`);
    assert.match(res.headers.get('content-type') ?? '', /^text\/html/, name);
    await res.text();
  }
  const redirectCases = [
    ['missing code_challenge', { code_challenge: null }, 'invalid_request'],
    ['code_challenge_method=plain', { code_challenge_method: 'plain' }, 'invalid_request'],
    ['missing code_challenge_method', { code_challenge_method: null }, 'invalid_request'],
    ['response_type=token', { response_type: 'token' }, 'unsupported_response_type'],
    ['unknown scope', { scope: 'notes:read no-such:scope' }, 'invalid_scope'],
  ];
  for (const [name, extra, error] of redirectCases) {
    const params = { ...good, ...extra };
    const res = await authorize(params);
    assert.equal(res.status, 302, `${name}: ${res.status} ${res.status === 302 ? '' : await res.text()}`);
    const location = new URL(res.headers.get('location'));
    assert.equal(`${location.origin}${location.pathname}`, clientRedirect, name);
    assert.equal(location.searchParams.get('error'), error, name);
    assert.equal(location.searchParams.get('state'), params.state ?? null, `${name}: state`);
    assert.equal(location.searchParams.get('iss'), proxy.issuer, `${name}: iss`);
    assert.equal(location.searchParams.get('code'), null);
  }
});

test('resource and scope may be omitted: first configured resource, the scopes the client may have', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const run = await authorizedCode(client, { resource: null, scope: null });
  const issued = await redeem(client, run, { resource: null });
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  rememberTokens(issued.body);
  const jwks = createLocalJWKSet(await (await fetch(`${proxy.base}/jwks.json`)).json());
  const { payload } = await jwtVerify(issued.body.access_token, jwks, { issuer: proxy.issuer });
  assert.equal(payload.aud, proxy.resource);
  assert.ok(payload.scope.split(' ').includes('notes:read'), `default scope: ${payload.scope}`);
});

test('denying consent sends access_denied with the client state (303)', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const run = await runAuthorization({ proxy, client, decision: 'deny' });
  rememberRun(run);
  assert.equal(run.query.error, 'access_denied');
  assert.equal(run.query.state, run.state);
  assert.equal(run.query.iss, proxy.issuer);
  assert.equal(run.query.code, undefined);
  const consentPost = run.trace.find((t) => t.method === 'POST');
  assert.equal(consentPost.status, 303);
  assert.ok(!run.trace.some((t) => t.url.startsWith(idp.issuer)), 'the IdP is never visited');
});

test('the flow is bound to the browser: a callback without its cookie, a wrong CSRF token', async () => {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  // The victim's browser goes all the way to the IdP and back; an attacker replays the callback.
  const run = await runAuthorization({ proxy, client, stopAt: (u) => u.startsWith(`${proxy.issuer}/callback`) });
  rememberRun(run);
  assert.ok(run.redirect.startsWith(`${proxy.issuer}/callback?`), run.redirect);
  const stranger = new Browserless();
  const res = await stranger.fetch(run.redirect);
  assert.ok(res.status >= 400 && res.status < 500, `callback without the binding cookie: ${res.status}`);
  assert.equal(res.headers.get('location'), null, 'no code is handed out');
  await res.text();

  // A consent POST with a wrong CSRF token is refused and does not go to the IdP.
  const browser = new Browserless();
  const url = new URL(`${proxy.base}/authorize`);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: client.client_id, redirect_uri: clientRedirect, state: 's', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', scope: 'notes:read' })) url.searchParams.set(k, v);
  const page = await browser.fetch(url.toString());
  const [form] = parseForms(await page.text(), url.toString());
  const forged = await browser.fetch(form.action, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ ...form.hidden, csrf: `${form.hidden.csrf.slice(0, -1)}${form.hidden.csrf.endsWith('A') ? 'B' : 'A'}`, decision: 'approve' }),
  });
  assert.ok(forged.status >= 400 && forged.status < 500, `forged consent: ${forged.status}`);
  assert.equal(forged.headers.get('location'), null);
});

test('registration: redirect URIs must be https or loopback http', async () => {
  const post = (body) => fetch(`${proxy.base}/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  for (const uri of ['http://example.com/callback', 'https://app.example/cb#frag', 'javascript:alert(1)', 'https://user@app.example/cb']) {
    const res = await post({ client_name: 'bad', redirect_uris: [uri] });
    assert.equal(res.status, 400, uri);
    const body = await res.json();
    assert.ok(['invalid_redirect_uri', 'invalid_client_metadata'].includes(body.error), `${uri}: ${JSON.stringify(body)}`);
  }
  for (const uri of ['https://app.example/callback', 'http://localhost:1234/cb', 'http://[::1]:9/cb', 'http://127.0.0.1/cb']) {
    const res = await post({ client_name: 'ok', redirect_uris: [uri] });
    assert.equal(res.status, 201, `${uri}: ${await res.clone().text()}`);
    const body = await res.json();
    assert.ok(body.client_id);
    assert.deepEqual(body.redirect_uris, [uri]);
  }
});

test('an https issuer binds the browser with a __Host- cookie', async () => {
  const port = await freePort();
  const https = await startProxy({ idp, redis, port, issuer: `https://127.0.0.1:${port}` });
  const client = await register(https, { redirect_uris: [clientRedirect] });
  const url = new URL(`${https.base}/authorize`);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: client.client_id, redirect_uri: clientRedirect, state: 's', code_challenge: pkcePair().challenge, code_challenge_method: 'S256', scope: 'notes:read' })) url.searchParams.set(k, v);
  const res = await fetch(url, { redirect: 'manual' });
  assert.equal(res.status, 200);
  await res.text();
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('__Host-mcp-auth-flow='));
  assert.ok(cookie, `Set-Cookie: ${res.headers.getSetCookie()}`);
  assert.match(cookie, /;\s*Secure/i);
  assert.match(cookie, /;\s*Path=\/(;|$)/i);
  assert.doesNotMatch(cookie, /;\s*Domain=/i);
  await https.stop();
});

test('no token, code, verifier, secret or cookie value ever reaches the logs', () => {
  const logs = proxy.output();
  assert.match(logs, /\/token/, 'the proxy logged its requests');
  assert.ok(logs.length > 2000, `the proxy logged at debug level (${logs.length} bytes)`);
  const labels = new Set(secrets.values());
  for (const l of ['authorization code', 'access token', 'refresh token', 'code_verifier', 'client secret', 'cookie mcp-auth-flow', 'upstream client secret']) {
    assert.ok(labels.has(l), `collected a ${l} to look for`);
  }
  const leaked = [...secrets].filter(([value]) => logs.includes(value)).map(([value, label]) => `${label} (${value.slice(0, 6)}…)`);
  assert.deepEqual(leaked, [], 'secret values found in the proxy logs');
});
