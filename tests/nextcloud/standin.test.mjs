// Tests for the Nextcloud stand-in (standin.mjs): a tiny fake OIDC issuer whose userinfo endpoint
// knows a few tokens, the stand-in pointed at it, and the real sabre/dav test server behind its
// /remote.php/dav/ (through a counting forwarder, so that tests can tell what reached sabre/dav).
// The DAV behaviour itself is tested in sabredav.test.mjs. Everything on 127.0.0.1.
//   node --test tests/nextcloud/standin.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SignJWT, generateKeyPair } from 'jose';
import { startNextcloud } from './standin.mjs';
import { startSabreDav } from '../sabredav/sabredav.mjs';
import { parseXml, parseMultistatus, xmlKid, xmlText } from '../lib/xml.mjs';

const standinPath = fileURLToPath(new URL('./standin.mjs', import.meta.url));

// ---------------------------------------------------------------------------------------------
// Fake IdP: discovery + userinfo that accepts known tokens only.

async function startFakeIdp() {
  const tokens = new Map([
    ['tok-alice', { sub: 'alice', email: 'alice@example.test', name: 'Alice Example' }],
    ['tok-bob', { sub: 'bob', email: 'bob@example.test' }],
  ]);
  const seen = []; // Authorization headers the userinfo endpoint received
  const server = http.createServer((req, res) => {
    const issuer = `http://127.0.0.1:${server.address().port}`;
    if (req.method === 'GET' && req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ issuer, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, userinfo_endpoint: `${issuer}/me`, jwks_uri: `${issuer}/jwks` }));
    }
    if (req.url === '/me') {
      seen.push(req.headers.authorization ?? null);
      const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
      const info = m && tokens.get(m[1]);
      if (info) {
        res.writeHead(200, { 'content-type': 'application/json' });
        return res.end(JSON.stringify(info));
      }
      res.writeHead(401, { 'www-authenticate': 'Bearer error="invalid_token"', 'content-type': 'application/json' });
      return res.end('{"error":"invalid_token"}');
    }
    res.writeHead(404).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    issuer: `http://127.0.0.1:${server.address().port}`,
    tokens,
    seen,
    close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }),
  };
}

// ---------------------------------------------------------------------------------------------
// Helpers

const basic = (user, pw) => `Basic ${Buffer.from(`${user}:${pw}`).toString('base64')}`;
let idp;
let nc;
const logLines = [];

/** fetch against the stand-in; `as` is a token, {basic: [u, p]}, or null (no credentials). */
async function call(path, { method = 'GET', as = 'tok-alice', headers = {}, body } = {}) {
  const h = { ...headers };
  if (typeof as === 'string') h.authorization = `Bearer ${as}`;
  else if (as?.basic) h.authorization = basic(...as.basic);
  const res = await fetch(`${nc.base}${path}`, { method, headers: h, body });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}

/**
 * A forwarder in front of sabre/dav that records every request it passes on, so that a test can
 * tell whether a request reached sabre/dav at all.
 */
async function startCountingForwarder(target) {
  const seen = [];
  const server = http.createServer((req, res) => {
    seen.push({ method: req.method, url: req.url, authorization: req.headers.authorization ?? null });
    const up = http.request({ host: '127.0.0.1', port: target.port, method: req.method, path: req.url, headers: req.headers }, (r) => {
      res.writeHead(r.statusCode, r.headers);
      r.pipe(res);
    });
    up.on('error', () => { res.writeHead(502); res.end(); });
    req.pipe(up);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  return { port, base: `http://127.0.0.1:${port}`, seen, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }) };
}

let sabre;
let forwarder;

before(async () => {
  idp = await startFakeIdp();
  sabre = await startSabreDav();
  forwarder = await startCountingForwarder(sabre);
  // The patched user_oidc (Bearer on every API): these tests are about token validation.
  nc = await startNextcloud({
    idpIssuer: idp.issuer, stock: false, basicUsers: { carol: 'carol-app-pw' }, log: (l) => logLines.push(l),
    dav: { ...sabre, port: forwarder.port, base: forwarder.base },
  });
});
after(async () => {
  await nc?.close();
  await forwarder?.close();
  await sabre?.close();
  await idp?.close();
});

