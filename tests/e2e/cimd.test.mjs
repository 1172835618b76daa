// A Client ID Metadata Document client signs in end to end: real Redis, the real IdP, the
// auth-proxy fetching the client's document from a server on loopback (allowed only through
// the proxy's explicit test switch), consent, callback, token, refresh.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import {
  startRedis, startIdp, startProxy, runAuthorization, token, freePort, stopAll, dumpLogsOnFailure,
} from '../lib/harness.mjs';

let proxy; let docBase; let fetches = 0; let clientRedirect;

before(async () => {
  const redis = await startRedis();
  const port = await freePort();
  const idp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
  clientRedirect = `http://127.0.0.1:${await freePort()}/callback`;
  const docServer = createServer((req, res) => {
    fetches += 1;
    if (req.url !== '/mcp-client.json') { res.writeHead(404); res.end(); return; }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' });
    res.end(JSON.stringify({
      client_id: `${docBase}/mcp-client.json`,
      client_name: 'Document-described client',
      redirect_uris: [clientRedirect],
      grant_types: ['authorization_code', 'refresh_token'],
      token_endpoint_auth_method: 'none',
    }));
  });
  await new Promise((r) => docServer.listen(0, '127.0.0.1', r));
  docBase = `http://127.0.0.1:${docServer.address().port}`;
  docServer.unref();
  proxy = await startProxy({ idp, redis, port, env: { AUTH_PROXY_CIMD_TEST_ALLOW_LOOPBACK: 'true' } });
});
after(async () => { await stopAll(); });
afterEach(dumpLogsOnFailure);

test('a CIMD client: consent shows it, the flow completes, tokens name the document URL', async () => {
  const clientId = `${docBase}/mcp-client.json`;
  const meta = await (await fetch(`${proxy.base}/.well-known/oauth-authorization-server`)).json();
  assert.equal(meta.client_id_metadata_document_supported, true);

  const run = await runAuthorization({ proxy, clientId, redirectUri: clientRedirect });
  assert.equal(run.consent.status, 200);
  assert.match(run.consent.html, /Document-described client/);
  assert.match(run.consent.html, /describes itself with a document published at\s*<span class="host">127\.0\.0\.1<\/span>/);
  assert.ok(run.query.code, run.redirect);
  assert.equal(run.query.iss, proxy.issuer);

  const res = await token(proxy, {
    grant_type: 'authorization_code', code: run.query.code, redirect_uri: clientRedirect,
    client_id: clientId, code_verifier: run.pkce.verifier,
  });
  assert.equal(res.status, 200);
  const { body } = res;
  const jwks = createRemoteJWKSet(new URL(`${proxy.base}/jwks.json`));
  const { payload } = await jwtVerify(body.access_token, jwks, { issuer: proxy.issuer, audience: proxy.resource });
  assert.equal(payload.client_id, clientId);

  const refreshed = await token(proxy, { grant_type: 'refresh_token', refresh_token: body.refresh_token, client_id: clientId });
  assert.equal(refreshed.status, 200);
  assert.equal(fetches, 1, 'the document was fetched once and then served from the cache');
});

test('a CIMD client_id with a redirect URI the document does not list gets an error page', async () => {
  const run = await runAuthorization({ proxy, clientId: `${docBase}/mcp-client.json`, redirectUri: 'http://127.0.0.1:1/elsewhere' });
  assert.equal(run.consent.status, 400);
  assert.equal(run.consent.headers.get('location'), null);
});
