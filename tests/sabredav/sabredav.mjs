// Starts the real sabre/dav test server (server.php beside this file) under PHP's built-in web
// server on a free loopback port, in a fresh temporary folder (SQLite database, users' files,
// users file), and provisions users in it. See README.md beside this file.
//
//   const dav = await startSabreDav({ users: { alice: 'pw' } });
//   // dav.base = 'http://127.0.0.1:PORT'; DAV at `${dav.base}/remote.php/dav/`
//   await dav.addUser('bob', 'pw2');
//   await dav.raw('calendars', 'alice', 'personal', 'x.ics');   // stored bytes, or null
//   await dav.objects('addressbooks', 'alice', 'contacts');     // [{name, etag, data}]
//   dav.readFile('alice', 'Documents/a.txt');                   // stored file (utf8), or null
//   await dav.setApps({ files_trashbin: false });               // DELETE deletes for good then
//   await dav.createSystemTag('Restricted', { userAssignable: false }); // as an admin; → id
//   await dav.close();
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, waitFor, launch } from '../lib/procs.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const serverScript = path.join(here, 'server.php');
const repoRoot = path.resolve(here, '..', '..');
const PHP = process.env.PHP_BIN ?? 'php';

/** The shared sabre/dav folder: $SABRE_DAV_DIR, else <repository>/../shared/sabre-dav. */
export function sabreDavDir() {
  const dir = process.env.SABRE_DAV_DIR || path.resolve(repoRoot, '..', 'shared', 'sabre-dav');
  if (!existsSync(path.join(dir, 'autoload.php'))) {
    throw new Error(`sabre/dav not found: ${dir}/autoload.php is missing. The shared folder (shared/sabre-dav, `
      + 'the libraries Nextcloud 32 runs) must sit beside the repository, or SABRE_DAV_DIR must name it.');
  }
  return dir;
}

/**
 * Starts the server and provisions `users` ({user: password}). Returns
 *   { base, port, dir, addUser(user, password, {displayname, email}?), raw(kind, user, collection,
 *     name) → Promise<string|null>, objects(kind, user, collection) → Promise<[{name, etag,
 *     data}]>, readFile(user, path, encoding = 'utf8') → string|Buffer|null (synchronous),
 *     output() → the server's log, close() }.
 * `kind` is 'calendars' or 'addressbooks'. `dir` holds db.sqlite, files/<user>/… (the users'
 * files, NFC names) and users.json.
 */
