// The Nextcloud stand-in's command line (standin.mjs runs main() when started as a program):
//   node tests/nextcloud/standin.mjs --port 9500 --idp-issuer http://127.0.0.1:9400 \
//        [--basic-user alice:app-password]… [--login-user bob:password]… [--patched-user-oidc] \
//        [--oidc-client-id ID --oidc-client-secret-file FILE] [--no-dav]
// A stock Nextcloud by default (Notes refuses Bearer: "CORS requires basic auth");
// `--patched-user-oidc` (alias `--no-stock`) is Nextcloud with the patched user_oidc, where Bearer
// works everywhere; `--stock` is accepted and is the default. `--oidc-client-id` with
// `--oidc-client-secret-file` (a client at --idp-issuer whose redirect URIs include
// <stand-in>/index.php/apps/user_oidc/code) puts user_oidc's "Log in with OpenID Connect" on the
// login page. env: NEXTCLOUD_STANDIN_PORT, NEXTCLOUD_STANDIN_IDP_ISSUER,
// NEXTCLOUD_STANDIN_BASIC_USERS="a:pw,b:pw2", NEXTCLOUD_STANDIN_LOGIN_USERS (same form),
// NEXTCLOUD_STANDIN_STOCK=0 (patched user_oidc; 1 or unset: stock),
// NEXTCLOUD_STANDIN_OIDC_CLIENT_ID, NEXTCLOUD_STANDIN_OIDC_CLIENT_SECRET_FILE. Starts its own
// sabre/dav unless --no-dav. Passwords and secrets are never printed.
import { readFileSync } from 'node:fs';

export function parseCli(argv, env) {
  const opts = {
    port: env.NEXTCLOUD_STANDIN_PORT ? Number(env.NEXTCLOUD_STANDIN_PORT) : 0,
    idpIssuer: env.NEXTCLOUD_STANDIN_IDP_ISSUER || undefined,
    basicUsers: {},
    loginUsers: {},
    stock: env.NEXTCLOUD_STANDIN_STOCK !== '0',
    dav: true,
    oidcClientId: env.NEXTCLOUD_STANDIN_OIDC_CLIENT_ID || undefined,
    oidcClientSecretFile: env.NEXTCLOUD_STANDIN_OIDC_CLIENT_SECRET_FILE || undefined,
  };
  const addBasic = (spec, into = opts.basicUsers) => {
    for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
      const i = item.indexOf(':');
      if (i <= 0) throw new Error(`--basic-user wants user:app-password, got "${item.slice(0, i < 0 ? item.length : i)}:…"`);
      into[item.slice(0, i)] = item.slice(i + 1);
    }
  };
  if (env.NEXTCLOUD_STANDIN_BASIC_USERS) addBasic(env.NEXTCLOUD_STANDIN_BASIC_USERS);
  if (env.NEXTCLOUD_STANDIN_LOGIN_USERS) addBasic(env.NEXTCLOUD_STANDIN_LOGIN_USERS, opts.loginUsers);
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const value = () => { if (inline !== undefined) return inline; i += 1; if (i >= argv.length) throw new Error(`${flag} needs a value`); return argv[i]; };
    switch (flag) {
      case '--port': opts.port = Number(value()); break;
      case '--idp-issuer': opts.idpIssuer = value(); break;
      case '--basic-user': addBasic(value()); break;
      case '--no-dav': opts.dav = false; break;
      case '--login-user': addBasic(value(), opts.loginUsers); break;
      case '--stock': opts.stock = true; break;
      case '--patched-user-oidc': case '--no-stock': opts.stock = false; break;
      case '--oidc-client-id': opts.oidcClientId = value(); break;
      case '--oidc-client-secret-file': opts.oidcClientSecretFile = value(); break;
      case '--help': case '-h':
        process.stdout.write('usage: node tests/nextcloud/standin.mjs [--port N] [--idp-issuer URL] [--basic-user user:app-password]... [--login-user user:password]... [--patched-user-oidc] [--oidc-client-id ID --oidc-client-secret-file FILE] [--no-dav]\n');
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${flag}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('--port must be 0..65535');
  const { oidcClientId, oidcClientSecretFile } = opts;
  delete opts.oidcClientId;
  delete opts.oidcClientSecretFile;
  if (Boolean(oidcClientId) !== Boolean(oidcClientSecretFile)) throw new Error('--oidc-client-id and --oidc-client-secret-file go together');
  if (oidcClientId) {
    if (!opts.idpIssuer) throw new Error('--oidc-client-id needs --idp-issuer');
    opts.oidcClient = { clientId: oidcClientId, clientSecret: readFileSync(oidcClientSecretFile, 'utf8').trim() };
  }
  return opts;
}

/** Runs the stand-in until SIGTERM/SIGINT. `startNextcloud` is standin.mjs's (passed in, no import cycle). */
export async function main(startNextcloud) {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2), process.env);
  } catch (e) {
    process.stderr.write(`nextcloud-standin: ${e.message}\n`);
    process.exit(2);
  }
  let dav = null;
  let nc;
  try {
    if (opts.dav) {
      const { startSabreDav } = await import('../sabredav/sabredav.mjs');
      dav = await startSabreDav();
    }
    nc = await startNextcloud({ ...opts, dav, log: (line) => process.stderr.write(`nextcloud-standin: ${line}\n`) });
  } catch (e) {
    await dav?.close();
    process.stderr.write(`nextcloud-standin: ${e.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`nextcloud-standin listening on ${nc.base}${dav ? ` (DAV: sabre/dav at ${dav.base})` : ' (no DAV server)'}\n`);
  process.stderr.write(`nextcloud-standin: ${opts.stock ? 'stock Nextcloud: #[CORS] app APIs (Notes) refuse Bearer tokens (--patched-user-oidc for the patched user_oidc)' : 'patched user_oidc: Bearer tokens work on every API'}; Login Flow v2 at ${nc.base}/index.php/login/v2${opts.oidcClient ? '; SSO login through the IdP' : ''}\n`);
  // `on`, not `once`: a stack stopped as a whole sends the group's SIGTERM and then its script's
  // own; a second signal must not kill this process before sabre/dav's PHP group is stopped.
  let stopping = null;
  const stop = () => { stopping ??= (async () => { await nc.close(); await dav?.close(); process.exit(0); })(); };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}
