// Tests for the Nextcloud stand-in (standin.mjs) on its own: a tiny fake OIDC issuer whose
// userinfo endpoint knows a few tokens, and the stand-in pointed at it. Everything on 127.0.0.1.
//   node --test tests/nextcloud/standin.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SignJWT, generateKeyPair } from 'jose';
import { startNextcloud, parseXml } from './standin.mjs';

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

const xmlKids = (el, local) => el.children.filter((c) => c.local === local);
const xmlKid = (el, local) => el.children.find((c) => c.local === local);
const xmlText = (el) => (el ? el.text + el.children.map(xmlText).join('') : undefined);

/**
 * Parses a 207 multistatus into [{ href, props: Map('{ns}local' → element), missing: Set, status }].
 * Also checks the envelope is DAV:multistatus.
 */
function multistatus(r) {
  assert.equal(r.status, 207, r.text);
  assert.match(r.headers.get('content-type'), /^application\/xml; charset=utf-8/);
  const doc = parseXml(r.text);
  assert.equal(doc.ns, 'DAV:');
  assert.equal(doc.local, 'multistatus');
  return xmlKids(doc, 'response').map((resp) => {
    const props = new Map();
    const byStatus = {};
    for (const ps of xmlKids(resp, 'propstat')) {
      const code = Number(/HTTP\/1\.1 (\d{3})/.exec(xmlText(xmlKid(ps, 'status')))[1]);
      for (const p of xmlKid(ps, 'prop').children) {
        const key = `{${p.ns}}${p.local}`;
        (byStatus[code] ??= new Map()).set(key, p);
        if (code === 200) props.set(key, p);
      }
    }
    return { href: decodeURIComponent(xmlText(xmlKid(resp, 'href'))), props, missing: new Set(byStatus[404]?.keys() ?? []), byStatus };
  });
}
const DAVp = (l) => `{DAV:}${l}`;
const OC = (l) => `{http://owncloud.org/ns}${l}`;
const CAL = (l) => `{urn:ietf:params:xml:ns:caldav}${l}`;
const CARD = (l) => `{urn:ietf:params:xml:ns:carddav}${l}`;
const CS = (l) => `{http://calendarserver.org/ns/}${l}`;
const pval = (resp, key) => xmlText(resp.props.get(key));

/** The <s:exception> of a sabre error body. */
function davException(r) {
  const doc = parseXml(r.text);
  assert.equal(doc.local, 'error');
  assert.equal(doc.ns, 'DAV:');
  return xmlText(doc.children.find((c) => c.local === 'exception'));
}

before(async () => {
  idp = await startFakeIdp();
  nc = await startNextcloud({ idpIssuer: idp.issuer, basicUsers: { carol: 'carol-app-pw' }, log: (l) => logLines.push(l) });
});
after(async () => {
  await nc?.close();
  await idp?.close();
});

// ---------------------------------------------------------------------------------------------

