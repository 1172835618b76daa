// Issue 11: per-user Nextcloud app passwords through Login Flow v2, against the stand-in as a
// STOCK Nextcloud (Notes refuses Bearer). The official TypeScript SDK client signs in; at the
// auth-proxy's callback the browser goes to our /nextcloud/connect page, a person opens
// Nextcloud from there (another site, other cookies), logs in and grants access, and the connect
// page moves on to the client by itself. Then: every tool family works with HTTP Basic only; a
// second sign-in reuses the app password; a flow granted by another Nextcloud user is refused
// and that app password deleted; revocation deletes the app password and stops tool calls at
// once; the flow times out cleanly; Nextcloud outages at the start and while polling; two
// auth-proxy replicas share the flow; and no app password ever reaches a log.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { UnauthorizedError } from '@modelcontextprotocol/sdk/client/auth.js';
import {
  startStack, startRedis, startIdp, startProxy, startNextcloud, register, runAuthorization, redeemCode,
  completeAuthorization, completeConnect, approveLoginFlow, linkById, isConnectPage, revoke, freePort,
  waitFor, Browserless, newSigningKeyPem, newEncryptionKey, NEXTCLOUD_USERS,
  startedProxies, startedMcpServers, dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll,
} from '../lib/harness.mjs';
import { textOf, callOk } from '../lib/sdk-client.mjs';

const REDIRECT = 'http://127.0.0.1:17995/oauth/callback';
const CLIENT_NAME = 'MCP TypeScript SDK e2e (app password)';

