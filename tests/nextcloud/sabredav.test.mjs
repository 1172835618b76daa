// The real sabre/dav (tests/sabredav/) behind the Nextcloud stand-in, as the MCP server meets it:
// every request goes through the stand-in with an app password (Basic), exactly as in the e2e
// tests. These tests pin down what Nextcloud's DAV does and the stand-in's old imitation did not:
// Nextcloud's hrefs, odd file names and Unicode normalisation, ETags and file ids, preconditions,
// SEARCH's LIKE escaping, big folders, CalDAV/CardDAV validation and vCard conversion.
//   node --test tests/nextcloud/sabredav.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNextcloud } from '../lib/harness.mjs';
import { parseXml, parseMultistatus, xmlKid, xmlKids, xmlText, clark } from '../lib/xml.mjs';

const ROOT = '/remote.php/dav';
const OC = (l) => `{http://owncloud.org/ns}${l}`;
const CAL = (l) => `{urn:ietf:params:xml:ns:caldav}${l}`;
const PROPS = '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:c="urn:ietf:params:xml:ns:caldav" '
  + 'xmlns:card="urn:ietf:params:xml:ns:carddav" xmlns:a="http://apple.com/ns/ical/"><d:prop>'
  + '<d:displayname/><d:resourcetype/><d:getetag/><oc:fileid/><oc:id/><oc:size/><oc:permissions/><d:getcontenttype/>'
  + '<c:supported-calendar-component-set/><a:calendar-color/><c:calendar-home-set/><card:addressbook-home-set/>'
  + '</d:prop></d:propfind>';

let nc;
const users = { alice: 'alice-app-pw', bob: 'bob-app-pw' };

before(async () => {
  nc = await startNextcloud({ basicUsers: users });
});
after(async () => {
  await nc?.stop();
});

/** A request through the stand-in; `path` is below /remote.php/dav/ and already URL-encoded. */
async function dav(path, { method = 'GET', as = 'alice', headers = {}, body } = {}) {
  const authorization = `Basic ${Buffer.from(`${as}:${users[as]}`).toString('base64')}`;
  const res = await fetch(`${nc.base}${ROOT}/${path}`, { method, headers: { authorization, ...headers }, body });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, text: bytes.toString('utf8'), bytes };
}

const enc = (p) => p.split('/').map(encodeURIComponent).join('/');

async function propfind(path, depth = '0', as = 'alice') {
  const r = await dav(path, { method: 'PROPFIND', as, headers: { Depth: depth, 'Content-Type': 'application/xml' }, body: PROPS });
  assert.equal(r.status, 207, `PROPFIND ${path}: ${r.text}`);
  return parseMultistatus(r.text);
}

const put = (path, body, headers = {}) => dav(enc(path), { method: 'PUT', body, headers });
const hrefOf = (path) => `${ROOT}/${path}`;
const prop = (resp, key) => xmlText(resp.props.get(key));
const errorOf = (r) => {
  const doc = parseXml(r.text);
  return { exception: xmlText(xmlKid(doc, 'exception')), message: xmlText(xmlKid(doc, 'message')), doc };
};

