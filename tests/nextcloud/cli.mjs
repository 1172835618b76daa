// The Nextcloud stand-in's command line (standin.mjs runs main() when started as a program):
//   node tests/nextcloud/standin.mjs --port 9500 --idp-issuer http://127.0.0.1:9400 \
//        [--basic-user alice:app-password]… [--login-user bob:password]… [--stock] [--no-dav]
// env: NEXTCLOUD_STANDIN_PORT, NEXTCLOUD_STANDIN_IDP_ISSUER, NEXTCLOUD_STANDIN_BASIC_USERS="a:pw,b:pw2",
// NEXTCLOUD_STANDIN_LOGIN_USERS (same form), NEXTCLOUD_STANDIN_STOCK=1. Starts its own sabre/dav
// unless --no-dav. Passwords are never printed.

export function parseCli(argv, env) {
  const opts = {
    port: env.NEXTCLOUD_STANDIN_PORT ? Number(env.NEXTCLOUD_STANDIN_PORT) : 0,
    idpIssuer: env.NEXTCLOUD_STANDIN_IDP_ISSUER || undefined,
    basicUsers: {},
    loginUsers: {},
    stock: env.NEXTCLOUD_STANDIN_STOCK === '1',
    dav: true,
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
      case '--help': case '-h':
        process.stdout.write('usage: node tests/nextcloud/standin.mjs [--port N] [--idp-issuer URL] [--basic-user user:app-password]... [--login-user user:password]... [--stock] [--no-dav]\n');
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${flag}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('--port must be 0..65535');
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
  process.stderr.write(`nextcloud-standin: ${opts.stock ? 'stock Nextcloud: #[CORS] app APIs (Notes) refuse Bearer tokens' : 'patched user_oidc: Bearer tokens work on every API (--stock for a stock Nextcloud)'}; Login Flow v2 at ${nc.base}/index.php/login/v2\n`);
  const stop = async () => { await nc.close(); await dav?.close(); process.exit(0); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
