// Login Flow v2, app passwords and the stock (CORS) mode of the Nextcloud stand-in
// (loginflow.mjs, standin.mjs), walked by a scripted browser (cookies, links, forms) from
// tests/lib/harness.mjs. Time moves through the stand-in's `clock` option, never by sleeping.
// Everything on 127.0.0.1.
//   node --test tests/nextcloud/loginflow.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startNextcloud } from './standin.mjs';
import { startSabreDav } from '../sabredav/sabredav.mjs';
import { Browserless, decodeHtml, freePort, startIdp } from '../lib/harness.mjs';
import { parseMultistatus } from '../lib/xml.mjs';

async function startFakeIdp() {
  const tokens = new Map([['tok-alice', { sub: 'alice' }], ['tok-bob', { sub: 'bob', name: 'Bob Builder' }]]);
  const server = http.createServer((req, res) => {
    const issuer = `http://127.0.0.1:${server.address().port}`;
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ issuer, userinfo_endpoint: `${issuer}/me` }));
    }
    const info = req.url === '/me' && tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    if (info) { res.writeHead(200, { 'content-type': 'application/json' }); return res.end(JSON.stringify(info)); }
    res.writeHead(401).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { issuer: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }) };
}

const basic = (user, pw) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
const USERS = { alice: 'alice-login-pw', bob: 'bob-login-pw' };
let idp;
let sabre;
let nc;
let nowMs = Date.parse('2026-01-01T00:00:00Z');
const logLines = [];
const secrets = [];

before(async () => {
  idp = await startFakeIdp();
  sabre = await startSabreDav();
  nc = await startNextcloud({ idpIssuer: idp.issuer, stock: false, basicUsers: { carol: 'carol-app-pw' }, loginUsers: USERS, dav: sabre, clock: () => nowMs, log: (l) => logLines.push(l) });
});
after(async () => {
  await nc?.close();
  await sabre?.close();
  await idp?.close();
});

async function startFlow(server = nc, userAgent = 'MCP test client') {
  const r = await fetch(`${server.base}/index.php/login/v2`, { method: 'POST', headers: { 'user-agent': userAgent } });
  assert.equal(r.status, 200);
  const j = await r.json();
  secrets.push(j.poll.token, j.login.split('/').pop());
  return j;
}
async function poll(flow) {
  const r = await fetch(flow.poll.endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: flow.poll.token }) });
  const text = await r.text();
  if (r.status === 200) secrets.push(JSON.parse(text).appPassword);
  return { status: r.status, text, json: JSON.parse(text) };
}
const title = (html) => /<h2>([^<]*)<\/h2>/.exec(html)?.[1];
const hint = (html) => decodeHtml(/<p class="hint">([^<]*)<\/p>/.exec(html)?.[1] ?? '');

/** The person's part: open the login URL, follow "Log in", log in if asked (and `user` is given), grant. */
async function approve(loginUrl, { user, password, browser = new Browserless(), until = 'done', headers } = {}) {
  let step = await browser.follow(loginUrl);
  assert.equal(step.res.status, 200);
  let html = await step.res.text();
  assert.equal(title(html), 'Connect to your account');
  assert.match(html, /Please log in before granting <strong>[^<]*<\/strong> access to your Nextcloud account\./);
  const link = decodeHtml(/<p id="redirect-link"><a href="([^"]+)">Log in<\/a>/.exec(html)[1]);
  if (headers) {
    const res = await browser.fetch(link, { headers });
    step = res.status === 303 ? await browser.follow(new URL(res.headers.get('location'), link).toString()) : { res, url: link };
  } else {
    step = await browser.follow(link);
  }
  html = await step.res.text();
  if (title(html) === 'Log in to Nextcloud' && user !== undefined) {
    assert.match(step.url, /\/index\.php\/login\?redirect_url=%2Findex\.php%2Flogin%2Fv2%2Fgrant%3FstateToken%3D/);
    step = await browser.submitForm(step.url, html, { user, password });
    html = await step.res.text();
  }
  if (until === 'grant') return { html, url: step.url, browser };
  assert.equal(title(html), 'Account access', html);
  step = await browser.submitForm(step.url, html, {});
  html = await step.res.text();
  secrets.push(...browser.jar.all().map((c) => c.value));
  return { status: step.res.status, html, browser };
}

function api(path, auth, init = {}) {
  return fetch(`${nc.base}${path}`, { ...init, headers: { authorization: auth, 'OCS-APIRequest': 'true', ...init.headers } });
}