describe("the homes, at Nextcloud's hrefs", () => {
  test('files/<user>/', async () => {
    const [home] = await propfind('files/alice/');
    assert.equal(home.href, hrefOf('files/alice/'));
    assert.deepEqual(xmlKids(home.props.get('{DAV:}resourcetype')).map(clark), ['{DAV:}collection']);
    assert.equal(prop(home, OC('permissions')), 'RGDNVCK');
    assert.match(prop(home, '{DAV:}getetag'), /^"[0-9a-f]{13}"$/, 'folder ETags are uniqid()-style');
    assert.match(prop(home, OC('id')), new RegExp(`^${String(prop(home, OC('fileid'))).padStart(8, '0')}oc[0-9a-f]+$`));
  });

  test('calendars/<user>/ holds "personal" as Nextcloud creates it at the first login', async () => {
    const list = await propfind('calendars/alice/', '1');
    assert.equal(list[0].href, hrefOf('calendars/alice/'));
    const personal = list.find((r) => r.href === hrefOf('calendars/alice/personal/'));
    assert.ok(personal, list.map((r) => r.href).join(' '));
    assert.equal(prop(personal, '{DAV:}displayname'), 'Personal');
    assert.equal(prop(personal, '{http://apple.com/ns/ical/}calendar-color'), '#00679e');
    assert.deepEqual(xmlKids(personal.props.get(CAL('supported-calendar-component-set'))).map((c) => c.attrs.name), ['VEVENT']);
  });

  test('addressbooks/users/<user>/ holds "contacts"', async () => {
    const list = await propfind('addressbooks/users/alice/', '1');
    assert.equal(list[0].href, hrefOf('addressbooks/users/alice/'));
    const contacts = list.find((r) => r.href === hrefOf('addressbooks/users/alice/contacts/'));
    assert.equal(prop(contacts, '{DAV:}displayname'), 'Contacts');
    assert.deepEqual(xmlKids(contacts.props.get('{DAV:}resourcetype')).map(clark), ['{DAV:}collection', '{urn:ietf:params:xml:ns:carddav}addressbook']);
  });

  test('principals/users/<user>/ points at the homes; the root names the current principal', async () => {
    const [p] = await propfind('principals/users/alice/');
    assert.equal(p.href, hrefOf('principals/users/alice/'));
    assert.equal(xmlText(xmlKid(p.props.get(CAL('calendar-home-set')), 'href')), hrefOf('calendars/alice/'));
    assert.equal(xmlText(xmlKid(p.props.get('{urn:ietf:params:xml:ns:carddav}addressbook-home-set'), 'href')), hrefOf('addressbooks/users/alice/'));
    const r = await dav('', { method: 'PROPFIND', headers: { Depth: '0' }, body: '<d:propfind xmlns:d="DAV:"><d:prop><d:current-user-principal/></d:prop></d:propfind>' });
    assert.equal(xmlText(xmlKid(parseMultistatus(r.text)[0].props.get('{DAV:}current-user-principal'), 'href')), hrefOf('principals/users/alice/'));
  });

  test("another user's files home is an empty collection; their calendars are closed", async () => {
    const bobWrites = await dav(enc('files/bob/secret.txt'), { method: 'PUT', as: 'bob', body: 'bob only' });
    assert.equal(bobWrites.status, 201);
    assert.equal((await put('files/bob/other.txt', 'x')).status, 403, 'alice cannot write there');
    const seen = await propfind('files/bob/', '1');
    assert.deepEqual(seen.map((r) => r.href), [hrefOf('files/bob/')], 'no children visible to alice');
    assert.equal((await dav(enc('files/bob/secret.txt'))).status, 404);
    // sabre's ACL plugin (Nextcloud's DavAclPlugin would answer 404 instead): properties hidden, writes refused.
    const [cal] = await propfind('calendars/bob/personal/');
    assert.equal(cal.props.size, 0, 'no property of the calendar is readable');
    assert.ok(cal.byStatus[403]?.has('{DAV:}displayname'));
    const write = await dav('calendars/bob/personal/x.ics', { method: 'PUT', headers: { 'Content-Type': 'text/calendar' }, body: 'BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n' });
    assert.equal(write.status, 403);
    assert.equal(errorOf(write).exception, 'Sabre\\DAVACL\\Exception\\NeedPrivileges');
  });
});

