// user_oidc's single sign-on login (authorization code flow) for the Nextcloud stand-in's login
// page, written from nextcloud/user_oidc lib/Controller/LoginController.php (login() and code();
// none of its code is copied): GET /index.php/apps/user_oidc/login/{providerId}?redirectUrl=…
// keeps state, nonce and a PKCE verifier in the session and redirects to the IdP's
// authorization_endpoint (discovery) with scope "openid email profile" and redirect_uri
// /index.php/apps/user_oidc/code; the callback checks the state, redeems the code at the
// token_endpoint, verifies the ID token (signature from jwks_uri, issuer, audience = client id,
// expiry, nonce), and the Nextcloud user id is the ID token's `sub` (as user_oidc's bearer
// validation in standin.mjs; user_oidc's "unique user id" hashing is not imitated).
//
// Differences: the client authenticates with client_secret_basic (the dev IdP requires it;
// user_oidc can send the secret in the body), PKCE is always used (user_oidc uses it when the
// IdP supports S256), errors are plain 403 pages. Nothing is logged; the code, tokens and the
// verifier never leave this module.
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createRemoteJWKSet, jwtVerify } from 'jose';

const isLoopback = (u) => { try { const { hostname, protocol } = new URL(u); return protocol === 'http:' && hostname === '127.0.0.1'; } catch { return false; } };
const random = (n, chars) => Array.from({ length: n }, () => chars[randomInt(chars.length)]).join('');
const DIGITS_UPPER = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';

/** `idpIssuer` (loopback), `clientId`, `clientSecret`: the IdP client Nextcloud is registered as. */
export function userOidcLogin({ base, idpIssuer, clientId, clientSecret }) {
  const redirectUri = `${base}/index.php/apps/user_oidc/code`;
  let discovery = null;
  let jwks = null;
  async function discover() {
    if (!discovery) {
      discovery = fetch(`${idpIssuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000), redirect: 'error' }).then(async (r) => {
        if (r.status !== 200) throw new Error(`discovery answered ${r.status}`);
        const d = await r.json();
        for (const k of ['authorization_endpoint', 'token_endpoint', 'jwks_uri']) if (!isLoopback(d[k])) throw new Error(`discovery: ${k} is not a loopback URL`);
        jwks = createRemoteJWKSet(new URL(d.jwks_uri));
        return d;
      });
      discovery.catch(() => { discovery = null; });
    }
    return discovery;
  }

  return {
    /** → the IdP authorization URL; remembers state, nonce, verifier and the redirect in `data`. */
    async start(data, redirectUrl) {
      const d = await discover();
      const state = random(32, DIGITS_UPPER);
      const nonce = random(32, DIGITS_UPPER);
      const verifier = randomBytes(32).toString('base64url');
      data.set('oidc.state', state).set('oidc.nonce', nonce).set('oidc.verifier', verifier).set('oidc.redirect', redirectUrl ?? '');
      const url = new URL(d.authorization_endpoint);
      const q = { client_id: clientId, response_type: 'code', scope: 'openid email profile', redirect_uri: redirectUri, state, nonce, code_challenge: createHash('sha256').update(verifier).digest('base64url'), code_challenge_method: 'S256' };
      for (const [k, v] of Object.entries(q)) url.searchParams.set(k, v);
      return url.toString();
    },
    /** The callback: → { user: {id, email, name}, redirectUrl } or { error }. Clears `data`. */
    async finish(data, query) {
      const expected = { state: data.get('oidc.state'), nonce: data.get('oidc.nonce'), verifier: data.get('oidc.verifier'), redirect: data.get('oidc.redirect') };
      for (const k of ['oidc.state', 'oidc.nonce', 'oidc.verifier', 'oidc.redirect']) data.delete(k);
      if (!expected.state || query.get('state') !== expected.state) return { error: 'The received state does not match the expected value.' };
      if (query.get('error')) return { error: `The identity provider refused the login (${query.get('error')}).` };
      const d = await discover();
      const r = await fetch(d.token_endpoint, {
        method: 'POST',
        headers: { authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'authorization_code', code: query.get('code') ?? '', redirect_uri: redirectUri, code_verifier: expected.verifier }),
        signal: AbortSignal.timeout(5000),
        redirect: 'error',
      });
      const tokens = await r.json().catch(() => ({}));
      if (r.status !== 200 || typeof tokens.id_token !== 'string') return { error: 'Failed to redeem the code at the identity provider.' };
      let payload;
      try {
        ({ payload } = await jwtVerify(tokens.id_token, jwks, { issuer: d.issuer, audience: clientId }));
      } catch {
        return { error: 'The ID token is not valid.' };
      }
      if (payload.nonce !== expected.nonce) return { error: 'The nonce does not match.' };
      if (typeof payload.sub !== 'string' || !payload.sub || payload.sub.includes('/')) return { error: 'The ID token has no usable sub.' };
      return { user: { id: payload.sub, email: typeof payload.email === 'string' ? payload.email : null, name: typeof payload.name === 'string' ? payload.name : null }, redirectUrl: expected.redirect };
    },
  };
}