describe('Login Flow v2', () => {
  test('POST /index.php/login/v2: poll token, poll endpoint, login URL with a 128-character flow token', async () => {
    const flow = await startFlow(nc, 'Desktop client');
    assert.deepEqual(Object.keys(flow), ['poll', 'login']);
    assert.deepEqual(Object.keys(flow.poll), ['token', 'endpoint']);
    assert.match(flow.poll.token, /^[0-9a-zA-Z]{128}$/);
    assert.equal(flow.poll.endpoint, `${nc.base}/index.php/login/v2/poll`);
    assert.match(flow.login, new RegExp(`^${nc.base}/index\\.php/login/v2/flow/[0-9a-zA-Z]{128}$`));
    const f = nc.state.loginFlows().find((x) => x.clientName === 'Desktop client');
    assert.deepEqual([f.started, f.granted], [false, false]);
    const early = await poll(flow);
    assert.equal(early.status, 404);
    assert.equal(early.text, '[]');
    assert.equal((await fetch(flow.poll.endpoint)).status, 405);
  });

  test('the whole flow in a browser; the poll answers 404 until granted, then the app password once', async () => {
    const flow = await startFlow();
    const browser = new Browserless();
    const atGrant = await approve(flow.login, { ...{ user: 'alice', password: USERS.alice }, browser, until: 'grant' });
    assert.match(atGrant.html, /Currently logged in as alice \(alice\)\./);
    assert.match(atGrant.html, /You are about to grant <strong>MCP test client<\/strong> access to your Nextcloud account\./);
    assert.ok(nc.state.loginFlows().some((x) => x.started && !x.granted));
    assert.equal((await poll(flow)).status, 404, 'started but not granted');
    const done = await browser.submitForm(atGrant.url, atGrant.html, {});
    const html = await done.res.text();
    assert.equal(done.res.status, 200);
    assert.equal(title(html), 'Account connected');
    assert.match(html, /Your client should now be connected! You can close this window\./);
    assert.ok(browser.jar.all().every((c) => /HttpOnly/i.test(c.raw)));

    const creds = await poll(flow);
    assert.equal(creds.status, 200);
    assert.deepEqual(Object.keys(creds.json), ['server', 'loginName', 'appPassword']);
    assert.equal(creds.json.server, nc.base);
    assert.equal(creds.json.loginName, 'alice');
    assert.match(creds.json.appPassword, /^[A-Za-z0-9]{72}$/);
    const again = await poll(flow);
    assert.deepEqual([again.status, again.text], [404, '[]'], 'the credentials are handed out once');
    const replay = await new Browserless().follow(flow.login);
    assert.equal(replay.res.status, 403);
    assert.equal(hint(await replay.res.text()), 'Your login token is invalid or has expired');

    const listed = nc.state.appPasswords('alice');
    assert.equal(listed.length, 1);
    assert.deepEqual(Object.keys(listed[0]).sort(), ['created', 'id', 'lastActivity', 'loginName', 'name', 'uid']);
    assert.equal(listed[0].name, 'MCP test client');
    assert.ok(!JSON.stringify(listed).includes(creds.json.appPassword));

    // The app password works on OCS, Notes and DAV.
    const auth = basic('alice', creds.json.appPassword);
    const me = await (await api('/ocs/v2.php/cloud/user?format=json', auth)).json();
    assert.equal(me.ocs.data.id, 'alice');
    const note = await api('/index.php/apps/notes/api/v1/notes', auth, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title: 'via app password' }) });
    assert.equal(note.status, 200);
    assert.deepEqual((await (await api('/index.php/apps/notes/api/v1/notes', auth)).json()).map((n) => n.title), ['via app password']);
    const dav = await api('/remote.php/dav/files/alice/', auth, { method: 'PROPFIND', headers: { depth: '0' } });
    assert.equal(dav.status, 207);
    assert.equal(parseMultistatus(await dav.text())[0].href, '/remote.php/dav/files/alice/');
    assert.equal((await api('/ocs/v2.php/cloud/user?format=json', basic('bob', creds.json.appPassword))).status, 401, 'bound to its login name');
  });

  test('a flow started by one user and approved by another yields an app password for the approver', async () => {
    const flow = await startFlow(nc, 'attacker client');
    const done = await approve(flow.login, { user: 'bob', password: USERS.bob });
    assert.equal(title(done.html), 'Account connected');
    const creds = await poll(flow);
    assert.equal(creds.json.loginName, 'bob', 'the flow is transferable (GHSA-84qv-22q6-x82r): the product must check who granted');
    const me = await (await api('/ocs/v2.php/cloud/user?format=json', basic('bob', creds.json.appPassword))).json();
    assert.equal(me.ocs.data.id, 'bob');
    assert.equal((await api('/ocs/v2.php/cloud/user?format=json', basic('alice', creds.json.appPassword))).status, 401);
    assert.ok(nc.state.appPasswords('bob').some((p) => p.name === 'attacker client'));
  });

  test('SSO stand-in: a Bearer token of the IdP on the grant page logs the session in (user_oidc)', async () => {
    const flow = await startFlow(nc, 'sso client');
    const done = await approve(flow.login, { headers: { authorization: 'Bearer tok-bob' } });
    assert.equal(title(done.html), 'Account connected');
    assert.equal((await poll(flow)).json.loginName, 'bob');
    const refused = await approve((await startFlow()).login, { headers: { authorization: 'Bearer not-a-token' }, until: 'grant' });
    assert.equal(title(refused.html), 'Log in to Nextcloud', 'an unknown token falls back to the login page');
  });

  test('SSO: user_oidc code flow at the real dev IdP (oidc-provider), by links and forms alone', async () => {
    const port = await freePort();
    const devIdp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/index.php/apps/user_oidc/code`] });
    const sso = await startNextcloud({ port, idpIssuer: devIdp.issuer, oidcClient: { clientId: devIdp.clientId, clientSecret: devIdp.clientSecret } });
    try {
      const flow = await startFlow(sso, 'sso code-flow client');
      const browser = new Browserless();
      const atLogin = await approve(flow.login, { browser, until: 'grant' });
      assert.equal(title(atLogin.html), 'Log in to Nextcloud');
      assert.doesNotMatch(atLogin.html, /Wrong login or password/);
      const ssoLink = decodeHtml(/<a id="sso-login" href="([^"]+)">/.exec(atLogin.html)[1]);
      let step = await browser.follow(ssoLink);
      assert.ok(step.url.startsWith(devIdp.issuer), step.url);
      for (let i = 0; i < 4 && step.url.startsWith(devIdp.issuer); i += 1) {
        const html = await step.res.text();
        step = await browser.submitForm(step.url, html, /name="login"/.test(html) ? { login: 'erin', password: 'any-password' } : {});
      }
      let html = await step.res.text();
      assert.equal(title(html), 'Account access', html.slice(0, 500));
      assert.match(html, /Currently logged in as [^(]* \(erin\)\./);
      step = await browser.submitForm(step.url, html, {});
      html = await step.res.text();
      assert.equal(title(html), 'Account connected');
      const creds = await poll({ poll: { ...flow.poll } });
      assert.equal(creds.json.loginName, 'erin');
      const me = await fetch(`${sso.base}/ocs/v2.php/cloud/user?format=json`, { headers: { authorization: basic('erin', creds.json.appPassword), 'OCS-APIRequest': 'true' } });
      assert.equal((await me.json()).ocs.data.id, 'erin');
      const forged = await browser.follow(`${sso.base}/index.php/apps/user_oidc/code?state=nope&code=x`);
      assert.deepEqual([forged.res.status, hint(await forged.res.text())], [403, 'The received state does not match the expected value.']);
    } finally {
      await sso.close();
      await devIdp.stop();
    }
  });

  test('the picker\'s app password form (apptokenRedirect) hands over an existing app password', async () => {
    const flow = await startFlow(nc, 'apptoken client');
    const browser = new Browserless();
    let step = await browser.follow(flow.login);
    const picker = await step.res.text();
    assert.match(picker, /someone is trying to trick you into granting them access to your data/);
    step = await browser.submitForm(step.url, picker, { user: 'carol', password: 'wrong' });
    assert.deepEqual([step.res.status, hint(await step.res.text())], [403, 'Invalid app password']);
    const flow2 = await startFlow(nc, 'apptoken client');
    step = await browser.follow(flow2.login);
    step = await browser.submitForm(step.url, await step.res.text(), { user: 'carol', password: 'carol-app-pw' });
    assert.equal(title(await step.res.text()), 'Account connected');
    const creds = await poll(flow2);
    assert.deepEqual(creds.json, { server: nc.base, loginName: 'carol', appPassword: 'carol-app-pw' });
    assert.equal((await poll(flow)).status, 404, 'the first flow was not completed');
  });

  test('wrong password, missing/mismatched state token and a missing request token are refused', async () => {
    const flow = await startFlow();
    const browser = new Browserless();
    const wrong = await approve(flow.login, { user: 'alice', password: 'nope', browser, until: 'grant' });
    assert.equal(title(wrong.html), 'Log in to Nextcloud');
    assert.match(wrong.html, /Wrong login or password\./);
    const ok = await browser.submitForm(wrong.url, wrong.html, { user: 'alice', password: USERS.alice });
    const grantHtml = await ok.res.text();
    assert.equal(title(grantHtml), 'Account access');
    const missing = await browser.follow(`${nc.base}/index.php/login/v2/grant`);
    assert.deepEqual([missing.res.status, hint(await missing.res.text())], [403, 'State token missing']);
    const mismatch = await browser.follow(`${nc.base}/index.php/login/v2/grant?stateToken=abc`);
    assert.deepEqual([mismatch.res.status, hint(await mismatch.res.text())], [403, 'State token does not match']);
    const noCsrf = await browser.submitForm(ok.url, grantHtml, { requesttoken: null });
    assert.equal(noCsrf.res.status, 412);
    const stranger = await new Browserless().follow(`${nc.base}/index.php/login/v2/grant?stateToken=abc`);
    assert.deepEqual([stranger.res.status, stranger.url.replace(nc.base, '')], [200, '/index.php/login?redirect_url=%2Findex.php%2Flogin%2Fv2%2Fgrant%3FstateToken%3Dabc']);
    assert.equal((await poll(flow)).status, 404);
  });

  test('flows expire after 1200 s (LoginFlowV2Mapper), also between the grant page and the grant', async () => {
    const flow = await startFlow(nc, 'slow client');
    nowMs += 1200 * 1000;
    assert.equal((await poll(flow)).status, 404, 'alive at exactly 1200 s, not granted');
    const atGrant = await approve(flow.login, { user: 'alice', password: USERS.alice, until: 'grant' });
    nowMs += 1000;
    const late = await atGrant.browser.submitForm(atGrant.url, atGrant.html, {});
    assert.equal(late.res.status, 403);
    assert.equal(hint(await late.res.text()), 'Your login token is invalid or has expired');
    assert.equal((await poll(flow)).status, 404);
    assert.ok(!nc.state.loginFlows().some((x) => x.clientName === 'slow client'), 'an expired flow is deleted');
    const landing = await new Browserless().follow(flow.login);
    assert.deepEqual([landing.res.status, hint(await landing.res.text())], [403, 'Your login token is invalid or has expired']);
  });

  test('loginFlowLifetimeSec shortens the lifetime', async () => {
    let t = 0;
    const short = await startNextcloud({ loginUsers: USERS, loginFlowLifetimeSec: 5, clock: () => t });
    try {
      const flow = await startFlow(short);
      t = 5000;
      assert.equal((await new Browserless().follow(flow.login)).res.status, 200);
      t = 6000;
      assert.equal((await new Browserless().follow(flow.login)).res.status, 403);
    } finally {
      await short.close();
    }
  });
});

describe('app passwords', () => {
  test('DELETE /ocs/v2.php/core/apppassword deletes the one in use; afterwards it is refused everywhere', async () => {
    const pw = nc.state.createAppPassword('alice', 'to delete');
    secrets.push(pw);
    const auth = basic('alice', pw);
    assert.equal((await api('/ocs/v2.php/core/apppassword', auth, { method: 'DELETE', headers: { 'OCS-APIRequest': '' } })).status, 412, 'OCS CSRF rule');
    const del = await api('/ocs/v2.php/core/apppassword?format=json', auth, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.deepEqual(await del.json(), { ocs: { meta: { status: 'ok', statuscode: 200, message: 'OK' }, data: [] } });
    assert.ok(!nc.state.appPasswords('alice').some((p) => p.name === 'to delete'));
    const ocs = await api('/ocs/v2.php/cloud/user?format=json', auth);
    assert.equal(ocs.status, 401);
    assert.equal((await ocs.json()).ocs.meta.statuscode, 997);
    assert.equal((await api('/index.php/apps/notes/api/v1/notes', auth)).status, 401);
    assert.equal((await api('/remote.php/dav/files/alice/', auth, { method: 'PROPFIND', headers: { depth: '0' } })).status, 401);
    assert.equal((await api('/ocs/v2.php/core/apppassword?format=json', auth, { method: 'DELETE' })).status, 401);
  });

  test('without an app password in use: 403 "no app password in use" (V1: HTTP 200); configured basicUsers are app passwords', async () => {
    for (const auth of [basic('alice', USERS.alice), 'Bearer tok-alice']) {
      const r = await api('/ocs/v2.php/core/apppassword?format=json', auth, { method: 'DELETE' });
      assert.equal(r.status, 403);
      assert.deepEqual(await r.json(), { ocs: { meta: { status: 'failure', statuscode: 403, message: 'no app password in use' }, data: [] } });
    }
    const v1 = await api('/ocs/v1.php/core/apppassword?format=json', basic('alice', USERS.alice), { method: 'DELETE' });
    assert.equal(v1.status, 200);
    assert.equal((await v1.json()).ocs.meta.statuscode, 403);
    const nc2 = await startNextcloud({ basicUsers: { dave: 'dave-app-pw' } });
    try {
      const h = { authorization: basic('dave', 'dave-app-pw'), 'OCS-APIRequest': 'true' };
      assert.equal((await fetch(`${nc2.base}/ocs/v2.php/core/apppassword`, { method: 'DELETE', headers: h })).status, 200);
      assert.equal((await fetch(`${nc2.base}/ocs/v2.php/cloud/user`, { headers: h })).status, 401);
    } finally {
      await nc2.close();
    }
  });
});

describe('stock mode (CORSMiddleware on #[CORS] app APIs)', () => {
  test('stock (the default): Bearer and no credentials get 401 "CORS requires basic auth" on Notes; Basic app passwords work; OCS/DAV keep Bearer', async () => {
    const stock = await startNextcloud({ idpIssuer: idp.issuer, basicUsers: { carol: 'carol-app-pw' }, loginUsers: USERS, dav: sabre });
    try {
      const notes = `${stock.base}/index.php/apps/notes/api/v1/notes`;
      for (const authorization of ['Bearer tok-alice', undefined, basic('carol', 'wrong')]) {
        const r = await fetch(notes, { headers: authorization ? { authorization } : {} });
        assert.equal(r.status, 401);
        assert.match(r.headers.get('content-type'), /^application\/json/);
        assert.equal(await r.text(), '{"message":"CORS requires basic auth"}');
      }
      assert.equal((await fetch(notes, { headers: { authorization: basic('carol', 'carol-app-pw') } })).status, 200);
      const flow = await startFlow(stock);
      await approve(flow.login, { user: 'alice', password: USERS.alice });
      const creds = await poll(flow);
      const made = await fetch(notes, { method: 'POST', headers: { authorization: basic('alice', creds.json.appPassword), 'content-type': 'application/json' }, body: '{"title":"stock"}' });
      assert.equal(made.status, 200);
      assert.equal((await fetch(`${stock.base}/ocs/v2.php/cloud/user?format=json`, { headers: { authorization: 'Bearer tok-alice' } })).status, 200);
      assert.equal((await fetch(`${stock.base}/remote.php/dav/files/alice/`, { method: 'PROPFIND', headers: { authorization: 'Bearer tok-alice', depth: '0' } })).status, 207);
      assert.equal((await fetch(`${stock.base}/index.php/apps/notes/api/v1/notes`, { method: 'OPTIONS', headers: { origin: 'http://x.test' } })).status, 200, 'the preflight is public');
    } finally {
      await stock.close();
    }
  });

  test('stock: false (patched user_oidc): Bearer works on Notes', async () => {
    const r = await fetch(`${nc.base}/index.php/apps/notes/api/v1/notes`, { headers: { authorization: 'Bearer tok-bob' } });
    assert.equal(r.status, 200);
  });
});

test('no app password, poll token, login token or session id in the log or the request record', () => {
  assert.ok(secrets.length > 10);
  for (const line of [...logLines, ...nc.state.requests.map((r) => r.path)]) {
    for (const s of secrets) assert.ok(!line.includes(s), line);
  }
  assert.ok(nc.state.requests.some((r) => r.path === '/index.php/login/v2/flow/{token}'));
});

for (const [flags, stock] of [[[], true], [['--patched-user-oidc'], false]]) test(`CLI: ${flags.length ? flags.join(' ') : 'stock by default'} and --login-user`, async () => {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./standin.mjs', import.meta.url)), '--no-dav', ...flags, '--login-user', 'ivy:ivy-pw', '--idp-issuer', idp.issuer], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  try {
    const base = await new Promise((resolve, reject) => {
      child.stdout.on('data', () => { const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out); if (m) resolve(m[1]); });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
    });
    const notes = `${base}/index.php/apps/notes/api/v1/notes`;
    const bearer = await fetch(notes, { headers: { authorization: 'Bearer tok-alice' } });
    if (stock) assert.equal(await bearer.text(), '{"message":"CORS requires basic auth"}');
    else assert.equal(bearer.status, 200, await bearer.text());
    assert.equal((await fetch(notes, { headers: { authorization: basic('ivy', 'ivy-pw') } })).status, 200);
    assert.ok(!err.includes('ivy-pw'));
  } finally {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  }
});
