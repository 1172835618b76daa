// Issue 11, `make run`: scripts/dev-stack.sh as a person starts it (dev IdP, auth-proxy with the
// default app-password strategy, mcp-server, and the Nextcloud stand-in as a stock Nextcloud with
// "Log in with OpenID Connect" through the same dev IdP), on free ports, its secrets in a
// temporary DEV_STATE_DIR. The official TypeScript SDK signs in: the dev IdP in the client's
// browser, then our connect page, whose "Open Nextcloud" tab (other cookies) logs in to Nextcloud
// by SSO (the IdP asks again there: same username) and grants access; then one tool of every
// family works. At the end the whole process group stops and nothing it started is left running.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import { repoRoot, freePort, waitFor, completeAuthorization, isConnectPage, NEXTCLOUD_USERS } from '../lib/harness.mjs';
import { callOk } from '../lib/sdk-client.mjs';

const USER = 'morgan'; // not a password user of the harness: Nextcloud is reached by SSO only
assert.equal(NEXTCLOUD_USERS[USER], undefined);
const CLIENT_NAME = 'MCP TypeScript SDK e2e (make run)';

let stack; // { child, ports, devDir, output(), exited }
let redirectUri;

/** Process table rows: pid, ppid, pgid, stat, args. */
function processes() {
  return execFileSync('ps', ['-eo', 'pid=,ppid=,pgid=,stat=,args='], { encoding: 'utf8' }).split('\n').filter(Boolean).map((line) => {
    const [pid, ppid, pgid, stat, ...args] = line.trim().split(/\s+/);
    return { pid: Number(pid), ppid: Number(ppid), pgid: Number(pgid), stat, args: args.join(' ') };
  });
}

/** `root` and everything below it in the process tree (a detached grandchild included). */
function descendants(root) {
  const all = processes();
  const found = all.filter((p) => p.pid === root);
  for (let i = 0; i < found.length; i += 1) found.push(...all.filter((p) => p.ppid === found[i].pid));
  return found;
}

/**
 * Those of `procs` still running as the same program (pid reuse aside). An exited process that
 * is not reaped yet (a zombie, e.g. a worker re-parented to init) runs nothing and does not count.
 */
const alive = (procs) => {
  const now = processes();
  return procs.filter((p) => now.some((q) => q.pid === p.pid && q.args === p.args && !q.stat.startsWith('Z')));
};

/** Everything the script started, seen once the stack is ready (for the orphan check). */
let tree = [];