describe('files', () => {
  test('PUT/GET of names with spaces, #, %, ?, ;, \', emoji; an NFD path finds the NFC file', async () => {
    assert.equal((await dav('files/alice/names', { method: 'MKCOL' })).status, 201);
    const names = ['with space.txt', 'hash#tag.txt', 'per%cent 100%.txt', 'what?.txt', 'semi;colon.txt', "it's.txt", 'party 🎉.txt', 'Crème brûlée.txt'];
    for (const [i, name] of names.entries()) {
      const r = await put(`files/alice/names/${name}`, `content ${i}`);
      assert.equal(r.status, 201, `${name}: ${r.text}`);
      const got = await dav(enc(`files/alice/names/${name}`));
      assert.equal(got.status, 200, name);
      assert.equal(got.text, `content ${i}`, name);
    }
    const listed = (await propfind('files/alice/names/', '1')).slice(1);
    assert.deepEqual(listed.map((r) => r.href).sort(), names.map((n) => hrefOf(`files/alice/names/${n}`)).sort());
    assert.deepEqual(listed.map((r) => prop(r, '{DAV:}displayname')).sort(), [...names].sort());

    const nfd = 'Crème brûlée.txt'.normalize('NFD');
    assert.notEqual(nfd, 'Crème brûlée.txt');
    const viaNfd = await dav(enc(`files/alice/names/${nfd}`));
    assert.equal(viaNfd.status, 200);
    assert.equal(viaNfd.text, `content ${names.length - 1}`);
    assert.equal((await put(`files/alice/names/${nfd}`, 'updated via NFD')).status, 204, 'the NFD name is the existing file');
    assert.equal((await dav(enc('files/alice/names/Crème brûlée.txt'))).text, 'updated via NFD');
    assert.equal((await propfind('files/alice/names/', '1')).length, names.length + 1, 'still one file, stored as NFC');
    assert.equal(nc.dav.readFile('alice', `names/${nfd}`), 'updated via NFD', 'readFile() reads the stored file');
    assert.equal(nc.dav.readFile('alice', 'names/party 🎉.txt'), `content ${names.indexOf('party 🎉.txt')}`);
    assert.equal(nc.dav.readFile('alice', 'names/nothing-here.txt'), null);
  });

  test('every PUT changes the ETag (also for same-size content), the file id stays; folders above change too', async () => {
    const first = await put('files/alice/etag.txt', 'version 1');
    assert.equal(first.status, 201);
    const etag1 = first.headers.get('etag');
    assert.match(etag1, /^"[0-9a-f]{32}"$/);
    assert.equal(first.headers.get('oc-etag'), etag1);
    const fileId = first.headers.get('oc-fileid');
    assert.match(fileId, /^\d{8}oc[0-9a-f]+$/);
    const [before] = await propfind('files/alice/etag.txt');
    assert.equal(prop(before, '{DAV:}getetag'), etag1);
    assert.equal(prop(before, OC('id')), fileId);
    const homeEtag = prop((await propfind('files/alice/'))[0], '{DAV:}getetag');

    const etags = [etag1];
    for (const body of ['version 2', 'version 3', 'version 3']) {
      const r = await put('files/alice/etag.txt', body);
      assert.equal(r.status, 204);
      assert.equal(r.headers.get('oc-fileid'), fileId);
      etags.push(r.headers.get('etag'));
    }
    assert.equal(new Set(etags).size, etags.length, `ETags repeat: ${etags}`);
    const [after] = await propfind('files/alice/etag.txt');
    assert.equal(prop(after, '{DAV:}getetag'), etags.at(-1));
    assert.equal(prop(after, OC('fileid')), prop(before, OC('fileid')));
    assert.equal(prop(after, OC('size')), String('version 3'.length));
    assert.notEqual(prop((await propfind('files/alice/'))[0], '{DAV:}getetag'), homeEtag, 'the home folder got a new ETag');
  });

  test('If-Match with a stale ETag answers 412 and changes nothing', async () => {
    const created = await put('files/alice/guarded.txt', 'original');
    const stale = created.headers.get('etag');
    const current = (await put('files/alice/guarded.txt', 'second')).headers.get('etag');
    const refused = await put('files/alice/guarded.txt', 'lost update', { 'If-Match': stale });
    assert.equal(refused.status, 412);
    assert.equal(errorOf(refused).exception, 'Sabre\\DAV\\Exception\\PreconditionFailed');
    const got = await dav(enc('files/alice/guarded.txt'));
    assert.equal(got.text, 'second');
    assert.equal(got.headers.get('etag'), current);
    assert.equal((await put('files/alice/guarded.txt', 'x', { 'If-None-Match': '*' })).status, 412);
    assert.equal((await put('files/alice/guarded.txt', 'third', { 'If-Match': current })).status, 204);
  });

  test("forbidden names are refused as Nextcloud's InvalidPath (400) and nothing is created", async () => {
    for (const [path, reason] of [
      ['files/alice/.htaccess', '".htaccess" is a forbidden file or folder name.'],
      ['files/alice/.HTACCESS', '".HTACCESS" is a forbidden file or folder name.'],
      ['files/alice/upload.part', '".part" is a forbidden file type.'],
      ['files/alice/back\\slash.txt', '"\\" is not allowed inside a file or folder name.'],
    ]) {
      const r = await put(path, 'x');
      assert.equal(r.status, 400, path);
      const { exception, doc } = errorOf(r);
      assert.equal(exception, 'OCA\\DAV\\Connector\\Sabre\\Exception\\InvalidPath');
      assert.equal(xmlText(xmlKid(doc, 'reason')), reason);
      assert.equal(xmlText(xmlKid(doc, 'retry')), 'false');
    }
    assert.equal((await dav('files/alice/.htaccess', { method: 'MKCOL' })).status, 400);
    const move = await dav(enc('files/alice/guarded.txt'), { method: 'MOVE', headers: { Destination: `${nc.base}${hrefOf('files/alice/x.filepart')}` } });
    assert.equal(move.status, 400);
    const names = (await propfind('files/alice/', '1')).map((r) => r.href);
    assert.ok(!names.some((h) => /htaccess|\.part$|filepart|slash/i.test(h)), names.join(' '));
    assert.ok(names.includes(hrefOf('files/alice/guarded.txt')));
  });

  test('MKCOL, MOVE (keeps the file id), COPY (new id), PROPPATCH, DELETE go through sabre', async () => {
    assert.equal((await dav('files/alice/a', { method: 'MKCOL' })).status, 201);
    assert.equal((await dav('files/alice/a', { method: 'MKCOL' })).status, 405);
    assert.equal((await dav('files/alice/missing/b', { method: 'MKCOL' })).status, 409);
    assert.equal((await put('files/alice/a/doc.md', '# Doc')).status, 201);
    const [doc] = await propfind('files/alice/a/doc.md');
    assert.equal(prop(doc, '{DAV:}getcontenttype'), 'text/markdown');
    const patch = await dav('files/alice/a/doc.md', {
      method: 'PROPPATCH',
      body: '<d:propertyupdate xmlns:d="DAV:" xmlns:x="urn:example:test"><d:set><d:prop><x:colour>teal</x:colour></d:prop></d:set></d:propertyupdate>',
    });
    assert.equal(patch.status, 207);
    const moved = await dav('files/alice/a', { method: 'MOVE', headers: { Destination: `${nc.base}${hrefOf('files/alice/b')}` } });
    assert.equal(moved.status, 201);
    const [after] = await propfind('files/alice/b/doc.md');
    assert.equal(prop(after, OC('fileid')), prop(doc, OC('fileid')), 'a move keeps the file id');
    const dead = await dav('files/alice/b/doc.md', { method: 'PROPFIND', body: '<d:propfind xmlns:d="DAV:" xmlns:x="urn:example:test"><d:prop><x:colour/></d:prop></d:propfind>' });
    assert.equal(xmlText(parseMultistatus(dead.text)[0].props.get('{urn:example:test}colour')), 'teal', 'dead properties move along');
    const copied = await dav('files/alice/b/doc.md', { method: 'COPY', headers: { Destination: `${nc.base}${hrefOf('files/alice/copy.md')}` } });
    assert.equal(copied.status, 201);
    const [copy] = await propfind('files/alice/copy.md');
    assert.notEqual(prop(copy, OC('fileid')), prop(doc, OC('fileid')), 'a copy is a new file');
    assert.equal((await dav('files/alice/copy.md')).text, '# Doc');
    assert.equal((await dav('files/alice/b', { method: 'DELETE' })).status, 204);
    assert.equal((await dav('files/alice/b/doc.md')).status, 404);
    assert.equal((await dav('files/alice/', { method: 'DELETE' })).status, 403, 'the home folder cannot be deleted');
  });

  test('a folder of 1,200 files lists completely with Depth 1', async () => {
    assert.equal((await dav('files/alice/many', { method: 'MKCOL' })).status, 201);
    const names = Array.from({ length: 1200 }, (_, i) => `file-${String(i).padStart(4, '0')}.txt`);
    let next = 0;
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < names.length) {
        const name = names[next++];
        const r = await put(`files/alice/many/${name}`, name);
        assert.equal(r.status, 201, `${name}: ${r.text}`);
      }
    }));
    const list = await propfind('files/alice/many/', '1');
    assert.equal(list.length, 1201);
    assert.deepEqual(list.slice(1).map((r) => r.href).sort(), names.map((n) => hrefOf(`files/alice/many/${n}`)));
    assert.equal(new Set(list.map((r) => prop(r, OC('fileid')))).size, 1201, 'every entry has its own file id');
    assert.equal(prop(list[0], OC('size')), String(names.reduce((s, n) => s + n.length, 0)), 'the folder size is the sum');
  });
});