// ---------------------------------------------------------------------------------------------

describe('authentication', () => {
  test('no credentials: 401 with a Bearer challenge (DAV also offers Basic)', async () => {
    const notes = await call('/index.php/apps/notes/api/v1/notes', { as: null });
    assert.equal(notes.status, 401);
    assert.equal(notes.headers.get('www-authenticate'), 'Bearer realm="Nextcloud"');
    assert.deepEqual(notes.json, { message: 'Current user is not logged in' });

    const seen = forwarder.seen.length;
    const dav = await call('/remote.php/dav/files/alice/', { method: 'PROPFIND', as: null });
    assert.equal(dav.status, 401);
    const challenges = dav.headers.get('www-authenticate');
    assert.match(challenges, /Bearer realm="Nextcloud"/);
    assert.match(challenges, /Basic realm="Nextcloud"/);
    const doc = parseXml(dav.text);
    assert.equal(`${doc.ns} ${doc.local}`, 'DAV: error');
    assert.equal(xmlText(xmlKid(doc, 'exception')), 'Sabre\\DAV\\Exception\\NotAuthenticated');
    assert.equal(forwarder.seen.length, seen, 'sabre/dav never saw the request');
  });

  test('a token the IdP does not know is refused after asking the IdP', async () => {
    const checks = nc.state.bearerChecks;
    const rejected = nc.state.rejectedBearer;
    const r = await call('/index.php/apps/notes/api/v1/notes', { as: 'made-up-token' });
    assert.equal(r.status, 401);
    assert.equal(nc.state.bearerChecks, checks + 1);
    assert.equal(nc.state.rejectedBearer, rejected + 1);
    assert.equal(idp.seen.at(-1), 'Bearer made-up-token');
  });

  test("a JWT from another issuer (like the auth-proxy's own tokens) is refused by the IdP's userinfo", async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const proxyToken = await new SignJWT({ scope: 'openid', client_id: 'mcp-client' })
      .setProtectedHeader({ alg: 'ES256', typ: 'at+jwt' })
      .setIssuer('http://127.0.0.1:1/').setSubject('alice').setAudience('http://127.0.0.1:18000/mcp')
      .setIssuedAt().setExpirationTime('5m')
      .sign(privateKey);
    const checks = nc.state.bearerChecks;
    const rejected = nc.state.rejectedBearer;
    for (const path of ['/index.php/apps/notes/api/v1/notes', '/ocs/v2.php/cloud/user?format=json']) {
      const r = await call(path, { as: proxyToken });
      assert.equal(r.status, 401, path);
    }
    const dav = await call('/remote.php/dav/files/alice/', { method: 'PROPFIND', as: proxyToken });
    assert.equal(dav.status, 401);
    assert.equal(nc.state.rejectedBearer, rejected + 3);
    assert.equal(nc.state.bearerChecks, checks + 3, 'a refused token is not cached');
    assert.equal(idp.seen.at(-1), `Bearer ${proxyToken}`, 'the stand-in asked the IdP about the token');
  });

  test('a good token is validated once and then cached', async () => {
    nc.state.forgetTokens();
    const checks = nc.state.bearerChecks;
    for (let i = 0; i < 3; i += 1) assert.equal((await call('/index.php/apps/notes/api/v1/settings', { as: 'tok-bob' })).status, 200);
    assert.equal(nc.state.bearerChecks, checks + 1);
  });

  test('the cache is bounded: after its TTL the IdP is asked again and a revoked token fails', async () => {
    const nc2 = await startNextcloud({ idpIssuer: idp.issuer, stock: false, bearerCacheTtlMs: 150 });
    idp.tokens.set('tok-short', { sub: 'dave' });
    try {
      const get = () => fetch(`${nc2.base}/index.php/apps/notes/api/v1/settings`, { headers: { authorization: 'Bearer tok-short' } }).then((r) => r.status);
      assert.equal(await get(), 200);
      assert.equal(await get(), 200);
      assert.equal(nc2.state.bearerChecks, 1);
      idp.tokens.delete('tok-short'); // revoked at the IdP
      assert.equal(await get(), 200, 'still cached');
      await new Promise((r) => setTimeout(r, 250));
      assert.equal(await get(), 401, 'expired cache entry, IdP refuses');
      assert.equal(nc2.state.bearerChecks, 2);
      assert.equal(nc2.state.rejectedBearer, 1);
    } finally {
      await nc2.close();
    }
  });

  test('without an IdP configured, Bearer tokens are refused and Basic still works', async () => {
    const nc3 = await startNextcloud({ basicUsers: { erin: 'pw' } });
    try {
      const bearer = await fetch(`${nc3.base}/index.php/apps/notes/api/v1/notes`, { headers: { authorization: 'Bearer tok-alice' } });
      assert.equal(bearer.status, 401);
      const ok = await fetch(`${nc3.base}/index.php/apps/notes/api/v1/notes`, { headers: { authorization: basic('erin', 'pw') } });
      assert.equal(ok.status, 200);
    } finally {
      await nc3.close();
    }
    await assert.rejects(startNextcloud({ idpIssuer: 'https://idp.example.com' }), /loopback/);
  });

  test('Basic with an app password; wrong password or unknown user is 401', async () => {
    assert.equal((await call('/index.php/apps/notes/api/v1/notes', { as: { basic: ['carol', 'carol-app-pw'] } })).status, 200);
    assert.equal((await call('/index.php/apps/notes/api/v1/notes', { as: { basic: ['carol', 'wrong'] } })).status, 401);
    assert.equal((await call('/index.php/apps/notes/api/v1/notes', { as: { basic: ['mallory', 'carol-app-pw'] } })).status, 401);
  });

  test('tokens never appear in the log', () => {
    assert.ok(logLines.length > 0);
    for (const line of logLines) {
      assert.ok(!line.includes('tok-alice') && !line.includes('tok-bob') && !line.includes('made-up-token'), line);
      assert.ok(!/eyJ[A-Za-z0-9_-]{10,}/.test(line), line);
    }
  });
});