before(async () => {
  for (const bin of ['auth-proxy', 'mcp-server']) {
    const p = path.join(repoRoot, 'target', 'debug', bin);
    if (!existsSync(p)) throw new Error(`${p} missing: run \`cargo build --workspace --locked\` (make test does)`);
  }
  const ports = {
    proxy: await freePort(), mcp: await freePort(), idp: await freePort(), nextcloud: await freePort(),
    proxyMetrics: await freePort(), mcpMetrics: await freePort(), client: await freePort(),
  };
  redirectUri = `http://127.0.0.1:${ports.client}/oauth/callback`;
  const devDir = mkdtempSync(path.join(tmpdir(), 'make-run-'));
  // The stack as `make run` starts it: only the ports and the state folder differ. Nothing of
  // this process's own service configuration leaks in.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AUTH_PROXY_|MCP_SERVER_|NEXTCLOUD_STANDIN_|DEV_IDP_|DEV_STATE_DIR$)/.test(k)));
  Object.assign(env, {
    PROXY_PORT: String(ports.proxy), MCP_PORT: String(ports.mcp), DEV_IDP_PORT: String(ports.idp),
    NEXTCLOUD_STANDIN_PORT: String(ports.nextcloud), DEV_STATE_DIR: devDir,
    AUTH_PROXY_METRICS_BIND: `127.0.0.1:${ports.proxyMetrics}`, MCP_SERVER_METRICS_BIND: `127.0.0.1:${ports.mcpMetrics}`,
  });
  // Its own process group (detached), so the whole stack can be ended at once.
  const child = spawn(path.join(repoRoot, 'scripts', 'dev-stack.sh'), [], { cwd: repoRoot, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  child.output = () => out; // for waitFor, which fails early with it if the script exits
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  stack = { child, ports, devDir, output: () => out, exited };
  const base = (port) => `http://127.0.0.1:${port}`;
  const ok200 = async (url) => (await fetch(url)).status === 200;
  try {
    await waitFor('make run stack', async () => {
      if (child.signalCode !== null) throw new Error(`dev-stack.sh ended by ${child.signalCode}`);
      return await ok200(`${base(ports.proxy)}/readyz`)
        && await ok200(`${base(ports.mcp)}/readyz`)
        && await ok200(`${base(ports.nextcloud)}/status.php`)
        && await ok200(`${base(ports.idp)}/.well-known/openid-configuration`);
    }, { timeoutMs: 30000, proc: child });
  } catch (e) {
    throw new Error(`${e.message}\n--- dev-stack.sh output ---\n${out.slice(-6000)}`);
  }
  tree = descendants(child.pid);
});

/** Ends the script's process group (SIGTERM, as Ctrl-C would; SIGKILL after 10 s). */
async function stopStack() {
  if (!stack || stack.stopped) return;
  stack.stopped = true;
  const { child } = stack;
  if (child.exitCode === null && child.signalCode === null) {
    try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
    const hard = setTimeout(() => { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }, 10000);
    await stack.exited;
    clearTimeout(hard);
  }
}

after(async () => {
  await stopStack();
  // A safety net only (the last test checks this): nothing the stack started keeps running.
  for (const p of alive(tree)) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
  if (stack) rmSync(stack.devDir, { recursive: true, force: true });
});

/** An in-memory OAuthClientProvider, as a desktop client would implement it. */
class MemoryProvider {
  get redirectUrl() { return redirectUri; }
  get clientMetadata() {
    return { client_name: CLIENT_NAME, redirect_uris: [redirectUri], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this.saved; }
  saveTokens(tokens) { this.saved = tokens; }
  redirectToAuthorization(url) { this.authorizationUrl = url; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
  invalidateCredentials(scope) { if (scope === 'all' || scope === 'tokens') this.saved = undefined; }
}

const ok = (client, name, args) => callOk(client, name, args, { structured: false });

test('make run (stock stand-in): the SDK signs in, Nextcloud by SSO through the dev IdP, and every tool family works', { timeout: 60000 }, async () => {
  try {
    const url = new URL(`http://127.0.0.1:${stack.ports.mcp}/mcp`);
    const provider = new MemoryProvider();
    const client = new Client({ name: 'e2e-make-run', version: '1.0.0' });
    const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
    await assert.rejects(client.connect(first), UnauthorizedError);
    assert.ok(provider.authorizationUrl, 'the SDK asked to open the authorization page');
    assert.equal(provider.authorizationUrl.origin, `http://127.0.0.1:${stack.ports.proxy}`, 'the auth-proxy of the stack authorizes');
    // The person: proxy consent, dev IdP login as USER, our connect page; Nextcloud in another tab
    // (no password user there: "Log in with OpenID Connect", the dev IdP again as USER), grant.
    const run = await completeAuthorization(provider.authorizationUrl, redirectUri, { login: USER, nextcloudSso: true });
    assert.ok(run.query.code, `authorization answered ${run.redirect}`);
    assert.ok(run.connect, 'the connect page was on the way (app-password strategy)');
    assert.ok(run.trace.some((t) => isConnectPage(t.url) && t.status === 303 && t.location.startsWith(redirectUri)), 'the connect page sent the browser on');
    assert.equal(new URL(run.connect.loginUrl).origin, `http://127.0.0.1:${stack.ports.nextcloud}`, 'a#open-nextcloud opens the stand-in');
    const ncTrace = run.connect.nextcloud.browser.trace;
    assert.ok(ncTrace.some((t) => new URL(t.url).pathname.startsWith('/index.php/apps/user_oidc/login/')), `Nextcloud login by SSO: ${JSON.stringify(ncTrace.map((t) => t.url))}`);
    assert.ok(ncTrace.some((t) => t.url.startsWith(`http://127.0.0.1:${stack.ports.idp}/`)), 'through the dev IdP');
    assert.ok(!ncTrace.some((t) => t.method === 'POST' && new URL(t.url).pathname.endsWith('/login') && new URL(t.url).port === String(stack.ports.nextcloud)), 'no Nextcloud password login');
    assert.match(run.connect.nextcloud.html, /Account connected/);
    await first.finishAuth(run.query.code);
    await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));

    const who = await ok(client, 'whoami', {});
    assert.equal(who.user.id, USER);
    const note = await ok(client, 'notes_create', { title: 'From make run', content: 'signed in through the dev stack' });
    assert.equal(note.title, 'From make run');
    const notes = await ok(client, 'notes_list', {});
    assert.ok(notes.notes.some((n) => n.id === note.id && n.title === 'From make run'), JSON.stringify(notes));
    await ok(client, 'files_write', { path: 'make-run.txt', content: 'hello from make run', create_only: true });
    const files = await ok(client, 'files_list', { path: '/' });
    assert.ok(files.entries.some((e) => e.name === 'make-run.txt'), JSON.stringify(files));
    const calendars = await ok(client, 'calendar_list_calendars', {});
    assert.ok(calendars.calendars.some((c) => c.id === 'personal'), JSON.stringify(calendars));
    const event = await ok(client, 'calendar_create_event', { calendar_id: 'personal', summary: 'make run works', start: '2031-06-01T10:00:00Z', end: '2031-06-01T11:00:00Z' });
    assert.equal(event.summary, 'make run works');
    const books = await ok(client, 'contacts_list_addressbooks', {});
    assert.ok(books.addressbooks.some((b) => b.id === 'contacts'), JSON.stringify(books));
    const contact = await ok(client, 'contacts_create', { addressbook_id: 'contacts', full_name: 'Make Run', emails: ['make-run@example.com'] });
    assert.ok(contact.uid || contact.id, JSON.stringify(contact));
    await client.close();
  } catch (e) {
    console.error(`--- dev-stack.sh output, last 6000 chars ---\n${stack.output().slice(-6000)}`);
    throw e;
  }
});

test('make run stops whole: SIGTERM to its process group leaves no process running', { timeout: 30000 }, async () => {
  assert.ok(tree.length >= 5, `the script, dev IdP, stand-in (+ its PHP sabre/dav), mcp-server, auth-proxy: ${JSON.stringify(tree)}`);
  assert.ok(tree.some((p) => /\bphp\b/.test(p.args)), `sabre/dav's PHP server was among them: ${JSON.stringify(tree.map((p) => p.args))}`);
  // No generated secret is on a command line (world-readable in ps).
  for (const file of readdirSync(stack.devDir)) {
    const secret = readFileSync(path.join(stack.devDir, file), 'utf8').trim();
    assert.ok(secret.length >= 32, file);
    assert.ok(!tree.some((p) => p.args.includes(secret)), `the ${file} value is on a command line`);
  }
  await stopStack();
  await waitFor('every process of the stack to end', () => alive(tree).length === 0, { timeoutMs: 8000 }).catch(() => {
    throw new Error(`still running after the stack stopped: ${JSON.stringify(alive(tree))}`);
  });
  // The state folder holds only the generated secrets (nothing was written in the repository's .dev/).
  assert.deepEqual(readdirSync(stack.devDir).sort(), ['exchange-secret', 'idp-client-secret']);
});
