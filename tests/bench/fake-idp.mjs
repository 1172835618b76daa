// A minimal OpenID Provider for the ORIGINAL Python server in `make bench` (tests/bench/bench.mjs),
// in-process, on 127.0.0.1 only. The original verifies access tokens as RS256 JWTs against the
// IdP's JWKS (nextcloud_mcp_server/auth/unified_verifier.py: `algorithms=["RS256"]`), and the
// project's dev IdP (tests/idp/dev-idp.mjs, oidc-provider) signs with ES256 only; so this fake
// serves discovery, an RS256 JWKS, userinfo and a registration endpoint, and mints the tokens the
// benchmark presents itself (`mint(claims)`). No sign-in happens through it.
import http from 'node:http';
import { generateKeyPair, exportJWK, SignJWT } from 'jose';

export async function startFakeIdp() {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'bench-rs256', alg: 'RS256', use: 'sig' };
  let issuer;
  /** Paths requested, in order (what the original asks of its IdP). */
  const hits = [];
  const server = http.createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    const send = (status, body) => { res.writeHead(status, { 'content-type': 'application/json' }); res.end(JSON.stringify(body)); };
    const url = new URL(req.url, issuer);
    if (url.pathname === '/.well-known/openid-configuration') {
      return send(200, {
        issuer,
        authorization_endpoint: `${issuer}/authorize`,
        token_endpoint: `${issuer}/token`,
        userinfo_endpoint: `${issuer}/userinfo`,
        jwks_uri: `${issuer}/jwks`,
        registration_endpoint: `${issuer}/register`,
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        code_challenge_methods_supported: ['S256'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      });
    }
    if (url.pathname === '/jwks') return send(200, { keys: [jwk] });
    if (url.pathname === '/userinfo') return send(200, { sub: 'alice', preferred_username: 'alice' });
    return send(404, { error: 'not_found' });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${server.address().port}`;
  const mint = (claims, ttlSec = 3600) => new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: jwk.kid, typ: 'JWT' })
    .setIssuer(issuer).setIssuedAt().setExpirationTime(`${ttlSec}s`)
    .sign(privateKey);
  return {
    issuer, mint, hits,
    close: () => new Promise((r) => { server.close(() => r()); server.closeAllConnections(); }),
  };
}
