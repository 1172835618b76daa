// A real OpenID Provider (npm oidc-provider, OpenID-certified) acting as the upstream IdP for
// tests and for `make run`. Its built-in development interactions are plain HTML forms: any
// login name and any password sign in; the login name becomes the subject.
//
//   node idp/dev-idp.mjs --port 9400 --client-id auth-proxy --client-secret S \
//        --redirect-uri http://127.0.0.1:8080/callback [--redirect-uri …] [--issuer URL]
//
// Prints `dev-idp listening on <issuer>` when ready. Loopback only.
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '9400' },
    issuer: { type: 'string' },
    'client-id': { type: 'string', default: 'auth-proxy' },
    'client-secret': { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    'access-token-ttl': { type: 'string', default: '3600' },
  },
});
if (!values['client-secret']) {
  console.error('dev-idp: --client-secret is required');
  process.exit(2);
}
const port = Number(values.port);
const issuer = values.issuer ?? `http://127.0.0.1:${port}`;

const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: 'dev-idp-es256', alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: values['client-id'],
    client_secret: values['client-secret'],
    redirect_uris: values['redirect-uri'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
    id_token_signed_response_alg: 'ES256',
  }],
  jwks: { keys: [signingKey] },
  pkce: { required: () => true },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'preferred_username'],
    email: ['email', 'email_verified'],
  },
  features: { devInteractions: { enabled: true } },
  // Without this hook oidc-provider issues a refresh token only for offline_access + consent.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: { AccessToken: Number(values['access-token-ttl']) },
  cookies: { keys: ['dev-idp-not-secret-cookie-key'] },
  async findAccount(ctx, id) {
    return {
      accountId: id,
      async claims() {
        return {
          sub: id,
          name: id,
          preferred_username: id,
          email: `${id}@example.test`,
          email_verified: true,
        };
      },
    };
  },
});
// The dev interactions log a warning on every start; the tests do not need to see it.
provider.on('server_error', (ctx, err) => console.error('dev-idp server_error', err));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`dev-idp listening on ${issuer}`);
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