describe('authentication', () => {
  test('no credentials: 401 with a Bearer challenge (DAV also offers Basic)', async () => {
    const notes = await call('/index.php/apps/notes/api/v1/notes', { as: null });
    assert.equal(notes.status, 401);
    assert.equal(notes.headers.get('www-authenticate'), 'Bearer realm="Nextcloud"');
    assert.deepEqual(notes.json, { message: 'Current user is not logged in' });

    const dav = await call('/remote.php/dav/files/alice/', { method: 'PROPFIND', as: null });
    assert.equal(dav.status, 401);
    const challenges = dav.headers.get('www-authenticate');
    assert.match(challenges, /Bearer realm="Nextcloud"/);
    assert.match(challenges, /Basic realm="Nextcloud"/);
    assert.equal(davException(dav), 'Sabre\\DAV\\Exception\\NotAuthenticated');
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
    const nc2 = await startNextcloud({ idpIssuer: idp.issuer, bearerCacheTtlMs: 150 });
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
    assert.deepEqual(r.json.ocs.meta, { status: 'ok', statuscode: 200, message: 'OK', totalitems: '', itemsperpage: '' });
    assert.equal(r.json.ocs.data.id, 'alice');
    assert.equal(r.json.ocs.data.email, 'alice@example.test');
    assert.equal(r.json.ocs.data['display-name'], 'Alice Example');
    assert.equal(r.json.ocs.data.displayname, undefined, 'cloud/user renames displayname to display-name');
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
    assert.equal(anon.json.ocs.meta.statuscode, 997);
    assert.equal(anon.json.ocs.meta.status, 'failure');
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

describe('WebDAV files', () => {
  const carol = { basic: ['carol', 'carol-app-pw'] };
  const root = '/remote.php/dav/files/carol';
  const dav = (path, opts = {}) => call(`${root}${path}`, { as: carol, ...opts });
  const propfindBody = `<?xml version="1.0"?>
<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:nc="http://nextcloud.org/ns">
  <d:prop><d:getlastmodified/><d:getetag/><d:getcontenttype/><d:getcontentlength/><d:resourcetype/><oc:fileid/><oc:size/></d:prop>
</d:propfind>`;

  test('the home folder exists and is empty', async () => {
    const r = multistatus(await dav('/', { method: 'PROPFIND', headers: { Depth: '1' }, body: propfindBody }));
    assert.equal(r.length, 1);
    assert.equal(r[0].href, '/remote.php/dav/files/carol/');
    assert.ok(r[0].props.get(DAVp('resourcetype')).children.some((c) => c.local === 'collection' && c.ns === 'DAV:'));
    assert.ok(r[0].missing.has(DAVp('getcontentlength')), 'folders have no getcontentlength');
    assert.match(pval(r[0], DAVp('getetag')), /^"[0-9a-f]+"$/);
  });

  test('PUT creates (201) and overwrites (204); GET returns it with headers', async () => {
    const created = await dav('/hello.txt', { method: 'PUT', body: 'hello world' });
    assert.equal(created.status, 201);
    const etag1 = created.headers.get('etag');
    assert.match(etag1, /^"[0-9a-f]+"$/);
    assert.equal(created.headers.get('oc-etag'), etag1);
    assert.match(created.headers.get('oc-fileid'), /^\d{8}oc/);

    const got = await dav('/hello.txt');
    assert.equal(got.status, 200);
    assert.equal(got.text, 'hello world');
    assert.equal(got.headers.get('content-type'), 'text/plain');
    assert.equal(got.headers.get('etag'), etag1);
    assert.equal(got.headers.get('content-length'), '11');

    const over = await dav('/hello.txt', { method: 'PUT', body: 'hello again' });
    assert.equal(over.status, 204);
    assert.notEqual(over.headers.get('etag'), etag1);
    assert.equal(nc.state.readFile('carol', 'hello.txt'), 'hello again');

    const part = await dav('/hello.txt', { headers: { Range: 'bytes=6-10' } });
    assert.equal(part.status, 206);
    assert.equal(part.text, 'again');
  });

  test('PUT preconditions: If-Match, If-None-Match: *, missing parent', async () => {
    const etag = (await dav('/hello.txt')).headers.get('etag');
    const stale = await dav('/hello.txt', { method: 'PUT', body: 'nope', headers: { 'If-Match': '"0000000000000"' } });
    assert.equal(stale.status, 412);
    assert.equal(davException(stale), 'Sabre\\DAV\\Exception\\PreconditionFailed');
    assert.equal(nc.state.readFile('carol', 'hello.txt'), 'hello again');
    assert.equal((await dav('/hello.txt', { method: 'PUT', body: 'nope', headers: { 'If-Match': etag.replace(/"/g, '') } })).status, 412, 'entity tags are compared quoted');
    assert.equal((await dav('/hello.txt', { method: 'PUT', body: 'nope', headers: { 'If-None-Match': '*' } })).status, 412);
    assert.equal((await dav('/absent.txt', { method: 'PUT', body: 'x', headers: { 'If-Match': '*' } })).status, 412);
    const ok = await dav('/hello.txt', { method: 'PUT', body: 'third', headers: { 'If-Match': etag } });
    assert.equal(ok.status, 204);
    assert.equal((await dav('/new.txt', { method: 'PUT', body: 'n', headers: { 'If-None-Match': '*' } })).status, 201);
    assert.equal((await dav('/hello.txt', { headers: { 'If-None-Match': ok.headers.get('etag') } })).status, 304);

    const orphan = await dav('/missing/dir/file.txt', { method: 'PUT', body: 'x' });
    assert.equal(orphan.status, 409);
    assert.equal(davException(orphan), 'Sabre\\DAV\\Exception\\Conflict');
  });

  test('MKCOL: 201, 405 if it exists, 409 without parent; PROPFIND Depth 1 lists children', async () => {
    const rootEtag = pval(multistatus(await dav('/', { method: 'PROPFIND', headers: { Depth: '0' }, body: propfindBody }))[0], DAVp('getetag'));
    assert.equal((await dav('/Docs', { method: 'MKCOL' })).status, 201);
    assert.equal((await dav('/Docs', { method: 'MKCOL' })).status, 405);
    assert.equal((await dav('/a/b/c', { method: 'MKCOL' })).status, 409);
    assert.equal((await dav('/Docs/Quarterly Report.pdf', { method: 'PUT', body: '%PDF-1.4' })).status, 201);
    assert.equal((await dav('/Docs/reports', { method: 'MKCOL' })).status, 201);
    assert.equal((await dav('/Docs/reports/summary.md', { method: 'PUT', body: '# Summary' })).status, 201);

    const list = multistatus(await dav('/Docs/', { method: 'PROPFIND', headers: { Depth: '1' }, body: propfindBody }));
    assert.deepEqual(list.map((x) => x.href), ['/remote.php/dav/files/carol/Docs/', '/remote.php/dav/files/carol/Docs/Quarterly Report.pdf', '/remote.php/dav/files/carol/Docs/reports/']);
    const [folder, pdf, sub] = list;
    assert.equal(pval(folder, OC('size')), String('%PDF-1.4'.length + '# Summary'.length));
    assert.equal(pval(pdf, DAVp('getcontenttype')), 'application/pdf');
    assert.equal(pval(pdf, DAVp('getcontentlength')), '8');
    assert.match(pval(pdf, OC('fileid')), /^\d+$/);
    assert.equal(pdf.props.get(DAVp('resourcetype')).children.length, 0);
    assert.ok(sub.props.get(DAVp('resourcetype')).children.some((c) => c.local === 'collection'));
    assert.ok(sub.missing.has(DAVp('getcontenttype')));
    assert.ok(!Number.isNaN(Date.parse(pval(pdf, DAVp('getlastmodified')))));
    assert.match(list[0].href, /Docs\/$/);

    const rootAfter = multistatus(await dav('/', { method: 'PROPFIND', headers: { Depth: '0' }, body: propfindBody }))[0];
    assert.notEqual(pval(rootAfter, DAVp('getetag')), rootEtag, 'folder ETags propagate');

    const raw = (await dav('/Docs/', { method: 'PROPFIND', headers: { Depth: '1' }, body: propfindBody })).text;
    assert.match(raw, /<d:multistatus xmlns:d="DAV:"[^>]* xmlns:oc="http:\/\/owncloud\.org\/ns"[^>]* xmlns:nc="http:\/\/nextcloud\.org\/ns"/);
    assert.match(raw, /<d:href>\/remote\.php\/dav\/files\/carol\/Docs\/Quarterly%20Report\.pdf<\/d:href>/);
    assert.match(raw, /<d:getetag>&quot;[0-9a-f]+&quot;<\/d:getetag>/);

    const allprop = multistatus(await dav('/Docs/Quarterly%20Report.pdf', { method: 'PROPFIND', headers: { Depth: '0' } }));
    assert.deepEqual([...allprop[0].props.keys()].sort(), [DAVp('getcontentlength'), DAVp('getcontenttype'), DAVp('getetag'), DAVp('getlastmodified'), DAVp('resourcetype')]);
    assert.equal((await dav('/nothing-here', { method: 'PROPFIND' })).status, 404);
  });

  test('MOVE and COPY with Destination and Overwrite', async () => {
    const fileid = pval(multistatus(await dav('/new.txt', { method: 'PROPFIND', headers: { Depth: '0' }, body: propfindBody }))[0], OC('fileid'));
    const dest = (p) => ({ Destination: `${nc.base}${root}${p}` });
    const refused = await dav('/new.txt', { method: 'MOVE', headers: { ...dest('/hello.txt'), Overwrite: 'F' } });
    assert.equal(refused.status, 412);
    assert.equal(nc.state.readFile('carol', 'new.txt'), 'n');

    assert.equal((await dav('/new.txt', { method: 'MOVE', headers: dest('/Docs/moved.txt') })).status, 201);
    assert.equal((await dav('/new.txt')).status, 404);
    const moved = multistatus(await dav('/Docs/moved.txt', { method: 'PROPFIND', headers: { Depth: '0' }, body: propfindBody }))[0];
    assert.equal(pval(moved, OC('fileid')), fileid, 'MOVE keeps the file id');

    assert.equal((await dav('/Docs/moved.txt', { method: 'MOVE', headers: { ...dest('/hello.txt'), Overwrite: 'T' } })).status, 204);
    assert.equal(nc.state.readFile('carol', 'hello.txt'), 'n');

    assert.equal((await dav('/Docs', { method: 'COPY', headers: dest('/Docs copy') })).status, 201);
    assert.equal((await dav('/Docs%20copy/reports/summary.md')).text, '# Summary');
    assert.equal((await dav('/Docs', { method: 'COPY', headers: { ...dest('/Docs copy'), Overwrite: 'F' } })).status, 412);
    assert.equal((await dav('/Docs', { method: 'COPY', headers: dest('/Docs copy') })).status, 204);
    assert.equal((await dav('/Docs', { method: 'MOVE', headers: dest('/Docs/inside') })).status, 409);
    assert.equal((await dav('/hello.txt', { method: 'MOVE', headers: dest('/no/such/dir/x.txt') })).status, 409);
    assert.equal((await dav('/hello.txt', { method: 'MOVE' })).status, 400);
  });

  test('DELETE is recursive', async () => {
    assert.equal((await dav('/Docs%20copy', { method: 'DELETE' })).status, 204);
    assert.equal((await dav('/Docs%20copy/reports/summary.md')).status, 404);
    assert.ok(!nc.state.files('carol').some((f) => f.path.startsWith('Docs copy')));
    assert.equal((await dav('/Docs%20copy', { method: 'DELETE' })).status, 404);
  });

  test("another user's tree is off limits", async () => {
    assert.equal((await call('/remote.php/dav/files/alice/', { method: 'PROPFIND', as: carol })).status, 403);
    assert.equal((await call('/remote.php/dav/files/alice/x.txt', { method: 'PUT', as: carol, body: 'x' })).status, 403);
    assert.equal((await dav('/hello.txt', { method: 'COPY', headers: { Destination: `${nc.base}/remote.php/dav/files/alice/stolen.txt` } })).status, 403);
    assert.equal(nc.state.readFile('alice', 'x.txt'), undefined);
    assert.equal((await dav('/hello.txt', { method: 'PATCH' })).status, 405);
  });

  test('SEARCH: basicsearch on displayname, case-insensitive with % wildcards, scoped', async () => {
    const search = (scope, literal, headers = { 'content-type': 'text/xml' }) => call('/remote.php/dav/', {
      method: 'SEARCH',
      as: carol,
      headers,
      body: `<?xml version="1.0" encoding="UTF-8"?>
<d:searchrequest xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns">
  <d:basicsearch>
    <d:select><d:prop><d:displayname/><d:getcontenttype/><oc:fileid/><d:resourcetype/></d:prop></d:select>
    <d:from><d:scope><d:href>${scope}</d:href><d:depth>infinity</d:depth></d:scope></d:from>
    <d:where><d:like><d:prop><d:displayname/></d:prop><d:literal>${literal}</d:literal></d:like></d:where>
    <d:orderby/>
  </d:basicsearch>
</d:searchrequest>`,
    });
    const hits = multistatus(await search('/files/carol', '%REPORT%'));
    assert.deepEqual(hits.map((h) => h.href).sort(), ['/remote.php/dav/files/carol/Docs/Quarterly Report.pdf', '/remote.php/dav/files/carol/Docs/reports/']);
    assert.equal(pval(hits.find((h) => h.href.endsWith('.pdf')), DAVp('displayname')), 'Quarterly Report.pdf');
    assert.deepEqual(multistatus(await search('/files/carol/Docs/reports', '%sum%')).map((h) => h.href), ['/remote.php/dav/files/carol/Docs/reports/summary.md']);
    assert.deepEqual(multistatus(await search('/files/carol', 'summary')).length, 0, 'no wildcard, no partial match');
    assert.equal((await search('/files/alice', '%')).status, 403);
    assert.equal((await search('/files/carol', '%', {})).status, 501, 'Nextcloud only handles SEARCH with an XML body type');
  });

  test('bodies over 10 MB are refused with 413', async () => {
    const big = Buffer.alloc(10 * 1024 * 1024 + 1, 0x61);
    assert.equal((await dav('/big.bin', { method: 'PUT', body: big })).status, 413);
    assert.equal(nc.state.readFile('carol', 'big.bin'), undefined);
    assert.equal((await dav('/just-fits.bin', { method: 'PUT', body: big.subarray(1) })).status, 201);
    // Chunked transfer (no Content-Length): the limit applies to what actually arrives.
    const chunked = new ReadableStream({ start(c) { for (let i = 0; i < 11; i += 1) c.enqueue(new Uint8Array(1024 * 1024)); c.close(); } });
    const r = await fetch(`${nc.base}${root}/chunked.bin`, { method: 'PUT', body: chunked, duplex: 'half', headers: { authorization: basic('carol', 'carol-app-pw') } });
    assert.equal(r.status, 413);
    assert.equal(nc.state.readFile('carol', 'chunked.bin'), undefined);
  });
});

describe('CalDAV', () => {
  const home = '/remote.php/dav/calendars/alice/';
  const cal = `${home}personal/`;
  const ics = (uid, lines) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//test//EN', 'BEGIN:VEVENT', `UID:${uid}`, 'DTSTAMP:20261001T000000Z', ...lines, 'END:VEVENT', 'END:VCALENDAR', ''].join('\r\n');
  const putIcs = (name, body, headers = {}) => call(`${cal}${name}`, { method: 'PUT', headers: { 'content-type': 'text/calendar; charset=utf-8', ...headers }, body });
  const query = (start, end, depth = '1', comp = 'VEVENT') => call(cal, {
    method: 'REPORT',
    headers: { 'content-type': 'application/xml; charset=utf-8', ...(depth ? { Depth: depth } : {}) },
    body: `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="${comp}"><c:time-range start="${start}" end="${end}"/></c:comp-filter></c:comp-filter></c:filter>
</c:calendar-query>`,
  });

  test('the calendar home lists "personal"', async () => {
    const r = multistatus(await call(home, {
      method: 'PROPFIND',
      headers: { Depth: '1' },
      body: '<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/" xmlns:cal="urn:ietf:params:xml:ns:caldav"><d:prop><d:displayname/><d:resourcetype/><cs:getctag/><cal:supported-calendar-component-set/></d:prop></d:propfind>',
    }));
    assert.equal(r[0].href, home);
    const personal = r.find((x) => x.href === cal);
    assert.ok(personal);
    assert.equal(pval(personal, DAVp('displayname')), 'Personal');
    const rt = personal.props.get(DAVp('resourcetype')).children.map((c) => `{${c.ns}}${c.local}`);
    assert.deepEqual(rt, [DAVp('collection'), CAL('calendar')]);
    assert.match(pval(personal, CS('getctag')), /^http:\/\/sabre\.io\/ns\/sync\/\d+$/);
    assert.deepEqual(personal.props.get(CAL('supported-calendar-component-set')).children.map((c) => c.attrs.name), ['VEVENT']);
    const calendars = r.filter((x) => x.props.get(DAVp('resourcetype'))?.children.some((c) => c.local === 'calendar'));
    assert.equal(calendars.length, 1, 'inbox/outbox/trashbin are not calendars');
  });

  test('PUT/GET/If-Match/If-None-Match/DELETE of events; ctag moves', async () => {
    const ctag0 = nc.state.calendars('alice')[0].ctag;
    const body = ics('ev-1', ['DTSTART:20261105T100000Z', 'DTEND:20261105T110000Z', 'SUMMARY:Planning, 2027']);
    const created = await putIcs('ev-1.ics', body);
    assert.equal(created.status, 201);
    assert.equal(created.headers.get('etag'), `"${nc.state.events('alice')[0].etag}"`);
    assert.notEqual(nc.state.calendars('alice')[0].ctag, ctag0);

    const got = await call(`${cal}ev-1.ics`);
    assert.equal(got.status, 200);
    assert.equal(got.text, body, 'stored as sent');
    assert.match(got.headers.get('content-type'), /^text\/calendar/);
    assert.equal(got.headers.get('etag'), created.headers.get('etag'));

    assert.equal((await putIcs('ev-1.ics', body, { 'If-None-Match': '*' })).status, 412);
    assert.equal((await putIcs('ev-1.ics', body, { 'If-Match': '"deadbeef"' })).status, 412);
    const changed = body.replace('Planning', 'Planning v2');
    const upd = await putIcs('ev-1.ics', changed, { 'If-Match': created.headers.get('etag') });
    assert.equal(upd.status, 204);
    assert.notEqual(upd.headers.get('etag'), created.headers.get('etag'));

    assert.equal((await putIcs('other-name.ics', changed)).status, 400, 'same UID under another name');
    assert.equal((await putIcs('tmp.ics', ics('tmp', ['DTSTART:20261101T090000Z']))).status, 201);
    assert.equal((await call(`${cal}tmp.ics`, { method: 'DELETE' })).status, 204);
    assert.equal((await call(`${cal}tmp.ics`)).status, 404);
  });

  test('validation like sabre-vobject: junk 415, wrong component 403, repairs drop the ETag', async () => {
    const junk = await putIcs('junk.ics', 'hello');
    assert.equal(junk.status, 415);
    assert.equal(davException(junk), 'Sabre\\DAV\\Exception\\UnsupportedMediaType');
    const todo = ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:x', 'BEGIN:VTODO', 'UID:t1', 'DTSTAMP:20261001T000000Z', 'SUMMARY:task', 'END:VTODO', 'END:VCALENDAR'].join('\r\n');
    const wrong = await putIcs('t1.ics', todo);
    assert.equal(wrong.status, 403, 'the personal calendar only takes VEVENT');
    assert.match(wrong.text, /supported-calendar-component/);
    const noDtstart = await putIcs('nd.ics', ics('nd', ['SUMMARY:x']));
    assert.equal(noDtstart.status, 415);
    const bare = ['BEGIN:VCALENDAR', 'BEGIN:VEVENT', 'DTSTART:20270101T100000Z', 'SUMMARY:no uid', 'END:VEVENT', 'END:VCALENDAR'].join('\r\n');
    const repaired = await putIcs('bare.ics', bare);
    assert.equal(repaired.status, 201);
    assert.equal(repaired.headers.get('etag'), null, 'repaired objects come back without an ETag');
    const stored = nc.state.events('alice').find((e) => e.name === 'bare.ics');
    assert.match(stored.data, /\r\nUID:/);
    assert.match(stored.data, /\r\nPRODID:/);
    assert.equal((await call(`${cal}bare.ics`, { method: 'DELETE' })).status, 204);
  });

  test('calendar-query with a time-range: UTC, all-day and TZID events; Depth rules', async () => {
    await putIcs('allday.ics', ics('allday', ['DTSTART;VALUE=DATE:20261130', 'DTEND;VALUE=DATE:20261201', 'SUMMARY:Last day']));
    await putIcs('december.ics', ics('december', ['DTSTART:20261215T100000Z', 'DTEND:20261215T110000Z']));
    await putIcs('berlin.ics', ics('berlin', ['DTSTART;TZID=Europe/Berlin:20261101T003000', 'DTEND;TZID=Europe/Berlin:20261101T005000']));
    await putIcs('oct31.ics', ics('oct31', ['DTSTART;VALUE=DATE:20261031']));
    const r = multistatus(await query('20261101T000000Z', '20261201T000000Z'));
    assert.deepEqual(r.map((x) => x.href).sort(), [`${cal}allday.ics`, `${cal}ev-1.ics`]);
    for (const x of r) {
      assert.match(pval(x, DAVp('getetag')), /^"[0-9a-f]{32}"$/);
      assert.match(pval(x, CAL('calendar-data')), /^BEGIN:VCALENDAR\r\n/);
    }
    const raw = (await query('20261101T000000Z', '20261201T000000Z')).text;
    assert.match(raw, /<cal:calendar-data>BEGIN:VCALENDAR&#13;\n/);

    // berlin.ics is 23:30–23:50Z on Oct 31 (outside November, although its local times say Nov 1).
    const berlin = multistatus(await query('20261031T230000Z', '20261031T234000Z'));
    assert.deepEqual(berlin.map((x) => x.href).sort(), [`${cal}berlin.ics`, `${cal}oct31.ics`], 'TZID times are converted');
    assert.deepEqual(multistatus(await query('20261031T120000Z', '20261031T130000Z')).map((x) => x.href), [`${cal}oct31.ics`]);
    assert.equal(multistatus(await query('20261101T000000Z', '20261201T000000Z', '1', 'VTODO')).length, 0);
    assert.equal((await query('20261101T000000Z', '20261201T000000Z', null)).status, 400, 'Depth defaults to 0, which sabre refuses');
    assert.equal((await query('20261201T000000Z', '20261101T000000Z')).status, 400);
  });

  test('calendar-multiget', async () => {
    const r = multistatus(await call(cal, {
      method: 'REPORT',
      headers: { 'content-type': 'application/xml', Depth: '1' },
      body: `<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>
<d:href>${cal}ev-1.ics</d:href><d:href>${cal}december.ics</d:href><d:href>${cal}missing.ics</d:href></c:calendar-multiget>`,
    }));
    assert.deepEqual(r.map((x) => x.href), [`${cal}ev-1.ics`, `${cal}december.ics`]);
    assert.match(pval(r[0], CAL('calendar-data')), /SUMMARY:Planning v2, 2027/);
  });

  test("another user's calendars are off limits", async () => {
    assert.equal((await call('/remote.php/dav/calendars/bob/personal/', { method: 'PROPFIND' })).status, 403);
    assert.equal((await call('/remote.php/dav/calendars/bob/personal/x.ics', { method: 'PUT', body: ics('x', ['DTSTART:20261101T000000Z']) })).status, 403);
  });
});

describe('CardDAV', () => {
  const home = '/remote.php/dav/addressbooks/users/alice/';
  const book = `${home}contacts/`;
  const vcf = (uid, fn, email) => ['BEGIN:VCARD', 'VERSION:3.0', `UID:${uid}`, `FN:${fn}`, `EMAIL;TYPE=INTERNET:${email}`, 'END:VCARD', ''].join('\r\n');
  const putVcf = (name, body, headers = {}) => call(`${book}${name}`, { method: 'PUT', headers: { 'content-type': 'text/vcard; charset=utf-8', ...headers }, body });
  const aq = (filter, depth = '1') => call(book, {
    method: 'REPORT',
    headers: { 'content-type': 'application/xml', ...(depth ? { Depth: depth } : {}) },
    body: `<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop>${filter}</card:addressbook-query>`,
  });

  test('the address book home lists "contacts"', async () => {
    const r = multistatus(await call(home, { method: 'PROPFIND', headers: { Depth: '1' }, body: '<d:propfind xmlns:d="DAV:"><d:prop><d:displayname/><d:resourcetype/></d:prop></d:propfind>' }));
    const contacts = r.find((x) => x.href === book);
    assert.equal(pval(contacts, DAVp('displayname')), 'Contacts');
    assert.deepEqual(contacts.props.get(DAVp('resourcetype')).children.map((c) => `{${c.ns}}${c.local}`), [DAVp('collection'), CARD('addressbook')]);
  });

  test('PUT/GET/If-Match/DELETE of cards; Depth 1 lists them with etags', async () => {
    const ada = await putVcf('ada.vcf', vcf('ada', 'Ada Lovelace', 'ada@example.org'));
    assert.equal(ada.status, 201);
    assert.match(ada.headers.get('etag'), /^"[0-9a-f]{32}"$/);
    assert.equal((await putVcf('alan.vcf', vcf('alan', 'Alan Turing', 'alan@bletchley.example'))).status, 201);
    const got = await call(`${book}ada.vcf`);
    assert.equal(got.status, 200);
    assert.match(got.headers.get('content-type'), /^text\/vcard/);
    assert.equal(got.text, vcf('ada', 'Ada Lovelace', 'ada@example.org'));

    assert.equal((await putVcf('ada.vcf', vcf('ada', 'Ada King', 'ada@example.org'), { 'If-Match': '"stale"' })).status, 412);
    assert.equal((await putVcf('ada.vcf', vcf('ada', 'Ada King', 'ada@example.org'), { 'If-None-Match': '*' })).status, 412);
    const upd = await putVcf('ada.vcf', vcf('ada', 'Ada King-Lovelace', 'ada@example.org'), { 'If-Match': ada.headers.get('etag') });
    assert.equal(upd.status, 204);

    const list = multistatus(await call(book, { method: 'PROPFIND', headers: { Depth: '1' }, body: '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/></d:prop></d:propfind>' }));
    assert.deepEqual(list.map((x) => x.href), [book, `${book}ada.vcf`, `${book}alan.vcf`]);
    assert.equal(pval(list[1], DAVp('getetag')), upd.headers.get('etag'));

    const noUid = await putVcf('nouid.vcf', 'BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Grace Hopper\r\nEMAIL:grace@navy.example\r\nEND:VCARD\r\n');
    assert.equal(noUid.status, 201);
    assert.equal(noUid.headers.get('etag'), null);
    assert.match(nc.state.cards('alice').find((c) => c.name === 'nouid.vcf').data, /\r\nUID:/);
    assert.equal((await putVcf('bad.vcf', 'BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n')).status, 415);
    assert.equal((await putVcf('dup.vcf', vcf('alan', 'Other Alan', 'x@y'))).status, 400);

    assert.equal((await call(`${book}nouid.vcf`, { method: 'DELETE' })).status, 204);
    assert.equal((await call(`${book}nouid.vcf`)).status, 404);
  });

  test('addressbook-query: all cards, FN and EMAIL text-match (case-insensitive), Depth rules', async () => {
    const all = multistatus(await aq(''));
    assert.deepEqual(all.map((x) => x.href), [`${book}ada.vcf`, `${book}alan.vcf`]);
    assert.match(pval(all[0], CARD('address-data')), /^BEGIN:VCARD\r\n[\s\S]*FN:Ada King-Lovelace/);
    assert.match(pval(all[0], DAVp('getetag')), /^"[0-9a-f]{32}"$/);

    const fn = multistatus(await aq('<card:filter><card:prop-filter name="FN"><card:text-match collation="i;unicode-casemap" match-type="contains">LOVE</card:text-match></card:prop-filter></card:filter>'));
    assert.deepEqual(fn.map((x) => x.href), [`${book}ada.vcf`]);
    const email = multistatus(await aq('<card:filter><card:prop-filter name="EMAIL"><card:text-match>Bletchley</card:text-match></card:prop-filter></card:filter>'));
    assert.deepEqual(email.map((x) => x.href), [`${book}alan.vcf`]);
    const anyof = multistatus(await aq('<card:filter test="anyof"><card:prop-filter name="FN"><card:text-match>turing</card:text-match></card:prop-filter><card:prop-filter name="EMAIL"><card:text-match>ada@</card:text-match></card:prop-filter></card:filter>'));
    assert.equal(anyof.length, 2);
    const allof = multistatus(await aq('<card:filter test="allof"><card:prop-filter name="FN"><card:text-match>turing</card:text-match></card:prop-filter><card:prop-filter name="EMAIL"><card:text-match>ada@</card:text-match></card:prop-filter></card:filter>'));
    assert.equal(allof.length, 0);
    assert.equal(multistatus(await aq('<card:filter><card:prop-filter name="FN"><card:text-match>nobody</card:text-match></card:prop-filter></card:filter>')).length, 0);
    const noDepth = await aq('', null);
    assert.equal(noDepth.status, 415, 'addressbook-query defaults to Depth 0, which sabre does not support on a book');
  });

  test('addressbook-multiget', async () => {
    const r = multistatus(await call(book, {
      method: 'REPORT',
      headers: { 'content-type': 'application/xml', Depth: '1' },
      body: `<card:addressbook-multiget xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><d:getetag/><card:address-data/></d:prop><d:href>${book}alan.vcf</d:href></card:addressbook-multiget>`,
    }));
    assert.deepEqual(r.map((x) => x.href), [`${book}alan.vcf`]);
    assert.match(pval(r[0], CARD('address-data')), /FN:Alan Turing/);
  });
});

describe('routing and discovery', () => {
  test('unknown routes 404, wrong methods 405, status.php is public', async () => {
    assert.equal((await call('/nope', { as: null })).status, 404);
    assert.equal((await call('/index.php/apps/notes/', {})).status, 404);
    const status = await call('/status.php', { as: null });
    assert.equal(status.status, 200);
    assert.equal(status.json.installed, true);
    assert.equal((await call('/status.php', { method: 'POST', as: null })).status, 405);
    assert.equal((await call('/remote.php/dav/files/alice/', { method: 'MKCALENDAR' })).status, 405);
  });

  test('principal discovery points at the calendar and address book homes', async () => {
    const r = multistatus(await call('/remote.php/dav/', {
      method: 'PROPFIND',
      headers: { Depth: '0' },
      body: '<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>',
    }));
    const principal = xmlText(xmlKid(r[0].props.get(DAVp('current-user-principal')), 'href'));
    assert.equal(principal, '/remote.php/dav/principals/users/alice/');
    const p = multistatus(await call(principal, {
      method: 'PROPFIND',
      headers: { Depth: '0' },
      body: '<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><c:calendar-home-set/><card:addressbook-home-set/></d:prop></d:propfind>',
    }))[0];
    assert.equal(xmlText(xmlKid(p.props.get(CAL('calendar-home-set')), 'href')), '/remote.php/dav/calendars/alice/');
    assert.equal(xmlText(xmlKid(p.props.get(CARD('addressbook-home-set')), 'href')), '/remote.php/dav/addressbooks/users/alice/');
  });
});

describe('CLI', () => {
  test('starts from flags and env, prints the listening line, stops on SIGTERM', async () => {
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
        const check = () => { const m = /nextcloud-standin listening on (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out); if (m) { clearTimeout(t); resolve(m[1]); } };
        child.stdout.on('data', check);
        child.once('exit', (code) => reject(new Error(`exited ${code}: ${err}`)));
      });
      for (const [u, pw] of [['frank', 'frank-pw'], ['gina', 'gina-pw'], ['hal', 'hal-pw']]) {
        const r = await fetch(`${base}/ocs/v2.php/cloud/user?format=json`, { headers: { authorization: basic(u, pw), 'OCS-APIRequest': 'true' } });
        assert.equal(r.status, 200);
        assert.equal((await r.json()).ocs.data.id, u);
      }
      const viaIdp = await fetch(`${base}/ocs/v2.php/cloud/user?format=json`, { headers: { authorization: 'Bearer tok-bob' } });
      assert.equal((await viaIdp.json()).ocs.data.id, 'bob');
      assert.ok(!err.includes('tok-bob') && !err.includes('frank-pw'), 'no secrets on stderr');
      const exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
      child.kill('SIGTERM');
      assert.deepEqual(await exited, { code: 0, signal: null });
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
