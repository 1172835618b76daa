// The files tools of issue 15 — trash bin, versions, collaborative tags, favourites, and
// files_find by type, time, favourite and tag — through the official MCP TypeScript SDK client,
// against the REAL sabre/dav with the imitations of Nextcloud's files_trashbin, files_versions and
// apps/dav plugins (tests/sabredav/lib/). The SDK validates every structuredContent against the
// tool's outputSchema, so a call that resolves is a validated one. What the tools did is checked on
// the DAV server itself (state.davFetch as alice, dav.readFile). A second stack runs a Nextcloud
// without the trash bin and versions apps, where their tools are hidden and DELETE deletes.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll } from '../lib/harness.mjs';
import { signedInClient, textOf } from '../lib/sdk-client.mjs';

const REDIRECT = 'http://127.0.0.1:17995/oauth/callback';
const TRASH_TOOLS = ['files_trash_list', 'files_trash_restore', 'files_trash_delete'];
const VERSION_TOOLS = ['files_versions_list', 'files_version_restore'];
const TAG_TOOLS = ['files_tags_list', 'files_tag', 'files_favorite'];
/** 2023-11-14T22:13:20Z and a day later: times files are seeded with (X-OC-MTime). */
const T1 = 1700000000;
const T2 = T1 + 86400;

const signedIn = (nextcloudOptions = {}) => signedInClient({ name: 'e2e-ts-files-plus', clientName: 'MCP TypeScript SDK e2e (files plus)', redirect: REDIRECT, nextcloudOptions });
const enc = (p) => p.split('/').map(encodeURIComponent).join('/');

afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });
after(async () => { await stopAll(); });

/** ok/fails helpers for one client. */
function caller(getClient) {
  return {
    async ok(name, args) {
      const result = await getClient().callTool({ name, arguments: args });
      assert.equal(result.isError, false, `${name}: ${textOf(result)}`);
      const data = JSON.parse(textOf(result));
      if (result.structuredContent !== undefined) assert.deepEqual(result.structuredContent, data, name);
      return data;
    },
    async fails(name, args) {
      const result = await getClient().callTool({ name, arguments: args });
      assert.equal(result.isError, true, `${name} should have failed: ${textOf(result)}`);
      return textOf(result);
    },
  };
}

