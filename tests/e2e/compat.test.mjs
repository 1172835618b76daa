// The compatibility profile end to end (issue 14, ADR 0017), with real Redis and a real IdP: a
// Claude-like client (https callback on claude.ai, `resource` with a trailing slash at every
// step) signs in and gets a token for the configured resource; a wrong resource at /token
// spends neither the code nor the refresh token; its refreshes come from two egress IPs (behind
// a trusted proxy) at once, within the grace window, and both succeed.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, startIdp, startProxy, register, runAuthorization, token, freePort, stopAll, dumpLogsOnFailure } from '../lib/harness.mjs';

const CLAUDE_CALLBACK = 'https://claude.ai/api/mcp/auth_callback';
let proxy;

before(async () => {
  const redis = await startRedis();
  const port = await freePort();
  const idp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
  proxy = await startProxy({ idp, redis, port, env: { AUTH_PROXY_TRUSTED_PROXIES: '127.0.0.1/32' } });
});

after(async () => { await stopAll(); });
afterEach(dumpLogsOnFailure);

/** POST /token as if from `ip`, through the trusted proxy on loopback. */
async function tokenFrom(ip, form) {
  const body = new URLSearchParams(Object.entries(form).filter(([, v]) => v !== undefined));
  const res = await fetch(`${proxy.base}/token`, {
    method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': ip }, body,
  });
  return { status: res.status, body: await res.json() };
}

const audOf = (jwt) => JSON.parse(Buffer.from(jwt.split('.')[1], 'base64url').toString()).aud;

test('a Claude-like client with a trailing-slash resource keeps its code and refresh token through mistakes', async () => {
  const slashed = `${proxy.resource}/`;
  const client = await register(proxy, { client_name: 'Claude', redirect_uris: [CLAUDE_CALLBACK] });
  const run = await runAuthorization({ proxy, client, resource: slashed });
  assert.ok(run.query?.code, JSON.stringify(run.query));
  const ours = run.trace.filter((s) => s.url.startsWith(proxy.base) && s.location);
  assert.equal(ours.length, 2, JSON.stringify(run.trace)); // consent → IdP, callback → client
  for (const s of ours) assert.ok([302, 303].includes(s.status), `only 302/303 redirects: ${JSON.stringify(s)}`);
  const redeem = (resource) => token(proxy, {
    grant_type: 'authorization_code', code: run.query.code, redirect_uri: CLAUDE_CALLBACK,
    client_id: client.client_id, code_verifier: run.pkce.verifier, resource,
  });

  const wrong = await redeem('https://evil.example/mcp');
  assert.equal(wrong.status, 400, JSON.stringify(wrong.body));
  assert.equal(wrong.body.error, 'invalid_target');
  const first = await redeem(slashed);
  assert.equal(first.status, 200, `the same code still redeems: ${JSON.stringify(first.body)}`);
  assert.equal(audOf(first.body.access_token), proxy.resource, 'aud is the configured resource');

  const refresh = (resource, ip) => tokenFrom(ip, {
    grant_type: 'refresh_token', refresh_token: first.body.refresh_token, client_id: client.client_id, resource,
  });
  const refused = await refresh('https://evil.example/mcp', '203.0.113.7');
  assert.equal(refused.body.error, 'invalid_target', JSON.stringify(refused.body));

  // Two egress IPs present the same refresh token at once: the second within the grace window.
  const [a, b] = await Promise.all([refresh(slashed, '203.0.113.7'), refresh(undefined, '198.51.100.9')]);
  assert.equal(a.status, 200, JSON.stringify(a.body));
  assert.equal(b.status, 200, JSON.stringify(b.body));
  for (const r of [a, b]) assert.equal(audOf(r.body.access_token), proxy.resource);
});