describe('OCS', () => {
  test('GET cloud/user as JSON with a Bearer token: ids from userinfo, OCS v2 envelope', async () => {
    const r = await call('/ocs/v2.php/cloud/user?format=json', { headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json.ocs.meta, { status: 'ok', statuscode: 200, message: 'OK' }, 'V2Response: no totalitems/itemsperpage unless set');
    assert.equal(r.json.ocs.data.id, 'alice');
    assert.equal(r.json.ocs.data.email, 'alice@example.test');
    assert.equal(r.json.ocs.data['display-name'], 'Alice Example');
    assert.equal(r.json.ocs.data.displayname, 'Alice Example', 'Nextcloud 27+ sends both display-name keys');
  });

  test('the user document has the keys of getUserData(includeScopes) in its order; admins also get enabled/storageLocation', async () => {
    const r = await call('/ocs/v2.php/cloud/user?format=json', { headers: { 'OCS-APIRequest': 'true' } });
    const d = r.json.ocs.data;
    const keys = Object.keys(d);
    assert.deepEqual(keys.slice(0, 10), ['id', 'firstLoginTimestamp', 'lastLoginTimestamp', 'lastLogin', 'backend', 'subadmin', 'quota', 'manager', 'avatarScope', 'email']);
    assert.ok(keys.indexOf('displayname') < keys.indexOf('display-name') && keys.indexOf('display-name') < keys.indexOf('displaynameScope'));
    for (const k of ['additional_mail', 'phone', 'address', 'website', 'twitter', 'fediverse', 'organisation', 'role', 'headline', 'biography', 'profile_enabled', 'pronouns', 'groups', 'language', 'locale', 'notify_email', 'backendCapabilities']) {
      assert.ok(k in d, k);
    }
    assert.equal(d.enabled, undefined, 'a non-admin looking at themselves gets no `enabled`');
    assert.equal(d.storageLocation, undefined);
    assert.equal(d.backend, 'user_oidc');
    assert.deepEqual(d.quota, { free: -3, used: 0, total: -3, relative: 0, quota: -3 });
    assert.equal(d.lastLogin, d.lastLoginTimestamp * 1000);
    assert.deepEqual(d.backendCapabilities, { setDisplayName: false, setPassword: false });

    const nc2 = await startNextcloud({ basicUsers: { root: 'pw' }, admins: ['root'] });
    try {
      const res = await fetch(`${nc2.base}/ocs/v1.php/cloud/user?format=json`, { headers: { authorization: basic('root', 'pw'), 'OCS-APIRequest': 'true' } });
      const j = await res.json();
      assert.deepEqual(j.ocs.meta, { status: 'ok', statuscode: 100, message: 'OK', totalitems: '', itemsperpage: '' });
      assert.deepEqual(Object.keys(j.ocs.data).slice(0, 3), ['enabled', 'storageLocation', 'id']);
      assert.equal(j.ocs.data.backend, 'Database');
    } finally {
      await nc2.close();
    }
  });

  test('Bearer requests pass the OCS CSRF check without OCS-APIRequest; Basic ones do not', async () => {
    assert.equal((await call('/ocs/v2.php/cloud/user?format=json')).status, 200);
    const csrf = await call('/ocs/v2.php/cloud/user?format=json', { as: { basic: ['carol', 'carol-app-pw'] } });
    assert.equal(csrf.status, 412);
    assert.deepEqual(csrf.json, { message: 'CSRF check failed' });
    const ok = await call('/ocs/v2.php/cloud/user?format=json', { as: { basic: ['carol', 'carol-app-pw'] }, headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.json.ocs.data.id, 'carol');
    assert.equal(ok.json.ocs.data['display-name'], 'carol');
    assert.equal(ok.json.ocs.data.displayname, 'carol');
    assert.equal(ok.json.ocs.data.email, null);
  });

  test('XML by default, OCS v1 status code 100, 997 when not logged in', async () => {
    const xml = await call('/ocs/v2.php/cloud/user', { headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(xml.status, 200);
    assert.match(xml.headers.get('content-type'), /^application\/xml/);
    const doc = parseXml(xml.text);
    assert.equal(doc.local, 'ocs');
    assert.equal(xmlText(xmlKid(xmlKid(doc, 'meta'), 'statuscode')), '200');
    assert.equal(xmlText(xmlKid(xmlKid(doc, 'data'), 'id')), 'alice');

    const v1 = await call('/ocs/v1.php/cloud/user?format=json', { headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(v1.status, 200);
    assert.equal(v1.json.ocs.meta.statuscode, 100);

    const anon = await call('/ocs/v2.php/cloud/user?format=json', { as: null, headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(anon.status, 401);
    assert.deepEqual(anon.json.ocs, { meta: { status: 'failure', statuscode: 997, message: 'Current user is not logged in' }, data: [] });
    const anonV1 = await call('/ocs/v1.php/cloud/user?format=json', { as: null, headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(anonV1.status, 401, 'V1Response: everything is 200 except 401');
    assert.deepEqual(anonV1.json.ocs.meta, { status: 'failure', statuscode: 997, message: 'Current user is not logged in', totalitems: '', itemsperpage: '' });
    assert.equal((await call('/ocs/v2.php/cloud/nope?format=json', { headers: { 'OCS-APIRequest': 'true' } })).status, 404);
  });
});

describe('Notes API v1', () => {
  const api = '/index.php/apps/notes/api/v1';
  const post = (fields, as) => call(`${api}/notes`, { method: 'POST', as, headers: { 'content-type': 'application/json' }, body: JSON.stringify(fields) });
  const put = (id, fields, headers = {}) => call(`${api}/notes/${id}`, { method: 'PUT', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(fields) });

  test('create: fields, types, ETag shape, sanitised and de-duplicated titles', async () => {
    const before = Math.floor(Date.now() / 1000);
    const r = await post({ title: 'Shopping', content: 'milk\neggs', category: 'Home' });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('x-notes-api-versions'), '0.2, 1.3, 1.4');
    const n = r.json;
    assert.ok(Number.isInteger(n.id));
    assert.equal(n.title, 'Shopping');
    assert.equal(n.content, 'milk\neggs');
    assert.equal(n.category, 'Home');
    assert.equal(n.favorite, false);
    assert.equal(n.readonly, false);
    assert.match(n.etag, /^[0-9a-f]{32}$/);
    assert.ok(n.modified >= before && n.modified <= before + 5);

    assert.equal((await post({ title: 'Shopping', category: 'Home' })).json.title, 'Shopping (2)');
    assert.equal((await post({ title: 'Shopping', category: 'Work' })).json.title, 'Shopping', 'other category, no clash');
    assert.equal((await post({ content: 'first line becomes nothing' })).json.title, 'New note', 'API v1 does not derive titles');
    assert.equal((await post({ title: 'a/b: c?' })).json.title, 'ab c');
    const old = await post({ title: 'Old', modified: 1700000000, favorite: true });
    assert.equal(old.json.modified, 1700000000);
    assert.equal(old.json.favorite, true);
  });

  test('list: category filter, exclude, per-user data', async () => {
    const all = await call(`${api}/notes`);
    assert.equal(all.status, 200);
    assert.match(all.headers.get('etag'), /^"[0-9a-f]{32}"$/);
    assert.ok(all.json.length >= 6);
    assert.ok(all.json.every((n) => typeof n.id === 'number' && /^[0-9a-f]{32}$/.test(n.etag)));

    const home = await call(`${api}/notes?category=Home`);
    assert.deepEqual(home.json.map((n) => n.title).sort(), ['Shopping', 'Shopping (2)']);

    const slim = await call(`${api}/notes?exclude=content,title`);
    assert.ok(slim.json.every((n) => !('content' in n) && !('title' in n) && 'id' in n && 'etag' in n && 'category' in n));

    const bobs = await call(`${api}/notes`, { as: 'tok-bob' });
    assert.equal(bobs.status, 200);
    const aliceIds = new Set(all.json.map((n) => n.id));
    assert.ok(bobs.json.every((n) => !aliceIds.has(n.id)));
    assert.equal(nc.state.notes('alice').length, all.json.length);
  });

  test('pruneBefore and chunking do not break the list', async () => {
    const full = (await call(`${api}/notes`)).json;
    const pruned = await call(`${api}/notes?pruneBefore=${Math.floor(Date.now() / 1000) + 3600}`);
    assert.equal(pruned.status, 200);
    assert.deepEqual(pruned.json.map((n) => Object.keys(n)), full.map(() => ['id']));

    const seen = [];
    let cursor = null;
    for (let i = 0; i < 20; i += 1) {
      const r = await call(`${api}/notes?chunkSize=2${cursor ? `&chunkCursor=${encodeURIComponent(cursor)}` : ''}`);
      assert.equal(r.status, 200);
      cursor = r.headers.get('x-notes-chunk-cursor');
      seen.push(...r.json.filter((n) => 'title' in n).map((n) => n.id));
      if (!cursor) {
        assert.deepEqual(new Set(r.json.map((n) => n.id)), new Set(full.map((n) => n.id)), 'last chunk lists every id');
        break;
      }
      assert.equal(r.json.length, 2);
    }
    assert.equal(cursor, null);
    assert.deepEqual(seen.sort(), full.map((n) => n.id).sort());
  });

  test('get one: ETag header is the quoted etag; If-None-Match gives 304', async () => {
    const id = (await post({ title: 'Etag me', content: 'v1' })).json.id;
    const r = await call(`${api}/notes/${id}`);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('etag'), `"${r.json.etag}"`);
    const again = await call(`${api}/notes/${id}`, { headers: { 'If-None-Match': `"${r.json.etag}"` } });
    assert.equal(again.status, 304);
    assert.equal(again.text, '');
  });

  test('update: partial, If-Match honoured, 412 returns the current note', async () => {
    const created = (await post({ title: 'Draft', content: 'v1', category: 'Work' })).json;
    const updated = await put(created.id, { content: 'v2' }, { 'If-Match': `"${created.etag}"` });
    assert.equal(updated.status, 200);
    assert.equal(updated.json.content, 'v2');
    assert.equal(updated.json.title, 'Draft', 'title is not touched by a content update');
    assert.equal(updated.json.category, 'Work');
    assert.notEqual(updated.json.etag, created.etag);

    const stale = await put(created.id, { content: 'lost update' }, { 'If-Match': `"${created.etag}"` });
    assert.equal(stale.status, 412);
    assert.equal(stale.json.content, 'v2');
    assert.equal(stale.json.etag, updated.json.etag);

    const unquoted = await put(created.id, { content: 'x' }, { 'If-Match': updated.json.etag });
    assert.equal(unquoted.status, 412, 'the Notes app compares If-Match against the quoted etag');

    const fav = await put(created.id, { favorite: true });
    assert.equal(fav.status, 200);
    assert.equal(fav.json.favorite, true);
    assert.equal(fav.json.content, 'v2');
    assert.notEqual(fav.json.etag, updated.json.etag);

    const moved = await put(created.id, { category: 'Archive' }, { 'If-Match': `"${fav.json.etag}"` });
    assert.equal(moved.json.category, 'Archive');
    assert.equal((await call(`${api}/notes/${created.id}`)).json.content, 'v2');
  });

  test('delete, 404s, 400s and 405s', async () => {
    const id = (await post({ title: 'Temp' })).json.id;
    const del = await call(`${api}/notes/${id}`, { method: 'DELETE' });
    assert.equal(del.status, 200);
    assert.deepEqual(del.json, []);
    assert.equal((await call(`${api}/notes/${id}`)).status, 404);
    assert.equal((await call(`${api}/notes/${id}`, { method: 'DELETE' })).status, 404);
    assert.equal((await put(id, { content: 'x' })).status, 404);
    assert.equal((await call(`${api}/notes/${id}`, { as: 'tok-bob' })).status, 404);

    const badJson = await call(`${api}/notes`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"title": ' });
    assert.equal(badJson.status, 400);
    assert.equal((await call(`${api}/notes/abc`)).status, 400, 'GET /api/{catchAll}');
    assert.equal((await call(`${api}/notes/abc`, { method: 'PUT' })).status, 405);
    assert.equal((await call(`${api}/notes`, { method: 'PATCH' })).status, 405);
    assert.equal((await call(`${api}/notes/1`, { method: 'POST' })).status, 405);
  });

  test('settings', async () => {
    const r = await call(`${api}/settings`);
    assert.equal(r.status, 200);
    assert.equal(r.json.notesPath, 'Notes');
    assert.ok(['.md', '.txt'].includes(r.json.fileSuffix));
  });
});

describe('DAV goes to the real sabre/dav', () => {
  const propfind = '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><d:resourcetype/><oc:fileid/></d:prop></d:propfind>';

  test('Bearer: an authenticated PROPFIND of the files home reaches sabre/dav and answers 207', async () => {
    const seen = forwarder.seen.length;
    const r = await call('/remote.php/dav/files/alice/', { method: 'PROPFIND', headers: { Depth: '0', 'Content-Type': 'application/xml' }, body: propfind });
    assert.equal(r.status, 207, r.text);
    const [home] = parseMultistatus(r.text);
    assert.equal(home.href, '/remote.php/dav/files/alice/');
    assert.match(xmlText(home.props.get('{http://owncloud.org/ns}fileid')), /^\d+$/);
    const passed = forwarder.seen.slice(seen);
    assert.equal(passed.length, 1);
    assert.deepEqual([passed[0].method, passed[0].url], ['PROPFIND', '/remote.php/dav/files/alice/']);
    assert.match(passed[0].authorization, /^Basic /, 'sabre/dav gets the internal Basic credentials');
    const [user] = Buffer.from(passed[0].authorization.slice(6), 'base64').toString().split(':');
    assert.equal(user, 'alice');
    assert.ok(!passed[0].authorization.includes('tok-alice'));
  });

  test('Basic (app password): PROPFIND 207, and a file written through the stand-in is in sabre/dav', async () => {
    const carol = { basic: ['carol', 'carol-app-pw'] };
    const r = await call('/remote.php/dav/files/carol/', { method: 'PROPFIND', as: carol, headers: { Depth: '1' }, body: propfind });
    assert.equal(r.status, 207, r.text);
    assert.equal(parseMultistatus(r.text)[0].href, '/remote.php/dav/files/carol/');
    const put = await call('/remote.php/dav/files/carol/hello%20world.txt?x=1', { method: 'PUT', as: carol, body: 'hi there' });
    assert.equal(put.status, 201);
    assert.match(put.headers.get('oc-fileid'), /^\d{8}oc[0-9a-f]+$/);
    assert.equal(forwarder.seen.at(-1).url, '/remote.php/dav/files/carol/hello%20world.txt?x=1', 'raw path and query passed on byte for byte');
    const get = await call('/remote.php/dav/files/carol/hello%20world.txt', { as: carol });
    assert.equal(get.text, 'hi there');
    assert.equal(get.headers.get('etag'), put.headers.get('etag'));
    assert.equal(get.headers.get('host'), null, "PHP's Host response header is not passed back");
    const direct = await nc.state.davFetch('carol', 'files/carol/seeded.txt', { method: 'PUT', body: 'seeded' });
    assert.equal(direct.status, 201, 'state.davFetch talks to sabre/dav as the user');
    assert.equal((await call('/remote.php/dav/files/carol/seeded.txt', { as: carol })).text, 'seeded');
    const ocs = await call('/ocs/v2.php/cloud/user?format=json', { as: carol, headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(ocs.json.ocs.data.quota.used, 'hi there'.length + 'seeded'.length, 'quota.used is what the user stored in sabre/dav');
  });

  test('a bad token gets the stand-in\'s 401 and sabre/dav never sees the request', async () => {
    const seen = forwarder.seen.length;
    const r = await call('/remote.php/dav/files/alice/', { method: 'PROPFIND', as: 'not-a-real-token', headers: { Depth: '0' } });
    assert.equal(r.status, 401);
    assert.match(r.headers.get('www-authenticate'), /Bearer realm="Nextcloud"/);
    assert.match(r.text, /Sabre\\DAV\\Exception\\NotAuthenticated/);
    const wrongPw = await call('/remote.php/dav/files/carol/', { method: 'PROPFIND', as: { basic: ['carol', 'nope'] } });
    assert.equal(wrongPw.status, 401);
    assert.equal(forwarder.seen.length, seen, 'nothing was passed on to sabre/dav');
  });

  test('without a DAV server, DAV paths answer 503', async () => {
    const bare = await startNextcloud({ basicUsers: { erin: 'pw' } });
    try {
      const r = await fetch(`${bare.base}/remote.php/dav/files/erin/`, { method: 'PROPFIND', headers: { authorization: basic('erin', 'pw') } });
      assert.equal(r.status, 503);
      assert.match(await r.text(), /No DAV server is configured/);
    } finally {
      await bare.close();
    }
  });
});

describe('routing', () => {
  test('unknown routes 404, wrong methods 405, status.php is public and says 32.0.x', async () => {
    assert.equal((await call('/nope', { as: null })).status, 404);
    assert.equal((await call('/index.php/apps/notes/', {})).status, 404);
    const status = await call('/status.php', { as: null });
    assert.equal(status.status, 200);
    assert.equal(status.json.installed, true);
    assert.match(status.json.versionstring, /^32\.0\.\d+$/);
    assert.equal((await call('/status.php', { method: 'POST', as: null })).status, 405);
    const caps = await call('/ocs/v2.php/cloud/capabilities?format=json', { headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(caps.json.ocs.data.version.major, 32);
  });
});

describe('CLI', () => {
  test('starts from flags and env with its own sabre/dav, prints the listening line, stops on SIGTERM (twice) with its sabre/dav', async () => {
    const child = spawn(process.execPath, [standinPath, '--port', '0', '--basic-user', 'frank:frank-pw'], {
      env: { ...process.env, NEXTCLOUD_STANDIN_IDP_ISSUER: idp.issuer, NEXTCLOUD_STANDIN_BASIC_USERS: 'gina:gina-pw,hal:hal-pw' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { err += d; });
    try {
      const base = await new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no listening line: ${out}${err}`)), 10000);
        const check = () => { const m = /nextcloud-standin listening on (http:\/\/127\.0\.0\.1:\d+) \(DAV: sabre\/dav at http:\/\/127\.0\.0\.1:\d+\)\n/.exec(out); if (m) { clearTimeout(t); resolve(m[1]); } };
        child.stdout.on('data', check);
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      for (const [u, pw] of [['frank', 'frank-pw'], ['gina', 'gina-pw'], ['hal', 'hal-pw']]) {
        const r = await fetch(`${base}/ocs/v2.php/cloud/user?format=json`, { headers: { authorization: basic(u, pw), 'OCS-APIRequest': 'true' } });
        assert.equal(r.status, 200);
        assert.equal((await r.json()).ocs.data.id, u);
      }
      const dav = await fetch(`${base}/remote.php/dav/files/frank/`, { method: 'PROPFIND', headers: { authorization: basic('frank', 'frank-pw'), depth: '0' } });
      assert.equal(dav.status, 207, 'the CLI started sabre/dav behind the stand-in');
      const viaIdp = await fetch(`${base}/ocs/v2.php/cloud/user?format=json`, { headers: { authorization: 'Bearer tok-bob' } });
      assert.equal((await viaIdp.json()).ocs.data.id, 'bob');
      assert.ok(!err.includes('tok-bob') && !err.includes('frank-pw'), 'no secrets on stderr');
      // Stopped as `make run` stops it: the process group's SIGTERM, then its script's own a moment
      // later, while the first is still being handled. It still stops sabre/dav and exits 0.
      const davBase = /\(DAV: sabre\/dav at (http:\/\/127\.0\.0\.1:\d+)\)/.exec(out)[1];
      const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
      child.kill('SIGTERM');
      await new Promise((r) => setTimeout(r, 2));
      if (child.exitCode === null) child.kill('SIGTERM');
      assert.deepEqual(await exited, { code: 0, signal: null });
      await assert.rejects(fetch(`${davBase}/`), 'sabre/dav stopped with the stand-in');
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});

test('pause() is a real outage (connections refused), resume() comes back on the same port with its state', async () => {
  const nc4 = await startNextcloud({ basicUsers: { erin: 'pw' } });
  try {
    const user = () => fetch(`${nc4.base}/ocs/v2.php/cloud/user?format=json`, { headers: { authorization: basic('erin', 'pw'), 'OCS-APIRequest': 'true' } });
    const made = nc4.state.createAppPassword('erin', 'kept');
    assert.equal((await user()).status, 200);
    await nc4.pause();
    assert.equal(nc4.paused, true);
    await assert.rejects(user(), (e) => e.cause?.code === 'ECONNREFUSED');
    await nc4.resume();
    assert.equal((await user()).status, 200);
    const withMade = await fetch(`${nc4.base}/ocs/v2.php/cloud/user?format=json`, { headers: { authorization: basic('erin', made), 'OCS-APIRequest': 'true' } });
    assert.equal(withMade.status, 200, 'the app password made before the outage still works');
    assert.deepEqual(nc4.state.appPasswords('erin').map((a) => a.name), ['basicUsers', 'kept']);
  } finally {
    await nc4.close();
  }
});

test('apps: { notes: false } → the Notes API is an unknown route and its capability is absent', async () => {
  const off = await startNextcloud({ basicUsers: { erin: 'pw' }, apps: { notes: false } });
  try {
    const headers = { authorization: basic('erin', 'pw'), 'OCS-APIRequest': 'true' };
    const notes = await fetch(`${off.base}/index.php/apps/notes/api/v1/notes`, { headers });
    assert.equal(notes.status, 404);
    const caps = await (await fetch(`${off.base}/ocs/v2.php/cloud/capabilities?format=json`, { headers })).json();
    assert.equal('notes' in caps.ocs.data.capabilities, false);
    assert.ok('deck' in caps.ocs.data.capabilities, 'other apps stay');
    const on = await call('/ocs/v2.php/cloud/capabilities?format=json', { headers: { 'OCS-APIRequest': 'true' } });
    assert.ok('notes' in on.json.ocs.data.capabilities, 'on by default');
  } finally {
    await off.close();
  }
});