describe('a Nextcloud with the trash bin and versions', () => {
  let stack;
  let client;
  const { ok, fails } = caller(() => client);
  /** sabre/dav as alice, straight (seeding and checking). */
  const dav = (davPath, init) => stack.nextcloud.state.davFetch('alice', davPath, init);
  async function put(path, body, mtime) {
    const res = await dav(`files/alice/${enc(path)}`, { method: 'PUT', body, headers: mtime ? { 'X-OC-MTime': String(mtime) } : {} });
    assert.ok(res.status === 201 || res.status === 204, `PUT ${path}: ${res.status} ${await res.text()}`);
  }
  async function mkdir(path) {
    const res = await dav(`files/alice/${enc(path)}`, { method: 'MKCOL' });
    assert.equal(res.status, 201, `MKCOL ${path}`);
  }
  async function favoriteOnServer(path) {
    const res = await dav(`files/alice/${enc(path)}`, {
      method: 'PROPFIND', headers: { Depth: '0' },
      body: '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:favorite/></d:prop></d:propfind>',
    });
    return /<oc:favorite>(\d)<\/oc:favorite>/.exec(await res.text())?.[1];
  }
  const readFile = (path) => stack.nextcloud.dav.readFile('alice', path);

  before(async () => {
    ({ stack, client } = await signedIn({ basicUsers: { bob: 'bob-files-plus-app-password' } }));
    // bob exists on the DAV server too (his home is made at his first request).
    assert.equal((await stack.nextcloud.state.davFetch('bob', 'files/bob/', { method: 'PROPFIND', headers: { Depth: '0' } })).status, 207);
    await mkdir('Projekte');
    await mkdir('Projekte/Alt');
    await put('Projekte/Alt/notiz.txt', 'alte Notiz', T1);
    await put('Projekte/Angebot März.pdf', '%PDF-1.7 fake', T1);
    await put('Projekte/Foto.jpg', 'not really a jpeg', T2);
    await put('Projekte/Kalkulation.xlsx', 'PK fake', T2);
    await put('Projekte/Bericht.md', 'v1: erster Entwurf', T1);
  });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('the tools are listed with their annotations and output schemas', async () => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const name of [...TRASH_TOOLS, ...VERSION_TOOLS, ...TAG_TOOLS]) assert.ok(byName[name], name);
    for (const name of ['files_trash_list', 'files_versions_list', 'files_tags_list']) {
      assert.equal(byName[name].annotations.readOnlyHint, true, name);
      assert.equal(byName[name].outputSchema?.type, 'object', name);
    }
    const del = byName.files_trash_delete;
    assert.deepEqual([del.annotations.readOnlyHint, del.annotations.destructiveHint], [false, true]);
    assert.match(del.description, /PERMANENTLY/);
    for (const name of ['files_trash_restore', 'files_version_restore', 'files_tag', 'files_favorite']) {
      const a = byName[name].annotations;
      assert.deepEqual([a.readOnlyHint, a.destructiveHint, a.idempotentHint, a.openWorldHint], [false, false, true, false], name);
    }
    assert.match(byName.files_find.description, /favourites/);
  });

  test('a deleted file is in the trash bin, and restoring it brings its content back', async () => {
    await ok('files_write', { path: 'Projekte/Protokoll.md', content: '# Protokoll\nalles gut\n' });
    assert.deepEqual(await ok('files_delete', { path: 'Projekte/Protokoll.md' }), { deleted: 'Projekte/Protokoll.md' });
    assert.equal(readFile('Projekte/Protokoll.md'), null, 'gone from the files');
    const { items, next_cursor } = await ok('files_trash_list', {});
    assert.equal(next_cursor, null);
    const item = items.find((i) => i.name === 'Protokoll.md');
    assert.ok(item, JSON.stringify(items));
    assert.match(item.trash_id, /^Protokoll\.md\.d\d+$/);
    assert.equal(item.original_path, 'Projekte/Protokoll.md');
    assert.equal(item.is_folder, false);
    assert.equal(item.size, Buffer.byteLength('# Protokoll\nalles gut\n'));
    assert.equal(item.content_type, 'text/markdown');
    assert.ok(Math.abs(Date.parse(item.deleted_at) - Date.now()) < 120000, item.deleted_at);

    const restored = await ok('files_trash_restore', { trash_id: item.trash_id });
    assert.deepEqual(restored, { trash_id: item.trash_id, original_path: 'Projekte/Protokoll.md', path: 'Projekte/Protokoll.md' });
    assert.equal(readFile('Projekte/Protokoll.md'), '# Protokoll\nalles gut\n');
    assert.equal((await ok('files_read', { path: 'Projekte/Protokoll.md' })).content, '# Protokoll\nalles gut\n');
    assert.ok(!(await ok('files_trash_list', {})).items.some((i) => i.trash_id === item.trash_id));
    assert.match(await fails('files_trash_restore', { trash_id: item.trash_id }), /^not found: there is no item .* in the trash bin/);
  });

  test('a folder is restored whole; a name taken meanwhile gets " (restored)"', async () => {
    await ok('files_delete', { path: 'Projekte/Alt' });
    await ok('files_write', { path: 'Projekte/Protokoll.md', content: 'neu' });
    await ok('files_delete', { path: 'Projekte/Protokoll.md' });
    await ok('files_write', { path: 'Projekte/Protokoll.md', content: 'neuer' });
    const { items } = await ok('files_trash_list', {});
    const folder = items.find((i) => i.name === 'Alt');
    assert.equal(folder.is_folder, true);
    assert.equal(folder.original_path, 'Projekte/Alt');
    const file = items.find((i) => i.name === 'Protokoll.md');
    assert.equal((await ok('files_trash_restore', { trash_id: folder.trash_id })).path, 'Projekte/Alt');
    assert.equal(readFile('Projekte/Alt/notiz.txt'), 'alte Notiz');
    const clash = await ok('files_trash_restore', { trash_id: file.trash_id });
    assert.equal(clash.path, 'Projekte/Protokoll (restored).md');
    assert.equal(readFile('Projekte/Protokoll (restored).md'), 'neu');
    assert.equal(readFile('Projekte/Protokoll.md'), 'neuer', 'what took the name stays');

    // A file whose folder is gone (here: in the trash bin too) comes back in the root folder.
    await ok('files_delete', { path: 'Projekte/Alt/notiz.txt' });
    await ok('files_delete', { path: 'Projekte/Alt' });
    const orphan = (await ok('files_trash_list', {})).items.find((i) => i.name === 'notiz.txt');
    assert.equal(orphan.original_path, 'Projekte/Alt/notiz.txt');
    assert.equal((await ok('files_trash_restore', { trash_id: orphan.trash_id })).path, 'notiz.txt');
    assert.equal(readFile('notiz.txt'), 'alte Notiz');
    const alt = (await ok('files_trash_list', {})).items.find((i) => i.name === 'Alt');
    await ok('files_trash_restore', { trash_id: alt.trash_id });
    await ok('files_move', { source: 'notiz.txt', destination: 'Projekte/Alt/notiz.txt' });
  });

  test('the trash bin is paged, and deleting from it is permanent', async () => {
    assert.deepEqual((await ok('files_trash_list', {})).items, [], 'the tests before left it empty');
    for (const name of ['a.txt', 'b.txt', 'c.txt']) {
      await ok('files_write', { path: name, content: name });
      await ok('files_delete', { path: name });
    }
    const first = await ok('files_trash_list', { limit: 2 });
    assert.equal(first.items.length, 2);
    assert.ok(first.next_cursor);
    const second = await ok('files_trash_list', { limit: 2, cursor: first.next_cursor });
    const all = [...first.items, ...second.items].map((i) => i.trash_id);
    assert.equal(new Set(all).size, all.length, 'no item twice');
    assert.deepEqual(all.map((id) => id.replace(/\.d\d+$/, '')).sort(), ['a.txt', 'b.txt', 'c.txt']);
    assert.match(await fails('files_trash_delete', {}), /trash_id .* or all=true/);
    assert.match(await fails('files_trash_delete', { trash_id: all[0], all: true }), /not both/);
    assert.deepEqual(await ok('files_trash_delete', { trash_id: all[0] }), { deleted_permanently: all[0] });
    const left = (await ok('files_trash_list', {})).items.map((i) => i.trash_id);
    assert.ok(!left.includes(all[0]) && left.length === 2, `${left}`);
    assert.match(await fails('files_trash_restore', { trash_id: all[0] }), /not found/);
    assert.deepEqual(await ok('files_trash_delete', { all: true }), { emptied: true });
    assert.deepEqual((await ok('files_trash_list', {})).items, []);
    assert.match(await fails('files_trash_restore', { trash_id: '../x' }), /trash bin/);
  });

  test('a file written twice has versions; restoring one brings its content back', async () => {
    await ok('files_write', { path: 'Projekte/Bericht.md', content: 'v2: überarbeitet' });
    const list = await ok('files_versions_list', { path: 'Projekte/Bericht.md' });
    assert.equal(list.path, 'Projekte/Bericht.md');
    assert.equal(list.items.length, 2, JSON.stringify(list));
    const [current, old] = list.items;
    assert.equal(current.current, true);
    assert.equal(current.size, Buffer.byteLength('v2: überarbeitet'));
    assert.equal(old.current, false);
    assert.equal(old.version_id, String(T1));
    assert.equal(old.saved_at, '2023-11-14T22:13:20Z');
    assert.equal(old.size, Buffer.byteLength('v1: erster Entwurf'));
    assert.equal(old.content_type, 'text/markdown');

    assert.deepEqual(await ok('files_version_restore', { path: '/Projekte//Bericht.md', version_id: old.version_id }),
      { path: 'Projekte/Bericht.md', version_id: old.version_id, restored: true });
    assert.equal(readFile('Projekte/Bericht.md'), 'v1: erster Entwurf');
    const after = await ok('files_versions_list', { path: 'Projekte/Bericht.md' });
    assert.equal(after.items.length, 2, 'the replaced content was kept as a version');
    assert.equal(after.items.find((v) => v.current).version_id, String(T1));
    const kept = after.items.find((v) => !v.current);
    assert.equal(kept.size, Buffer.byteLength('v2: überarbeitet'));
    assert.equal((await ok('files_version_restore', { path: 'Projekte/Bericht.md', version_id: String(T1) })).restored, false);
    await ok('files_version_restore', { path: 'Projekte/Bericht.md', version_id: kept.version_id });
    assert.equal(readFile('Projekte/Bericht.md'), 'v2: überarbeitet', 'and back again');

    assert.match(await fails('files_version_restore', { path: 'Projekte/Bericht.md', version_id: '12345' }), /^not found: .* has no version "12345"/);
    assert.match(await fails('files_version_restore', { path: 'Projekte/Bericht.md', version_id: '../1' }), /version_id|no version/);
    assert.match(await fails('files_versions_list', { path: 'Projekte' }), /is a folder/);
    assert.match(await fails('files_versions_list', { path: 'Projekte/nichts.md' }), /^not found/);
    const page = await ok('files_versions_list', { path: 'Projekte/Bericht.md', limit: 1 });
    assert.equal(page.items.length, 1);
    const rest = await ok('files_versions_list', { path: 'Projekte/Bericht.md', limit: 1, cursor: page.next_cursor });
    assert.notEqual(rest.items[0].version_id, page.items[0].version_id);
  });

  test('tags and favourites are set, listed and found; files_find filters by type and time', async () => {
    const tagged = await ok('files_tag', { path: 'Projekte/Angebot März.pdf', tag: 'Rechnung 2025' });
    assert.equal(tagged.assigned, true);
    assert.equal(tagged.changed, true);
    assert.equal(tagged.created, true);
    assert.equal(tagged.tag.name, 'Rechnung 2025');
    const again = await ok('files_tag', { path: 'Projekte/Angebot März.pdf', tag: 'rechnung 2025' });
    assert.deepEqual([again.changed, again.created, again.tag.id], [false, false, tagged.tag.id]);
    await ok('files_tag', { path: 'Projekte/Bericht.md', tag: 'Rechnung 2025' });
    assert.match(await fails('files_tag', { path: 'Projekte/Bericht.md', tag: 'Neu', create_missing: false }), /no tag "Neu"/);
    const restricted = await stack.nextcloud.dav.createSystemTag('Freigegeben', { userAssignable: false });
    assert.match(await fails('files_tag', { path: 'Projekte/Bericht.md', tag: 'Freigegeben' }), /restricted/);
    await stack.nextcloud.dav.createSystemTag('Intern', { userVisible: false });
    assert.match(await fails('files_tag', { path: 'Projekte/Bericht.md', tag: 'intern' }), /^already exists: a tag named "intern" exists but is not visible/);

    const all = await ok('files_tags_list', {});
    assert.deepEqual(all.items.map((t) => [t.name, t.can_assign]), [['Freigegeben', false], ['Rechnung 2025', true]]);
    assert.equal(all.items[0].id, restricted);
    assert.deepEqual((await ok('files_tags_list', { path: 'Projekte/Bericht.md' })).items.map((t) => t.name), ['Rechnung 2025']);
    const paged = await ok('files_tags_list', { limit: 1 });
    assert.equal(paged.items.length, 1);
    assert.equal((await ok('files_tags_list', { limit: 1, cursor: paged.next_cursor })).items[0].name, 'Rechnung 2025');

    const byTag = await ok('files_find', { tag: 'Rechnung 2025' });
    assert.deepEqual(byTag.results.map((r) => r.path).sort(), ['Projekte/Angebot März.pdf', 'Projekte/Bericht.md']);
    assert.deepEqual((await ok('files_find', { tag: 'Rechnung 2025', type: 'pdf' })).results.map((r) => r.path), ['Projekte/Angebot März.pdf']);
    assert.deepEqual((await ok('files_find', { tag: 'Rechnung 2025', query: 'BERICHT' })).results.map((r) => r.path), ['Projekte/Bericht.md']);
    assert.match(await fails('files_find', { tag: 'Unbekannt' }), /no tag "Unbekannt"/);

    assert.deepEqual(await ok('files_favorite', { path: 'Projekte/Foto.jpg' }), { path: 'Projekte/Foto.jpg', favorite: true });
    await ok('files_favorite', { path: 'Projekte/Foto.jpg' });
    await ok('files_favorite', { path: 'Projekte/Alt', favorite: true });
    assert.equal(await favoriteOnServer('Projekte/Foto.jpg'), '1');
    const favs = await ok('files_find', { favorites_only: true });
    assert.deepEqual(favs.results.map((r) => r.path).sort(), ['Projekte/Alt', 'Projekte/Foto.jpg']);
    assert.deepEqual((await ok('files_find', { favorites_only: true, type: 'folder' })).results.map((r) => r.path), ['Projekte/Alt']);
    assert.deepEqual((await ok('files_find', { favorites_only: true, tag: 'Rechnung 2025' })).results, []);
    await ok('files_favorite', { path: 'Projekte/Alt', favorite: false });
    assert.equal(await favoriteOnServer('Projekte/Alt'), '0');
    assert.deepEqual((await ok('files_find', { favorites_only: true })).results.map((r) => r.path), ['Projekte/Foto.jpg']);
    assert.match(await fails('files_favorite', { path: 'Projekte/nichts.txt' }), /^not found/);

    const paths = async (args) => (await ok('files_find', args)).results.map((r) => r.path).sort();
    assert.deepEqual(await paths({ type: 'image' }), ['Projekte/Foto.jpg']);
    assert.deepEqual(await paths({ type: 'spreadsheet' }), ['Projekte/Kalkulation.xlsx']);
    assert.deepEqual(await paths({ type: 'application/pdf' }), ['Projekte/Angebot März.pdf']);
    assert.deepEqual(await paths({ type: 'folder', folder: 'Projekte' }), ['Projekte/Alt']);
    assert.deepEqual(await paths({ modified_after: '2023-11-15T00:00:00Z', modified_before: '2023-11-16' }), ['Projekte/Foto.jpg', 'Projekte/Kalkulation.xlsx']);
    assert.deepEqual(await paths({ modified_before: '2023-11-15', type: 'pdf' }), ['Projekte/Angebot März.pdf']);
    assert.deepEqual(await paths({ query: 'kalk', type: 'image' }), []);
    assert.match(await fails('files_find', {}), /give a query .* or another filter/);
    assert.match(await fails('files_find', { type: 'pictures' }), /type "pictures" is not one of/);

    const untagged = await ok('files_tag', { path: 'Projekte/Bericht.md', tag: 'Rechnung 2025', remove: true });
    assert.deepEqual([untagged.assigned, untagged.changed], [false, true]);
    assert.equal((await ok('files_tag', { path: 'Projekte/Bericht.md', tag: 'Rechnung 2025', remove: true })).changed, false);
    assert.deepEqual(await paths({ tag: 'Rechnung 2025' }), ['Projekte/Angebot März.pdf']);
  });

  test('the imitated apps answer as Nextcloud does (statuses and messages)', async () => {
    const message = async (res) => /<s:message>([^<]*)<\/s:message>/.exec(await res.text())?.[1];
    assert.equal((await dav('trashbin/bob/trash/', { method: 'PROPFIND', headers: { Depth: '1' } })).status, 403, "another user's trash bin");
    assert.equal((await dav('versions/bob/versions/', { method: 'PROPFIND', headers: { Depth: '0' } })).status, 403);
    const json = (body) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const created = await dav('systemtags/', json({ name: 'Entwurf' }));
    assert.equal(created.status, 201);
    assert.match(created.headers.get('content-location'), /\/remote\.php\/dav\/systemtags\/\d+$/);
    let res = await dav('systemtags/', json({ name: 'ENTWURF' }));
    assert.deepEqual([res.status, await message(res)], [409, 'Tag already exists'], 'names are unique ignoring case');
    res = await dav('systemtags/', json({ userVisible: true }));
    assert.deepEqual([res.status, await message(res)], [400, 'Missing "name" attribute']);
    res = await dav('systemtags/', json({ name: 'Geheim', userVisible: false }));
    assert.deepEqual([res.status, await message(res)], [400, 'Not sufficient permissions']);
    assert.equal((await dav('systemtags/', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })).status, 415);
    const report = (rules) => dav('files/alice/', {
      method: 'REPORT',
      body: `<oc:filter-files xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop><oc:filter-rules>${rules}</oc:filter-rules></oc:filter-files>`,
    });
    res = await report('');
    assert.deepEqual([res.status, await message(res)], [400, 'Missing filter-rule block in request']);
    res = await report('<oc:systemtag>9999</oc:systemtag>');
    assert.deepEqual([res.status, await message(res)], [412, 'Cannot filter by non-existing tag']);
    const props = await dav(`files/alice/${enc('Projekte/Kalkulation.xlsx')}`, {
      method: 'PROPFIND', headers: { Depth: '0' }, body: '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop></d:propfind>',
    });
    const fileId = /<oc:fileid>(\d+)</.exec(await props.text())[1];
    res = await dav(`systemtags-relations/files/${fileId}/9999`, { method: 'PUT' });
    assert.deepEqual([res.status, await message(res)], [412, 'Tag with id 9999 does not exist, cannot assign']);
    const restricted = await stack.nextcloud.dav.createSystemTag('Nur Admins', { userAssignable: false });
    res = await dav(`systemtags-relations/files/${fileId}/${restricted}`, { method: 'PUT' });
    assert.deepEqual([res.status, await message(res)], [403, `No permission to assign tag ${restricted}`]);
    assert.equal((await dav('systemtags-relations/files/99999/1', { method: 'PUT' })).status, 404, 'a file id the user cannot reach');
    const folder = await dav('files/alice/Projekte', {
      method: 'PROPFIND', headers: { Depth: '0' }, body: '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop></d:propfind>',
    });
    const folderId = /<oc:fileid>(\d+)</.exec(await folder.text())[1];
    assert.equal((await dav(`versions/alice/versions/${folderId}/`, { method: 'PROPFIND', headers: { Depth: '1' } })).status, 404, 'a folder has no versions');
    // SEARCH knows oc:favorite too (FileSearchBackend; a boolean literal is "yes" or not).
    const favorites = async (literal) => {
      const found = await dav('', {
        method: 'SEARCH', headers: { 'content-type': 'text/xml' },
        body: '<d:searchrequest xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:basicsearch><d:select><d:prop><oc:fileid/></d:prop></d:select>'
          + '<d:from><d:scope><d:href>/files/alice/Projekte</d:href><d:depth>infinity</d:depth></d:scope></d:from>'
          + `<d:where><d:eq><d:prop><oc:favorite/></d:prop><d:literal>${literal}</d:literal></d:eq></d:where></d:basicsearch></d:searchrequest>`,
      });
      assert.equal(found.status, 207);
      return [...(await found.text()).matchAll(/<d:href>([^<]+)<\/d:href>/g)].map((m) => decodeURIComponent(m[1]));
    };
    assert.deepEqual(await favorites('yes'), ['/remote.php/dav/files/alice/Projekte/Foto.jpg']);
    assert.ok(!(await favorites('no')).includes('/remote.php/dav/files/alice/Projekte/Foto.jpg'));
    assert.equal((await dav('trashbin/alice/trash/nichts.d1', { method: 'DELETE' })).status, 404);
    assert.equal((await dav('trashbin/alice/trash/x', { method: 'PUT', body: 'x' })).status, 403, 'nothing is created in the trash bin');
  });

  test('a tagged favourite keeps its tag and mark through the trash bin', async () => {
    await ok('files_favorite', { path: 'Projekte/Angebot März.pdf' });
    await ok('files_delete', { path: 'Projekte/Angebot März.pdf' });
    assert.deepEqual((await ok('files_find', { tag: 'Rechnung 2025' })).results, []);
    const item = (await ok('files_trash_list', {})).items.find((i) => i.name === 'Angebot März.pdf');
    await ok('files_trash_restore', { trash_id: item.trash_id });
    assert.deepEqual((await ok('files_find', { tag: 'Rechnung 2025', favorites_only: true })).results.map((r) => r.path), ['Projekte/Angebot März.pdf']);
  });
});