/** An in-memory OAuthClientProvider, as a desktop client would implement it. */
class MemoryProvider {
  constructor(name = CLIENT_NAME) { this.name = name; }
  get redirectUrl() { return REDIRECT; }
  get clientMetadata() {
    return { client_name: this.name, redirect_uris: [REDIRECT], grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none' };
  }
  clientInformation() { return this.client; }
  saveClientInformation(info) { this.client = info; }
  tokens() { return this.saved; }
  saveTokens(tokens) { this.saved = tokens; }
  redirectToAuthorization(url) { this.authorizationUrl = url; }
  saveCodeVerifier(v) { this.verifier = v; }
  codeVerifier() { return this.verifier; }
  /** The SDK calls this when the authorization server refuses the stored refresh token. */
  invalidateCredentials(scope) { if (scope === 'all' || scope === 'tokens') this.saved = undefined; }
}

/** Every Nextcloud stand-in of this file (their issued app passwords are looked for in logs). */
const nextclouds = [];
let stack;

before(async () => {
  stack = await startStack();
  nextclouds.push(stack.nextcloud);
});
after(async () => { await stack?.stop(); for (const nc of nextclouds) await nc.stop().catch(() => {}); await stopAll(); });
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const names = (list) => list.map((a) => a.name);

/** The SDK from a bare 401 through the whole sign-in (`provider` may be a signed-in one again). */
async function sdkSignIn(provider = new MemoryProvider(), options = {}) {
  const url = new URL(stack.mcpServers[0].url);
  const client = new Client({ name: 'e2e-app-password', version: '1.0.0' });
  provider.saved = undefined;
  provider.authorizationUrl = undefined;
  const first = new StreamableHTTPClientTransport(url, { authProvider: provider });
  await assert.rejects(client.connect(first), UnauthorizedError);
  assert.ok(provider.authorizationUrl, 'the SDK asked to open the authorization page');
  const run = await completeAuthorization(provider.authorizationUrl, REDIRECT, options);
  assert.ok(run.query.code, `authorization answered ${run.redirect}`);
  await first.finishAuth(run.query.code);
  await client.connect(new StreamableHTTPClientTransport(url, { authProvider: provider }));
  return { client, provider, run };
}

const ok = (client, name, args) => callOk(client, name, args, { structured: false });

/** A 303 from a connect page must go to the client with a code, state and iss. */
function assertCodeRedirect(redirect, state, proxyIssuer) {
  const u = new URL(redirect);
  assert.ok(u.searchParams.get('code'), redirect);
  if (state !== undefined) assert.equal(u.searchParams.get('state'), state);
  assert.equal(u.searchParams.get('iss'), proxyIssuer);
}

/** The `#return` link of a refusal page: access_denied back to the client, with state and no code. */
function assertAccessDeniedReturn(html, { redirectUri, state, issuer }) {
  const back = linkById(html, 'return');
  assert.ok(back, `no a#return on ${html.slice(0, 600)}`);
  const u = new URL(back);
  assert.equal(`${u.origin}${u.pathname}`, redirectUri);
  assert.equal(u.searchParams.get('error'), 'access_denied');
  assert.equal(u.searchParams.get('state'), state);
  assert.equal(u.searchParams.get('iss'), issuer);
  assert.equal(u.searchParams.get('code'), null);
  assert.ok(u.searchParams.get('error_description'), 'it says why');
}

let firstSignIn;

test('(a) the SDK signs in through Login Flow v2; every tool family works with HTTP Basic, never Bearer', { timeout: 60000 }, async () => {
  const nc = stack.nextcloud;
  assert.deepEqual(nc.state.appPasswords('alice'), []);
  const signedIn = await sdkSignIn();
  firstSignIn = signedIn;
  const { client, run } = signedIn;
  // The browser went through our connect page, and alice granted the flow in Nextcloud.
  assert.ok(run.connect, 'the connect page was on the way');
  assert.ok(run.trace.some((t) => isConnectPage(t.url) && t.status === 200), 'the connect page was shown');
  assert.ok(run.trace.some((t) => isConnectPage(t.url) && t.status === 303 && t.location.startsWith(REDIRECT)), 'the connect page sent the browser on');
  assert.ok(new URL(run.connect.loginUrl).pathname.startsWith('/index.php/login/v2/flow/'), run.connect.loginUrl);
  assert.equal(new URL(run.connect.loginUrl).origin, nc.base, 'the link opens Nextcloud');
  assert.match(run.connect.nextcloud.html, /Account connected/);
  // The connect page's code, state and iss reached the client (finishAuth redeemed it).
  assertCodeRedirect(run.redirect, undefined, stack.proxy.issuer);
  // One app password for alice, named after the MCP client (the flow's User-Agent).
  const pws = nc.state.appPasswords('alice');
  assert.equal(pws.length, 1, JSON.stringify(pws));
  assert.ok(pws[0].name.includes(CLIENT_NAME), `app password name: ${pws[0].name}`);
  assert.deepEqual(nc.state.loginFlows(), [], 'the flow was picked up (polled) and is gone');

  const from = nc.state.requests.length;
  const who = await ok(client, 'whoami', {});
  assert.equal(who.user.id, 'alice');
  const note = await ok(client, 'notes_create', { title: 'Via app password', content: 'Basic works on stock Notes' });
  assert.equal(note.title, 'Via app password');
  assert.equal((await ok(client, 'notes_list', {})).notes.some((n) => n.id === note.id), true);
  await ok(client, 'files_write', { path: 'app-password.txt', content: 'hello', create_only: true });
  assert.ok((await ok(client, 'files_list', { path: '/' })).entries.some((e) => e.name === 'app-password.txt'));
  const calendars = await ok(client, 'calendar_list_calendars', {});
  assert.ok(calendars.calendars.some((c) => c.id === 'personal'), JSON.stringify(calendars));
  const event = await ok(client, 'calendar_create_event', { calendar_id: 'personal', summary: 'App passwords', start: '2031-05-01T10:00:00Z', end: '2031-05-01T11:00:00Z' });
  assert.equal(event.summary, 'App passwords');
  const books = await ok(client, 'contacts_list_addressbooks', {});
  assert.ok(books.addressbooks.length >= 1, JSON.stringify(books));
  const contact = await ok(client, 'contacts_create', { addressbook_id: 'contacts', full_name: 'Basic Auth', emails: ['basic@example.com'] });
  assert.ok(contact.uid || contact.id, JSON.stringify(contact));

  // What Nextcloud saw from the mcp-server: HTTP Basic as alice on Notes, OCS and DAV; no Bearer at all.
  const seen = nc.state.requests.slice(from);
  for (const prefix of ['/index.php/apps/notes/', '/ocs/v', '/remote.php/dav/files/alice', '/remote.php/dav/calendars/alice', '/remote.php/dav/addressbooks/users/alice']) {
    assert.ok(seen.some((r) => r.path.startsWith(prefix) && r.auth === 'basic' && r.user === 'alice' && r.status < 400), `Basic request to ${prefix}: ${JSON.stringify(seen.filter((r) => r.path.startsWith(prefix)))}`);
  }
  assert.deepEqual(nc.state.requests.filter((r) => r.auth === 'bearer'), [], 'no request ever carried a Bearer token');
  assert.equal(nc.state.bearerChecks, 0);
  assert.equal(nc.state.requests.filter((r) => r.status === 401 && r.path.startsWith('/index.php/apps/notes/')).length, 0, 'no "CORS requires basic auth" refusal');
});

test('(a) a second sign-in of the same user and client reuses the app password: no connect page', { timeout: 60000 }, async () => {
  assert.ok(firstSignIn, 'needs the first sign-in');
  const nc = stack.nextcloud;
  const before = nc.state.appPasswords('alice');
  const from = nc.state.requests.length;
  await firstSignIn.client.close();
  // The same registered client (provider keeps its client_id), new tokens from a new authorization.
  const again = await sdkSignIn(firstSignIn.provider);
  assert.equal(again.run.connect, null, 'no connect page the second time');
  assert.ok(!again.run.trace.some((t) => isConnectPage(t.url)), JSON.stringify(again.run.trace.map((t) => t.url)));
  assert.deepEqual(nc.state.appPasswords('alice').map((a) => a.id), before.map((a) => a.id), 'still the one app password');
  assert.equal(before.length, 1);
  // It was checked with Nextcloud at sign-in (GET /ocs/v2.php/cloud/user with it).
  assert.ok(nc.state.requests.slice(from).some((r) => r.path === '/ocs/v2.php/cloud/user' && r.auth === 'basic' && r.user === 'alice'), 'the stored app password was checked');
  assert.equal(nc.state.loginFlows().length, 0, 'no Login Flow was started');
  assert.equal((await ok(again.client, 'whoami', {})).user.id, 'alice');
  await again.client.close();
});

test('(b) a flow granted by another Nextcloud user (bob for alice) is refused, and bob\'s new app password deleted', { timeout: 60000 }, async () => {
  const nc = stack.nextcloud;
  const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  const client = await register(stack.proxy, { client_name: 'Hijack target', redirect_uris: [redirectUri] });
  assert.deepEqual(nc.state.appPasswords('bob'), []);
  const issuedBefore = nc.issuedAppPasswords.length;
  const run = await runAuthorization({ proxy: stack.proxy, client, login: 'alice', nextcloudLogin: 'bob', scope: 'notes:read' });
  assert.equal(run.query, undefined, `no redirect to the client: ${JSON.stringify(run.query)}`);
  assert.match(run.connect.nextcloud.html, /Account connected/, 'bob did grant the flow in Nextcloud');
  assert.equal(nc.issuedAppPasswords.slice(issuedBefore).filter((p) => p.uid === 'bob').length, 1, 'Nextcloud made bob an app password');
  assert.equal(run.connect.status, 403);
  assert.match(run.connect.html, /id="refused"/);
  assert.match(run.connect.headers.get('content-type'), /^text\/html/);
  assertAccessDeniedReturn(run.connect.html, { redirectUri, state: run.state, issuer: stack.proxy.issuer });
  // The app password that landed in alice's sign-in is gone from bob's account in Nextcloud.
  await waitFor('bob\'s app password to be deleted', () => nc.state.appPasswords('bob').length === 0, { timeoutMs: 5000 });
  assert.ok(nc.state.requests.some((r) => r.method === 'DELETE' && r.path === '/ocs/v2.php/core/apppassword' && r.user === 'bob' && r.status === 200), 'deleted with DELETE /ocs/v2.php/core/apppassword');
  // Alice got nothing for this client, and the refusal is final: a reload does not hand out a code.
  assert.equal(nc.state.appPasswords('alice').length, 1, 'alice still has only her first app password');
  const reload = await run.browser.follow(run.connect.url, (u) => u.startsWith(redirectUri));
  assert.ok(!reload.stoppedAt, `a reload must not reach the client: ${reload.stoppedAt}`);
  assert.ok(reload.res.status >= 400, `reload answered ${reload.res.status}`);
});

test('(c) revoking the grant deletes the app password in Nextcloud and tool calls stop within seconds', { timeout: 60000 }, async (t) => {
  const nc = stack.nextcloud;
  const provider = new MemoryProvider('Revocation client');
  const before = nc.state.appPasswords('alice').length;
  const { client } = await sdkSignIn(provider);
  assert.equal(nc.state.appPasswords('alice').length, before + 1);
  assert.ok(names(nc.state.appPasswords('alice')).some((n) => n.includes('Revocation client')));
  // Warm the mcp-server's credential cache.
  assert.equal((await ok(client, 'whoami', {})).user.id, 'alice');
  assert.ok((await ok(client, 'notes_list', {})).notes);

  const revoked = await revoke(stack.proxy, { token: provider.tokens().refresh_token, token_type_hint: 'refresh_token', client_id: provider.client.client_id });
  assert.equal(revoked.status, 200, revoked.text);
  const t0 = Date.now();
  await waitFor('the app password to be deleted in Nextcloud', () => !names(nc.state.appPasswords('alice')).some((n) => n.includes('Revocation client')), { timeoutMs: 5000 });
  assert.equal(nc.state.appPasswords('alice').length, before, 'only this client\'s app password went');
  // The access token itself is still within its lifetime; the next tool call must fail anyway.
  const outcome = await client.callTool({ name: 'notes_list', arguments: {} }).then((r) => (r.isError ? `tool error: ${textOf(r)}` : 'ok'), (e) => `rejected: ${e.message}`);
  t.diagnostic(`the tool call after revocation: ${outcome}`);
  assert.notEqual(outcome, 'ok', 'the tool call after revocation failed');
  assert.ok(Date.now() - t0 < 10000, `stopped within seconds (${Date.now() - t0} ms), not at cache expiry`);
  // The first client's app password is untouched (one per user and client).
  assert.ok(names(nc.state.appPasswords('alice')).some((n) => n.includes(CLIENT_NAME)));
  await client.close().catch(() => {});
});

test('(c) revoking the connection in Nextcloud (Devices & sessions) ends the grant; the next sign-in asks Nextcloud again', { timeout: 60000 }, async (t) => {
  const nc = stack.nextcloud;
  const provider = new MemoryProvider('Devices client');
  const { client } = await sdkSignIn(provider);
  assert.ok((await ok(client, 'notes_list', {})).notes, 'works (and the credential is cached)');
  const mine = nc.state.appPasswords('alice').find((a) => a.name.includes('Devices client'));
  assert.ok(mine, JSON.stringify(nc.state.appPasswords('alice')));
  assert.equal(nc.state.revokeAppPassword(mine.id), true);

  // The cached app password is refused; the exchange finds it revoked and ends the grant.
  const failed = await client.callTool({ name: 'notes_list', arguments: {} });
  assert.equal(failed.isError, true, textOf(failed));
  t.diagnostic(`the tool call right after: ${textOf(failed)}`);
  assert.match(textOf(failed), /[Ss]ign in again/);
  // The next call is refused at the HTTP level (401 invalid_token): the SDK tries its refresh
  // token, which the revoked grant no longer honours, and asks for a new authorization.
  provider.authorizationUrl = undefined;
  await assert.rejects(client.callTool({ name: 'notes_list', arguments: {} }), UnauthorizedError);
  assert.ok(provider.authorizationUrl, 'the SDK wants the person to sign in again');
  await client.close().catch(() => {});

  // Signing in again runs Login Flow v2 again (no working app password is stored) and works.
  const again = await sdkSignIn(provider);
  assert.ok(again.run.connect, 'the connect page was on the way again');
  assert.equal(nc.state.appPasswords('alice').filter((a) => a.name.includes('Devices client')).length, 1, 'a new app password');
  assert.ok((await ok(again.client, 'notes_list', {})).notes);
  await again.client.close();
});

// ---------------------------------------------------------------------------------------------
// Proxies of their own (short timeout, outages, replicas): redis, IdP, stand-in, auth-proxy(s)

async function proxiesWithNextcloud({ replicas = 1, env = {} } = {}) {
  const redis = await startRedis();
  const ports = await Promise.all(Array.from({ length: replicas }, () => freePort()));
  const issuer = `http://127.0.0.1:${ports[0]}`;
  const idp = await startIdp({ redirectUris: [`${issuer}/callback`] });
  const nc = await startNextcloud({ idpIssuer: idp.issuer, loginUsers: { ...NEXTCLOUD_USERS } });
  nextclouds.push(nc);
  const keys = { signing: newSigningKeyPem(), encryption: newEncryptionKey() };
  const shared = {
    AUTH_PROXY_REDIS_PREFIX: `e2e-app-pw-${randomBytes(4).toString('hex')}`,
    AUTH_PROXY_EXCHANGE_CLIENT_SECRET: randomBytes(24).toString('base64url'),
    AUTH_PROXY_NEXTCLOUD_URL: nc.base,
    ...env,
  };
  const proxies = await Promise.all(ports.map((port) => startProxy({ idp, redis, port, issuer, keys, env: shared })));
  return { redis, idp, nc, proxies, issuer };
}

test('(d) the flow times out: after AUTH_PROXY_NEXTCLOUD_LOGIN_FLOW_TIMEOUT_SECS the page says so and returns access_denied', { timeout: 60000 }, async () => {
  const { proxies: [proxy], nc } = await proxiesWithNextcloud({ env: { AUTH_PROXY_NEXTCLOUD_LOGIN_FLOW_TIMEOUT_SECS: '5' } });
  const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  const client = await register(proxy, { client_name: 'Slow person', redirect_uris: [redirectUri] });
  const run = await runAuthorization({ proxy, client, connect: 'manual' });
  assert.equal(run.connect.status, 200, run.connect.html);
  assert.ok(linkById(run.connect.html, 'open-nextcloud'), 'the waiting page links to Nextcloud');
  assert.match(run.connect.html, /<meta http-equiv="refresh" content="3"/i);
  assert.equal(nc.state.loginFlows().length, 1, 'a Login Flow was started in Nextcloud');
  // Still waiting before the timeout.
  const early = await run.browser.fetch(run.connect.url);
  assert.equal(early.status, 200);
  assert.ok(linkById(await early.text(), 'open-nextcloud'));
  await sleep(5500);
  const late = await run.browser.fetch(run.connect.url);
  const html = await late.text();
  assert.equal(late.status, 200, html);
  assert.match(html, /id="expired"/);
  assert.equal(linkById(html, 'open-nextcloud'), undefined, 'no link to Nextcloud any more');
  assertAccessDeniedReturn(html, { redirectUri, state: run.state, issuer: proxy.issuer });
  // Granting now is too late: no code for it.
  await approveLoginFlow(linkById(run.connect.html, 'open-nextcloud'), { user: 'alice' });
  const after = await run.browser.fetch(run.connect.url);
  await after.text();
  assert.notEqual(after.status, 303, 'no code after the timeout');
});

test('(e) Nextcloud down when the connect page first loads (503, retries), and down while polling (#nextcloud-unavailable); both complete', { timeout: 90000 }, async () => {
  const { proxies: [proxy], nc } = await proxiesWithNextcloud();
  const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  const client = await register(proxy, { client_name: 'Outage client', redirect_uris: [redirectUri] });
  const stop = (u) => u.startsWith(redirectUri);

  // 1. Down at the start: 503 page that refreshes itself; back up → the flow completes.
  await nc.pause();
  const run = await runAuthorization({ proxy, client, connect: 'manual' });
  assert.equal(run.connect.status, 503, run.connect.html);
  assert.match(run.connect.headers.get('content-type'), /^text\/html/);
  assert.match(run.connect.html, /<meta http-equiv="refresh" content="\d+"/i);
  assert.equal(linkById(run.connect.html, 'open-nextcloud'), undefined);
  const again = await run.browser.fetch(run.connect.url);
  assert.equal(again.status, 503, 'still down');
  await again.text();
  await nc.resume();
  const done = await completeConnect(run.browser, run.connect.url, { status: 503, html: run.connect.html }, { nextcloudLogin: 'alice', stop });
  assert.ok(done.stoppedAt, `completed after the outage: ${done.res?.status} ${done.html?.slice(0, 500)}`);
  assertCodeRedirect(done.stoppedAt, run.state, proxy.issuer);
  const redeemed = await redeemCode(proxy, client, { query: Object.fromEntries(new URL(done.stoppedAt).searchParams), pkce: run.pkce });
  assert.equal(redeemed.status, 200, JSON.stringify(redeemed.body));

  // 2. Granted in Nextcloud, then Nextcloud goes down before the page polls: still waiting,
  //    with a note; back up → completes.
  const client2 = await register(proxy, { client_name: 'Outage client 2', redirect_uris: [redirectUri] });
  const run2 = await runAuthorization({ proxy, client: client2, connect: 'manual' });
  assert.equal(run2.connect.status, 200, run2.connect.html);
  const granted = await approveLoginFlow(linkById(run2.connect.html, 'open-nextcloud'), { user: 'alice' });
  assert.match(granted.html, /Account connected/);
  await nc.pause();
  const waiting = await run2.browser.fetch(run2.connect.url);
  const waitingHtml = await waiting.text();
  assert.equal(waiting.status, 200, waitingHtml);
  assert.match(waitingHtml, /id="nextcloud-unavailable"/);
  assert.match(waitingHtml, /<meta http-equiv="refresh"/i);
  await nc.resume();
  const finished = await run2.browser.follow(run2.connect.url, stop);
  assert.ok(finished.stoppedAt, `completed after Nextcloud came back: ${finished.res?.status}`);
  assertCodeRedirect(finished.stoppedAt, run2.state, proxy.issuer);
  assert.equal(nc.state.appPasswords('alice').length, 2, 'one app password per client');
});

test('(f) two auth-proxy replicas on one Redis: connect page loads alternate between them and the flow completes', { timeout: 60000 }, async () => {
  const { proxies: [a, b], nc, issuer, redis } = await proxiesWithNextcloud({ replicas: 2 });
  const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  const client = await register(a, { client_name: 'Replicated client', redirect_uris: [redirectUri] });
  let loads = 0;
  // Every load of the connect page goes to the other replica than the one before.
  const rewrite = (u) => {
    if (!isConnectPage(u)) return u;
    const target = loads % 2 === 0 ? a : b;
    loads += 1;
    const url = new URL(u);
    return `${target.base}${url.pathname}${url.search}`;
  };
  const run = await runAuthorization({ proxy: a, client, browser: new Browserless({ rewrite }) });
  assert.ok(run.query?.code, `the flow completed: ${run.connect?.status} ${run.connect?.html?.slice(0, 400)}`);
  assert.equal(run.query.iss, issuer);
  assert.equal(run.query.state, run.state);
  const connectLoads = run.trace.filter((t) => isConnectPage(t.url));
  assert.ok(connectLoads.length >= 2, JSON.stringify(connectLoads));
  assert.ok(connectLoads.some((t) => t.url.startsWith(`${a.base}/`)) && connectLoads.some((t) => t.url.startsWith(`${b.base}/`)), `both replicas served the page: ${JSON.stringify(connectLoads)}`);
  assert.equal(connectLoads[0].status, 200);
  assert.equal(connectLoads.at(-1).status, 303);
  assert.equal(nc.state.loginFlows().length, 0);
  assert.equal(nc.state.appPasswords('alice').length, 1, 'one flow, one app password');
  const issued = await redeemCode(b, client, run);
  assert.equal(issued.status, 200, JSON.stringify(issued.body));

  // The store holds the app password only sealed: no value in Redis contains it, in clear or
  // as a Basic credential, and the one credential key is there.
  const [{ uid, password }] = nc.issuedAppPasswords;
  const cli = (...args) => execFileSync('redis-cli', ['-p', String(redis.port), '--raw', ...args], { encoding: 'utf8' });
  const keys = cli('--scan').split('\n').filter(Boolean);
  assert.equal(keys.filter((k) => k.includes(':v1:ncpw:')).length, 1, keys.join('\n'));
  let dump = '';
  for (const key of keys) {
    const type = cli('TYPE', key).trim();
    dump += type === 'string' ? cli('GET', key) : cli('DUMP', key);
  }
  assert.ok(dump.length > 1000, 'the store was read');
  for (const needle of [password, password.slice(0, 24), Buffer.from(`${uid}:${password}`).toString('base64')]) {
    assert.ok(!dump.includes(needle), 'an app password is in Redis unencrypted');
  }
});

test('(g) no app password appears in any auth-proxy or mcp-server output', (t) => {
  const secrets = nextclouds.flatMap((nc) => nc.issuedAppPasswords);
  t.diagnostic(`${secrets.length} app passwords looked for in ${startedProxies.length + startedMcpServers.length} outputs`);
  assert.ok(secrets.length >= 5, `app passwords issued in this file: ${secrets.length}`);
  const outputs = [
    ...startedProxies.map((p) => [`auth-proxy ${p.base}`, p.output()]),
    ...startedMcpServers.map((s) => [`mcp-server ${s.base}`, s.output()]),
  ];
  assert.ok(outputs.length >= 6);
  for (const { uid, password } of secrets) {
    const basic = Buffer.from(`${uid}:${password}`).toString('base64');
    for (const [name, out] of outputs) {
      assert.ok(out.length > 0, `${name} wrote something`);
      assert.ok(!out.includes(password), `${name} output contains an app password of ${uid}`);
      assert.ok(!out.includes(basic), `${name} output contains a Basic credential of ${uid}`);
      assert.ok(!out.includes(password.slice(0, 24)), `${name} output contains part of an app password`);
    }
  }
});