describe('SEARCH', () => {
  const search = (literal, { scope = '/files/alice/search', prop = '<d:displayname/>', op = 'like', limit = '' } = {}) => dav('', {
    method: 'SEARCH',
    headers: { 'Content-Type': 'text/xml' },
    body: `<?xml version="1.0"?><d:searchrequest xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:basicsearch>
<d:select><d:prop><d:displayname/><oc:fileid/><d:getcontenttype/></d:prop></d:select>
<d:from><d:scope><d:href>${scope}</d:href><d:depth>infinity</d:depth></d:scope></d:from>
<d:where><d:${op}><d:prop>${prop}</d:prop><d:literal>${literal}</d:literal></d:${op}></d:where>
<d:orderby><d:order><d:prop><d:displayname/></d:prop><d:ascending/></d:order></d:orderby>${limit}
</d:basicsearch></d:searchrequest>`,
  });
  const found = (r) => {
    assert.equal(r.status, 207, r.text);
    return parseMultistatus(r.text).map((x) => x.href.replace(hrefOf('files/alice/search/'), ''));
  };

  before(async () => {
    await dav('files/alice/search', { method: 'MKCOL' });
    await dav('files/alice/search/deep', { method: 'MKCOL' });
    for (const name of ['invoice_0042.txt', 'invoiceX0042.txt', 'notes.md', 'deep/INVOICE_0043.txt', 'photo.png']) {
      assert.equal((await put(`files/alice/search/${name}`, name)).status, 201);
    }
  });

  test('like: a backslash escapes _ (LIKE … ESCAPE \'\\\'), an unescaped _ matches any character', async () => {
    assert.deepEqual(found(await search('%e\\_0%')), ['deep/INVOICE_0043.txt', 'invoice_0042.txt']);
    assert.deepEqual(found(await search('%e_0%')), ['deep/INVOICE_0043.txt', 'invoiceX0042.txt', 'invoice_0042.txt'].sort());
    assert.deepEqual(found(await search('invoice\\_0042.txt')), ['invoice_0042.txt'], 'case-insensitive, whole name');
    assert.deepEqual(found(await search('100\\%')), []);
  });

  test('the results carry the requested properties; nresults limits; content type by mime part', async () => {
    const r = await search('%.txt', { limit: '<d:limit><d:nresults>2</d:nresults></d:limit>' });
    const results = parseMultistatus(r.text);
    assert.equal(results.length, 2);
    assert.match(prop(results[0], OC('fileid')), /^\d+$/);
    assert.equal(prop(results[0], '{DAV:}getcontenttype'), 'text/plain');
    assert.deepEqual(found(await search('image/%', { prop: '<d:getcontenttype/>' })), ['photo.png']);
    assert.deepEqual(found(await search('text/markdown', { prop: '<d:getcontenttype/>', op: 'eq' })), ['notes.md']);
  });

  test('a scope below the home only searches there', async () => {
    assert.deepEqual(found(await search('%', { scope: '/files/alice/search/deep' })), ['deep/INVOICE_0043.txt']);
  });
});

