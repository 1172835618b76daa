// A real OpenID Provider (npm oidc-provider, OpenID-certified) acting as the upstream IdP for
// the tests and for `make run`. Its built-in development interactions are plain HTML forms (a
// login form, then a consent form) that a person or a script can submit: any login name and any
// password sign in, and the login name becomes the subject.
//
//   node idp/dev-idp.mjs --port 9400 --client-id auth-proxy --client-secret S \
//        --redirect-uri http://127.0.0.1:8080/callback [--redirect-uri …] [--issuer URL]
//
// Every option can also come from the environment: DEV_IDP_PORT, DEV_IDP_ISSUER,
// DEV_IDP_CLIENT_ID, DEV_IDP_CLIENT_SECRET, DEV_IDP_REDIRECT_URIS (comma or space separated),
// DEV_IDP_ACCESS_TOKEN_TTL. Command-line options win.
//
// The one client is the auth-proxy's confidential client: client_secret_basic, authorization
// code + refresh token, PKCE (S256) required. Scopes openid profile email offline_access; ID
// tokens are ES256, signed with a key generated at every start. A refresh token is issued
// whenever the client may use the refresh grant (not only with offline_access + prompt=consent,
// oidc-provider's default).
//
// Prints `dev-idp listening on <issuer>` when ready. Listens on 127.0.0.1 only. Stops on
// SIGTERM/SIGINT.
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import Provider from 'oidc-provider';
import { generateKeyPair, exportJWK } from 'jose';

const env = process.env;
const valueOptions = new Set(['--port', '--issuer', '--client-id', '--client-secret', '--redirect-uri', '--access-token-ttl']);
// `--client-secret -abc` is a value, not an option (random secrets may start with a dash):
// join every value option with its argument before parseArgs sees them.
const args = [];
for (let i = 2; i < process.argv.length; i += 1) {
  const a = process.argv[i];
  if (valueOptions.has(a) && i + 1 < process.argv.length) {
    args.push(`${a}=${process.argv[i + 1]}`);
    i += 1;
  } else {
    args.push(a);
  }
}
const { values } = parseArgs({
  args,
  options: {
    port: { type: 'string', default: env.DEV_IDP_PORT ?? '9400' },
    issuer: { type: 'string', default: env.DEV_IDP_ISSUER },
    'client-id': { type: 'string', default: env.DEV_IDP_CLIENT_ID ?? 'auth-proxy' },
    'client-secret': { type: 'string', default: env.DEV_IDP_CLIENT_SECRET },
    'redirect-uri': { type: 'string', multiple: true },
    'access-token-ttl': { type: 'string', default: env.DEV_IDP_ACCESS_TOKEN_TTL ?? '3600' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  console.log('usage: node idp/dev-idp.mjs --port P --client-id ID --client-secret S --redirect-uri URI [--redirect-uri URI…] [--issuer URL] [--access-token-ttl SECS]');
  process.exit(0);
}
const redirectUris = values['redirect-uri'] ?? (env.DEV_IDP_REDIRECT_URIS ?? '').split(/[\s,]+/).filter(Boolean);
if (!values['client-secret']) {
  console.error('dev-idp: --client-secret (or DEV_IDP_CLIENT_SECRET) is required');
  process.exit(2);
}
if (redirectUris.length === 0) {
  console.error('dev-idp: at least one --redirect-uri (or DEV_IDP_REDIRECT_URIS) is required, e.g. http://127.0.0.1:8080/callback');
  process.exit(2);
}
const port = Number(values.port);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`dev-idp: bad --port ${values.port}`);
  process.exit(2);
}
const issuer = (values.issuer ?? `http://127.0.0.1:${port}`).replace(/\/+$/, '');

// A few named development accounts; any other login name is an account of its own.
const DEV_ACCOUNTS = {
  alice: { name: 'Alice Example', email: 'alice@example.test' },
  bob: { name: 'Bob Example', email: 'bob@example.test' },
  admin: { name: 'Nextcloud Admin', email: 'admin@example.test' },
};

function account(id) {
  const known = DEV_ACCOUNTS[id];
  return {
    sub: id,
    name: known?.name ?? id,
    preferred_username: id,
    email: known?.email ?? `${id.replace(/[^A-Za-z0-9._+-]/g, '_')}@example.test`,
    email_verified: true,
  };
}

const { privateKey } = await generateKeyPair('ES256', { extractable: true });
const signingKey = { ...(await exportJWK(privateKey)), kid: `dev-idp-${randomBytes(4).toString('hex')}`, alg: 'ES256', use: 'sig' };

const provider = new Provider(issuer, {
  clients: [{
    client_id: values['client-id'],
    client_secret: values['client-secret'],
    redirect_uris: redirectUris,
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
  // Put the profile/email claims into the ID token as well (as Keycloak or Nextcloud do), not
  // only into userinfo.
  conformIdTokenClaims: false,
  // Without this hook oidc-provider issues a refresh token only for offline_access + consent.
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  ttl: { AccessToken: Number(values['access-token-ttl']) },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  async findAccount(ctx, id) {
    return { accountId: id, async claims() { return account(id); } };
  },
});

// Say on the login page what the development IdP accepts (people use it through `make run`).
const NOTE = '<p class="dev-idp-note" style="margin:0 0 1em;padding:.6em .8em;border-radius:6px;background:#fff4e5;color:#8a4b00;font-size:14px">'
  + 'Development IdP: <strong>any username and any password</strong> sign in. The username becomes your user id '
  + `(try ${Object.keys(DEV_ACCOUNTS).join(', ')} or any other name).</p>`;
provider.use(async (ctx, next) => {
  await next();
  if (ctx.path.startsWith('/interaction/') && typeof ctx.body === 'string' && ctx.body.includes('name="login"')) {
    ctx.body = ctx.body.replace('<form', `${NOTE}<form`);
  }
});
provider.on('server_error', (ctx, err) => console.error('dev-idp server_error', err));

const server = provider.listen(port, '127.0.0.1', () => {
  console.log(`dev-idp listening on ${issuer}`);
});
server.on('error', (err) => {
  console.error(`dev-idp: cannot listen on 127.0.0.1:${port}: ${err.message}`);
  process.exit(1);
});
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  server.close(() => process.exit(0));
  // Browsers keep connections alive; do not wait for them.
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
