// The real stack with an Ed25519 signing key first in the auth-proxy's bundle (and a P-256 key
// after it, published only): tokens come out EdDSA, verify with jose against the proxy's JWKS,
// and the mcp-server (which validates them) and the proxy's token exchange accept them.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import {
  redeemCode,
  startRedis, startIdp, startProxy, startNextcloud, startMcpServer, register, runAuthorization,
  token, freePort, newSigningKeyPem, stopAll, dumpLogsOnFailure, dumpMcpLogsOnFailure,
} from '../lib/harness.mjs';

let proxy; let mcp; let nextcloud; let clientRedirect;

function ed25519Pem() {
  const { privateKey } = generateKeyPairSync('ed25519');
  return privateKey.export({ type: 'pkcs8', format: 'pem' });
}

before(async () => {
  const redis = await startRedis();
  const proxyPort = await freePort();
  const mcpPort = await freePort();
  const resource = `http://127.0.0.1:${mcpPort}/mcp`;
  clientRedirect = `http://127.0.0.1:${await freePort()}/callback`;
  const idp = await startIdp({ redirectUris: [`http://127.0.0.1:${proxyPort}/callback`] });
  const exchangeSecret = randomBytes(24).toString('base64url');
  proxy = await startProxy({
    idp, redis, port: proxyPort, resource,
    keys: { signing: `${ed25519Pem()}${newSigningKeyPem()}` },
    // EdDSA tokens are what this file tests; the bearer strategy (and the patched user_oidc
    // stand-in) keeps it free of Login Flow steps, which tests/e2e/app-password covers.
    env: { AUTH_PROXY_EXCHANGE_CLIENT_SECRET: exchangeSecret, AUTH_PROXY_NEXTCLOUD_CREDENTIALS: 'bearer' },
  });
  nextcloud = await startNextcloud({ idpIssuer: idp.issuer, stock: false });
  mcp = await startMcpServer({ port: mcpPort, proxy, nextcloud, clientSecret: exchangeSecret, resource });
});

after(async () => {
  await nextcloud?.stop();
  await stopAll();
});
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

/** A fresh authorization, redeemed: the token response body. */
async function accessToken() {
  const client = await register(proxy, { redirect_uris: [clientRedirect] });
  const run = await runAuthorization({ proxy, client });
  assert.ok(run.query?.code, `expected a code, got ${JSON.stringify(run.query ?? run.consent?.status)}`);
  const res = await redeemCode(proxy, client, run);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

function mcpPost(body, accessTokenValue) {
  const headers = { 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' };
  if (accessTokenValue) headers.authorization = `Bearer ${accessTokenValue}`;
  return fetch(mcp.url, { method: 'POST', headers, body: JSON.stringify({ jsonrpc: '2.0', ...body }) });
}

test('the JWKS publishes the Ed25519 key first, then the P-256 one, with RFC 7638 kids', async () => {
  const { keys } = await (await fetch(`${proxy.base}/jwks.json`)).json();
  assert.equal(keys.length, 2);
  const [okp, ec] = keys;
  assert.deepEqual(Object.keys(okp).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
  assert.equal(okp.kty, 'OKP');
  assert.equal(okp.crv, 'Ed25519');
  assert.equal(okp.alg, 'EdDSA');
  assert.equal(okp.use, 'sig');
  assert.equal(okp.kid, await calculateJwkThumbprint(okp));
  assert.equal(ec.kty, 'EC');
  assert.equal(ec.alg, 'ES256');
  assert.equal(ec.kid, await calculateJwkThumbprint(ec));
  for (const k of keys) assert.equal(k.d, undefined, 'no private key material in the JWKS');
});

test('access tokens are EdDSA, verify against the JWKS, and the mcp-server accepts them', async () => {
  const body = await accessToken();
  const header = decodeProtectedHeader(body.access_token);
  assert.equal(header.alg, 'EdDSA');
  assert.equal(header.typ, 'at+jwt');
  const { keys } = await (await fetch(`${proxy.base}/jwks.json`)).json();
  assert.equal(header.kid, keys[0].kid, 'signed by the first key of the bundle');

  const jwks = createRemoteJWKSet(new URL(`${proxy.base}/jwks.json`));
  const { payload } = await jwtVerify(body.access_token, jwks, {
    algorithms: ['EdDSA'], issuer: proxy.issuer, audience: proxy.resource, typ: 'at+jwt',
  });
  assert.equal(payload.sub, 'alice');
  // The same token under another algorithm's name is refused by jose, as by our verifiers.
  await assert.rejects(jwtVerify(body.access_token, jwks, { algorithms: ['ES256'] }));

  assert.equal((await mcpPost({ id: 1, method: 'tools/list', params: {} })).status, 401);
  const list = await mcpPost({ id: 2, method: 'tools/list', params: {} }, body.access_token);
  assert.equal(list.status, 200, await list.clone().text());
  const reply = await list.json();
  assert.equal(reply.id, 2);
  assert.ok(reply.result.tools.some((t) => t.name === 'whoami'), JSON.stringify(reply));

  // A tool that reaches Nextcloud: the mcp-server exchanges the EdDSA token at the proxy, which
  // verifies it with its own key set.
  const call = await mcpPost({ id: 3, method: 'tools/call', params: { name: 'whoami', arguments: {} } }, body.access_token);
  assert.equal(call.status, 200, await call.clone().text());
  const result = (await call.json()).result;
  assert.equal(result.isError, false, JSON.stringify(result));
  assert.equal(JSON.parse(result.content[0].text).user.id, 'alice');
});

test('a refreshed access token is EdDSA too', async () => {
  const body = await accessToken();
  const client = JSON.parse(Buffer.from(body.access_token.split('.')[1], 'base64url')).client_id;
  const res = await token(proxy, { grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: client });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(decodeProtectedHeader(res.body.access_token).alg, 'EdDSA');
  const list = await mcpPost({ id: 4, method: 'tools/list', params: {} }, res.body.access_token);
  assert.equal(list.status, 200);
});