describe('CalDAV and CardDAV', () => {
  const ical = (component, uid, lines) => ['BEGIN:VCALENDAR', 'VERSION:2.0', 'PRODID:-//tests//sabredav//EN', `BEGIN:${component}`, `UID:${uid}`,
    'DTSTAMP:20260101T000000Z', ...lines, `END:${component}`, 'END:VCALENDAR', ''].join('\r\n');

  test('MKCALENDAR of a VTODO-only calendar; a VEVENT PUT into it is 403 supported-calendar-component', async () => {
    const made = await dav('calendars/alice/tasks/', {
      method: 'MKCALENDAR',
      body: '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Tasks</d:displayname>'
        + '<c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>',
    });
    assert.equal(made.status, 201, made.text);
    const event = ical('VEVENT', 'ev-1', ['DTSTART:20261101T100000Z', 'DTEND:20261101T110000Z', 'SUMMARY:Meeting']);
    const refused = await dav('calendars/alice/tasks/ev-1.ics', { method: 'PUT', headers: { 'Content-Type': 'text/calendar' }, body: event });
    assert.equal(refused.status, 403);
    const { doc } = errorOf(refused);
    assert.ok(doc.children.some((c) => clark(c) === CAL('supported-calendar-component')), refused.text);
    assert.equal(await nc.dav.raw('calendars', 'alice', 'tasks', 'ev-1.ics'), null, 'nothing was stored');

    const todo = ical('VTODO', 'todo-1', ['SUMMARY:Buy milk']);
    const stored = await dav('calendars/alice/tasks/todo-1.ics', { method: 'PUT', headers: { 'Content-Type': 'text/calendar' }, body: todo });
    assert.equal(stored.status, 201, stored.text);
    assert.equal(await nc.dav.raw('calendars', 'alice', 'tasks', 'todo-1.ics'), todo, 'raw() returns the stored bytes');
    const inPersonal = await dav('calendars/alice/personal/ev-1.ics', { method: 'PUT', headers: { 'Content-Type': 'text/calendar' }, body: event });
    assert.equal(inPersonal.status, 201);
    assert.equal(await nc.dav.raw('calendars', 'alice', 'personal', 'ev-1.ics'), event);
    assert.equal((await dav('calendars/alice/personal/todo.ics', { method: 'PUT', headers: { 'Content-Type': 'text/calendar' }, body: ical('VTODO', 'todo-2', ['SUMMARY:x']) })).status, 403,
      '"personal" takes events only, as Nextcloud creates it');
  });

  test('a vCard 4.0 comes back byte for byte when asked for 4.0, converted to 3.0 otherwise', async () => {
    const card = ['BEGIN:VCARD', 'VERSION:4.0', 'UID:ada-4', 'FN:Ada Lovelace', 'N:Lovelace;Ada;;;', 'EMAIL;TYPE=work:ada@example.org',
      'TEL;VALUE=uri;TYPE=cell:tel:+44-20-7946-0000', 'END:VCARD', ''].join('\r\n');
    const stored = await dav('addressbooks/users/alice/contacts/ada.vcf', { method: 'PUT', headers: { 'Content-Type': 'text/vcard; charset=utf-8' }, body: card });
    assert.equal(stored.status, 201, stored.text);
    const v4 = await dav('addressbooks/users/alice/contacts/ada.vcf', { headers: { Accept: 'text/vcard; version=4.0' } });
    assert.equal(v4.status, 200);
    assert.equal(v4.text, card);
    assert.match(v4.headers.get('content-type'), /^text\/vcard; ?version=4\.0/);
    const plain = await dav('addressbooks/users/alice/contacts/ada.vcf');
    assert.equal(plain.status, 200);
    assert.match(plain.text, /\r\nVERSION:3\.0\r\n/);
    assert.notEqual(plain.text, card);
    assert.match(plain.text, /\r\nFN:Ada Lovelace\r\n/);
    assert.equal(await nc.dav.raw('addressbooks', 'alice', 'contacts', 'ada.vcf'), card);
    assert.equal(await nc.dav.raw('addressbooks', 'alice', 'contacts', 'nobody.vcf'), null);
    const all = await nc.dav.objects('addressbooks', 'alice', 'contacts');
    assert.deepEqual(all.map((o) => o.name), ['ada.vcf']);
    assert.equal(all[0].data, card);
    assert.equal(`"${all[0].etag}"`, stored.headers.get('etag'));
  });
});