describe('a Nextcloud without the trash bin and versions apps', () => {
  let stack;
  let client;
  const { ok } = caller(() => client);
  before(async () => {
    ({ stack, client } = await signedIn({ apps: { files_trashbin: false, files_versions: false } }));
    await stack.nextcloud.dav.setApps({ files_trashbin: false, files_versions: false });
  });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('their tools are hidden, a call names the missing app, and DELETE deletes for good', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    for (const name of [...TRASH_TOOLS, ...VERSION_TOOLS]) assert.ok(!names.includes(name), `${name} in ${names}`);
    for (const name of [...TAG_TOOLS, 'files_find']) assert.ok(names.includes(name), name);
    const trash = await client.callTool({ name: 'files_trash_list', arguments: {} });
    assert.equal(trash.isError, true);
    assert.match(textOf(trash), /trash bin \(files_trashbin app\)/);
    const versions = await client.callTool({ name: 'files_versions_list', arguments: { path: 'x.md' } });
    assert.match(textOf(versions), /file versions \(files_versions app\)/);
    assert.ok(!stack.nextcloud.state.requests.some((r) => /\/remote\.php\/dav\/(trashbin|versions)\//.test(r.path)), 'nothing reached the apps');

    await ok('files_write', { path: 'weg.txt', content: 'weg' });
    await ok('files_delete', { path: 'weg.txt' });
    const res = await stack.nextcloud.state.davFetch('alice', 'trashbin/alice/trash/', { method: 'PROPFIND', headers: { Depth: '1' } });
    assert.equal(res.status, 404, 'no trash bin on the server either');
  });
});