export async function startSabreDav({ users = {} } = {}) {
  const sabreDir = sabreDavDir();
  const dir = await mkdtemp(path.join(os.tmpdir(), 'sabredav-'));
  const secret = randomBytes(24).toString('base64url');
  const env = {
    SABRE_DAV_DIR: sabreDir,
    SABREDAV_DB: path.join(dir, 'db.sqlite'),
    SABREDAV_FILES: path.join(dir, 'files'),
    SABREDAV_USERS: path.join(dir, 'users.json'),
    SABREDAV_TEST_SECRET: secret,
  };
  let proc;
  try {
    await mkdir(env.SABREDAV_FILES, { mode: 0o700 });
    await mkdir(path.join(dir, 'www'));
    await writeFile(env.SABREDAV_USERS, '{}\n', { mode: 0o600 });
    try {
      await promisify(execFile)(PHP, [serverScript, '--init'], { env: { ...process.env, ...env } });
    } catch (e) {
      if (e.code === 'ENOENT') throw new Error(`\`${PHP}\` not found: install php-cli php-sqlite3 php-xml php-mbstring php-intl (scripts/ensure-deps.sh does)`);
      throw new Error(`creating the sabre/dav database failed: ${e.stderr || e.message}`);
    }
    const port = await freePort();
    // -t: an empty document root, so nothing but the router script ever answers.
    proc = launch('sabre/dav (php -S)', PHP, [
      '-d', 'display_errors=0', '-d', 'log_errors=1', '-d', 'expose_php=0', '-d', 'memory_limit=512M',
      '-S', `127.0.0.1:${port}`, '-t', path.join(dir, 'www'), serverScript,
    ], { ...env, PHP_CLI_SERVER_WORKERS: '4' }, { detached: true });
    // However it is stopped (close(), the harness's stopAll()), its folder goes with it.
    proc.once('exit', () => { rm(dir, { recursive: true, force: true }).catch(() => {}); });
    const base = `http://127.0.0.1:${port}`;
    const headers = { 'x-test-secret': secret };
    await waitFor('sabre/dav', async () => (await fetch(`${base}/__test/ping`, { headers })).status === 200, { proc });

    const dav = {
      base,
      port,
      dir,
      output: () => proc.output(),
      async addUser(user, password, { displayname, email } = {}) {
        const res = await fetch(`${base}/__test/users/${encodeURIComponent(user)}`, {
          method: 'POST',
          headers: { ...headers, 'content-type': 'application/json' },
          body: JSON.stringify({ password, displayname, email }),
        });
        const text = await res.text();
        if (res.status !== 200 && res.status !== 201) throw new Error(`sabre/dav: adding user ${user} answered ${res.status}: ${text}`);
        return JSON.parse(text);
      },
      async raw(kind, user, collection, name) {
        if (kind !== 'calendars' && kind !== 'addressbooks') throw new Error(`raw: kind must be 'calendars' or 'addressbooks', not ${kind}`);
        const segs = [kind, user, collection, name].map(encodeURIComponent).join('/');
        const res = await fetch(`${base}/__test/raw/${segs}`, { headers });
        if (res.status === 404) { await res.arrayBuffer(); return null; }
        if (res.status !== 200) throw new Error(`sabre/dav: raw ${segs} answered ${res.status}: ${await res.text()}`);
        return res.text();
      },
      async objects(kind, user, collection) {
        if (kind !== 'calendars' && kind !== 'addressbooks') throw new Error(`objects: kind must be 'calendars' or 'addressbooks', not ${kind}`);
        const segs = [kind, user, collection].map(encodeURIComponent).join('/');
        const res = await fetch(`${base}/__test/raw/${segs}/`, { headers });
        if (res.status !== 200) throw new Error(`sabre/dav: listing ${segs} answered ${res.status}: ${await res.text()}`);
        return res.json();
      },
      readFile(user, filePath, encoding = 'utf8') {
        const rel = filePath.normalize('NFC').split('/').filter(Boolean);
        if (rel.some((s) => s === '..')) throw new Error(`readFile: bad path ${filePath}`);
        try {
          return readFileSync(path.join(env.SABREDAV_FILES, user, ...rel), encoding === null ? undefined : encoding);
        } catch (e) {
          if (e.code === 'ENOENT' || e.code === 'EISDIR' || e.code === 'ENOTDIR') return null;
          throw e;
        }
      },
      /** Switches files_trashbin / files_versions on or off (`{ files_trashbin: false }`). */
      async setApps(apps) {
        const res = await fetch(`${base}/__test/apps`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(apps) });
        if (res.status !== 200) throw new Error(`sabre/dav: setting apps answered ${res.status}: ${await res.text()}`);
        return res.json();
      },
      /** Creates a system tag as an admin may (`userVisible`/`userAssignable` false too); its id. */
      async createSystemTag(name, { userVisible = true, userAssignable = true } = {}) {
        const res = await fetch(`${base}/__test/systemtags`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ name, userVisible, userAssignable }) });
        if (res.status !== 201) throw new Error(`sabre/dav: creating tag ${name} answered ${res.status}: ${await res.text()}`);
        return (await res.json()).id;
      },
      async close() {
        await proc.stop();
        await rm(dir, { recursive: true, force: true });
      },
    };
    for (const [user, password] of Object.entries(users)) await dav.addUser(user, password);
    return dav;
  } catch (e) {
    await proc?.stop();
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}
