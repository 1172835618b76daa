// A ChatGPT-shaped metadata-document client authenticating with private_key_jwt (RFC 7523)
// against two auth-proxy replicas sharing one Redis: its document and key set are served on
// loopback (allowed only through the proxy's test switch), the key pair is jose's RS256, and the
// assertions come from the official MCP TypeScript SDK's `createPrivateKeyJwtAuth` used by its
// own token-request functions. An assertion used at replica A is refused at replica B.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { generateKeyPair, exportJWK, exportPKCS8, createRemoteJWKSet, jwtVerify } from 'jose';
import { createPrivateKeyJwtAuth } from '@modelcontextprotocol/sdk/client/auth-extensions.js';
import { exchangeAuthorization, refreshAuthorization } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  startRedis, startIdp, startProxy, runAuthorization, token, revoke, freePort,
  newSigningKeyPem, newEncryptionKey, stopAll, dumpLogsOnFailure,
} from '../lib/harness.mjs';

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

let a; let b; let issuer; let clientId; let clientRedirect; let privateKeyPem; let metadata;
const fetched = { document: 0, jwks: 0 };

before(async () => {
  const redis = await startRedis();
  const portA = await freePort();
  const portB = await freePort();
  issuer = `http://127.0.0.1:${portA}`;
  clientRedirect = `http://127.0.0.1:${await freePort()}/connector/oauth/e2e`;
  const idp = await startIdp({ redirectUris: [`${issuer}/callback`] });

  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  privateKeyPem = await exportPKCS8(privateKey);
  const jwk = { ...(await exportJWK(publicKey)), kid: 'e2e-1', use: 'sig', alg: 'RS256' };

  let docBase;
  const docServer = createServer((req, res) => {
    const json = (body) => {
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
      res.end(JSON.stringify(body));
    };
    if (req.url === '/oauth/client.json') {
      fetched.document += 1;
      json({
        client_id: `${docBase}/oauth/client.json`,
        client_uri: 'https://chatgpt.com/',
        redirect_uris: [clientRedirect],
        grant_types: ['authorization_code', 'refresh_token'],
        response_types: ['code'],
        client_name: 'ChatGPT',
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'RS256',
        jwks_uri: `${docBase}/oauth/jwks.json`,
      });
    } else if (req.url === '/oauth/jwks.json') {
      fetched.jwks += 1;
      json({ keys: [jwk] });
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise((r) => docServer.listen(0, '127.0.0.1', r));
  docBase = `http://127.0.0.1:${docServer.address().port}`;
  docServer.unref();
  clientId = `${docBase}/oauth/client.json`;

  const keys = { signing: newSigningKeyPem(), encryption: newEncryptionKey() };
  const env = {
    AUTH_PROXY_REDIS_PREFIX: `e2e-pkjwt-${portA}`,
    AUTH_PROXY_CIMD_TEST_ALLOW_LOOPBACK: 'true',
    AUTH_PROXY_LOG_FORMAT: 'json',
  };
  [a, b] = await Promise.all([
    startProxy({ idp, redis, port: portA, issuer, keys, env }),
    startProxy({ idp, redis, port: portB, issuer, keys, env }),
  ]);
  metadata = await (await fetch(`${a.base}/.well-known/oauth-authorization-server`)).json();
});
after(async () => { await stopAll(); });
afterEach(dumpLogsOnFailure);

/** The SDK's client authentication, as a client using private_key_jwt configures it. */
const sdkAuth = () => createPrivateKeyJwtAuth({
  issuer: clientId, subject: clientId, privateKey: privateKeyPem, alg: 'RS256',
});

/** One assertion exactly as the SDK would send it (aud = the metadata's issuer). */
async function sdkAssertion() {
  const params = new URLSearchParams();
  await sdkAuth()(new Headers(), params, new URL(metadata.token_endpoint), metadata);
  assert.equal(params.get('client_assertion_type'), ASSERTION_TYPE);
  return params.get('client_assertion');
}

test('the AS advertises private_key_jwt with its signing algorithms', () => {
  assert.ok(metadata.token_endpoint_auth_methods_supported.includes('private_key_jwt'));
  assert.ok(metadata.token_endpoint_auth_methods_supported.includes('none'));
  assert.ok(metadata.token_endpoint_auth_signing_alg_values_supported.includes('RS256'));
  assert.deepEqual(
    metadata.revocation_endpoint_auth_signing_alg_values_supported,
    metadata.token_endpoint_auth_signing_alg_values_supported,
  );
});

test('sign-in, code redemption on A and refresh on B with SDK-made assertions, then revocation', async () => {
  const run = await runAuthorization({ proxy: a, clientId, redirectUri: clientRedirect });
  assert.equal(run.consent.status, 200);
  assert.match(run.consent.html, /ChatGPT/);
  assert.ok(run.query.code, run.redirect);

  const tokens = await exchangeAuthorization(a.base, {
    metadata,
    clientInformation: { client_id: clientId },
    authorizationCode: run.query.code,
    codeVerifier: run.pkce.verifier,
    redirectUri: clientRedirect,
    resource: new URL(a.resource),
    addClientAuthentication: sdkAuth(),
  });
  const jwks = createRemoteJWKSet(new URL(`${a.base}/jwks.json`));
  const { payload } = await jwtVerify(tokens.access_token, jwks, { issuer, audience: a.resource });
  assert.equal(payload.client_id, clientId);

  // Replica B: a grant issued by A, a fresh assertion.
  const refreshed = await refreshAuthorization(b.base, {
    metadata: { ...metadata, token_endpoint: `${b.base}/token` },
    clientInformation: { client_id: clientId },
    refreshToken: tokens.refresh_token,
    addClientAuthentication: sdkAuth(),
  });
  assert.ok(refreshed.access_token);

  // Without an assertion this client is not authenticated (its document offers nothing else).
  const bare = await token(a, { grant_type: 'refresh_token', refresh_token: refreshed.refresh_token, client_id: clientId });
  assert.equal(bare.status, 401);
  assert.equal(bare.body.error, 'invalid_client');
  assert.ok(bare.headers.get('www-authenticate'));

  const revoked = await revoke(b, {
    token: refreshed.refresh_token, client_assertion_type: ASSERTION_TYPE, client_assertion: await sdkAssertion(),
  });
  assert.equal(revoked.status, 200, revoked.text);
  const after = await token(a, {
    grant_type: 'refresh_token', refresh_token: refreshed.refresh_token,
    client_assertion_type: ASSERTION_TYPE, client_assertion: await sdkAssertion(),
  });
  assert.equal(after.status, 400);
  assert.equal(after.body.error, 'invalid_grant');
});

test('an assertion used at replica A is refused at replica B (jti remembered in Redis)', async () => {
  const assertion = await sdkAssertion();
  const form = {
    grant_type: 'refresh_token', refresh_token: 'no-such-grant.no-such-token',
    client_assertion_type: ASSERTION_TYPE, client_assertion: assertion,
  };
  const first = await token(a, form);
  assert.equal(first.status, 400, 'authenticated at A: only the refresh token is unknown');
  assert.equal(first.body.error, 'invalid_grant');
  const replayed = await token(b, form);
  assert.equal(replayed.status, 401, JSON.stringify(replayed.body));
  assert.equal(replayed.body.error, 'invalid_client');
  assert.match(replayed.body.error_description, /already used/);
  const again = await token(a, form);
  assert.equal(again.status, 401);
});

test('the document and key set were fetched by each replica at most once; logs hold no assertion', () => {
  assert.ok(fetched.document <= 2, `document fetches: ${fetched.document}`);
  assert.ok(fetched.jwks <= 2, `key set fetches: ${fetched.jwks}`);
  for (const replica of [a, b]) {
    const logs = replica.output();
    assert.doesNotMatch(logs, /eyJ[A-Za-z0-9_-]{20,}\.eyJ/, 'no JWT in the logs');
    assert.doesNotMatch(logs, /BEGIN PRIVATE KEY/);
  }
});
