// The official MCP TypeScript SDK client, signed in with every data permission granted, driving
// the Files (WebDAV + SEARCH), Calendar (CalDAV) and Contacts (CardDAV) tools against the REAL
// sabre/dav that Nextcloud 32 runs (tests/sabredav, behind the Nextcloud stand-in that does
// Nextcloud's authentication). Data is written the way real clients write it
// (tests/fixtures/dav: Thunderbird, Apple, DAVx5, Outlook, the Nextcloud apps) by a second
// client using an app password, as DAVx5 or Thunderbird would. Every write is checked against
// the bytes sabre stored: what a tool did not edit must be there byte for byte.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll,
} from '../lib/harness.mjs';
import { signedInClient, textOf, callOk, callRefused } from '../lib/sdk-client.mjs';
import { lineDiff } from '../lib/vtext.mjs';

const REDIRECT = 'http://127.0.0.1:17998/oauth/callback';
const USER = 'alice';
/** The app password of the second client (a DAVx5/Thunderbird stand-in for the same user). */
const APP_PASSWORD = 'dav-e2e-app-password';
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'dav');
const ALL_SCOPES = [
  'notes:read', 'notes:write', 'files:read', 'files:write',
  'calendar:read', 'calendar:write', 'contacts:read', 'contacts:write',
  'tasks:read', 'tasks:write', 'sharing:read', 'sharing:write',
  'deck:read', 'deck:write', 'talk:read', 'talk:write',
];
const TOOLS = {
  whoami: ['whoami'],
  notes: ['notes_list', 'notes_search', 'notes_get', 'notes_create', 'notes_update', 'notes_append', 'notes_delete'],
  files: [
    'files_list', 'files_read', 'files_write', 'files_mkdir', 'files_move', 'files_copy', 'files_delete', 'files_find',
    'files_trash_list', 'files_trash_restore', 'files_trash_delete', 'files_versions_list', 'files_version_restore',
    'files_tags_list', 'files_tag', 'files_favorite',
  ],
  calendar: [
    'calendar_list_calendars', 'calendar_list_events', 'calendar_create_event', 'calendar_update_event', 'calendar_delete_event',
    'calendar_set_attendees', 'calendar_freebusy', 'calendar_create_calendar', 'calendar_update_calendar', 'calendar_delete_calendar',
  ],
  contacts: ['contacts_list_addressbooks', 'contacts_search', 'contacts_get', 'contacts_create', 'contacts_update', 'contacts_delete', 'contacts_create_addressbook'],
  tasks: ['tasks_list', 'tasks_create', 'tasks_update', 'tasks_delete'],
  sharing: ['sharing_list', 'sharing_create', 'sharing_update', 'sharing_delete'],
  deck: ['deck_list_boards', 'deck_get_board', 'deck_get_card', 'deck_create', 'deck_update_card', 'deck_assign', 'deck_delete', 'deck_comment'],
  talk: ['talk_list_conversations', 'talk_read_messages', 'talk_send_message', 'talk_create_conversation'],
  search: ['search', 'fetch'],
};

let stack;
let client;
let provider;

before(async () => {
  // Every permission stays ticked: the person approves the consent page as it is.
  ({ stack, client, provider } = await signedInClient({
    name: 'e2e-ts-dav', clientName: 'MCP TypeScript SDK e2e (DAV)', redirect: REDIRECT,
    nextcloudOptions: { basicUsers: { [USER]: APP_PASSWORD } },
  }));
});
after(async () => { await client?.close(); await stack?.stop(); await stopAll(); });
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

/** A call that must succeed → its JSON answer; a call that must fail → its message. */
const ok = (name, args) => callOk(client, name, args, { structured: false });
const fails = (name, args) => callRefused(client, name, args);

/** The stand-in's requests made while `fn` ran. */
async function requestsDuring(fn) {
  const from = stack.nextcloud.state.requests.length;
  const value = await fn();
  return { value, requests: stack.nextcloud.state.requests.slice(from) };
}

// ---- the second client (app password) and what sabre/dav stored ----------------------------

const basic = () => `Basic ${Buffer.from(`${USER}:${APP_PASSWORD}`).toString('base64')}`;
const encodePath = (p) => p.split('/').filter(Boolean).map(encodeURIComponent).join('/');
const filesPath = (p) => `/remote.php/dav/files/${USER}/${encodePath(p)}`;
const calendarPath = (calendar, name) => `/remote.php/dav/calendars/${USER}/${calendar}/${encodeURIComponent(name)}`;
const cardPath = (name) => `/remote.php/dav/addressbooks/users/${USER}/contacts/${encodeURIComponent(name)}`;

/** A WebDAV request by the second client, through the Nextcloud stand-in. */
async function dav(method, urlPath, { body, headers = {} } = {}) {
  const res = await fetch(`${stack.nextcloud.base}${urlPath}`, {
    method, body, headers: { authorization: basic(), ...headers },
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  return { status: res.status, headers: res.headers, bytes, text: bytes.toString('utf8') };
}

/** A file's content as stored (undefined if there is none). */
async function readFile(p) {
  const r = await dav('GET', filesPath(p));
  return r.status === 200 ? r.text : undefined;
}

/** `{ type: 'file'|'folder', etag }` of a path, or undefined. */
async function stat(p) {
  const r = await dav('PROPFIND', filesPath(p), {
    headers: { depth: '0', 'content-type': 'application/xml' },
    body: '<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/><d:getetag/></d:prop></d:propfind>',
  });
  if (r.status === 404) return undefined;
  assert.equal(r.status, 207, r.text);
  return {
    type: /<d:collection\s*\/>/.test(r.text) ? 'folder' : 'file',
    etag: /<d:getetag>&quot;([^&]*)&quot;<\/d:getetag>/.exec(r.text)?.[1] ?? /<d:getetag>"?([^<"]*)"?<\/d:getetag>/.exec(r.text)?.[1],
  };
}

/** Names (recursively, relative to the root) of the user's files and folders. */
async function allPaths() {
  const r = await dav('PROPFIND', filesPath(''), {
    headers: { depth: 'infinity', 'content-type': 'application/xml' },
    body: '<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>',
  });
  assert.equal(r.status, 207, r.text);
  return [...r.text.matchAll(/<d:href>([^<]*)<\/d:href>/g)].map((m) => decodeURIComponent(m[1])).sort();
}

/** The stored objects of a calendar or the address book: [{ name, etag, data, uid }]. */
async function storedObjects(kind, collection) {
  const objects = await stack.nextcloud.dav.objects(kind, USER, collection);
  return objects.map((o) => ({ ...o, etag: o.etag?.replace(/"/g, ''), uid: /\r?\nUID:([^\r\n]*)/.exec(o.data.replace(/\r?\n[ \t]/g, ''))?.[1] }));
}
const eventObject = async (uid, calendar = 'personal') => (await storedObjects('calendars', calendar)).find((o) => o.uid === uid);
const cardObject = async (uid) => (await storedObjects('addressbooks', 'contacts')).find((o) => o.uid === uid);

/** Stores a fixture as its client would (If-None-Match: *); returns the stored bytes. */
async function putFixture(file, urlPath) {
  const body = readFileSync(path.join(FIXTURES, file));
  const type = file.endsWith('.vcf') ? 'text/vcard; charset=utf-8' : 'text/calendar; charset=utf-8';
  const r = await dav('PUT', urlPath, { body, headers: { 'content-type': type, 'if-none-match': '*' } });
  assert.equal(r.status, 201, `PUT ${file}: ${r.status} ${r.text}`);
  return body.toString('utf8');
}

const propName = (line) => line.replace(/^[^:;]*\./, '').split(/[;:]/)[0].toUpperCase();

const LONG = `Anreise mit dem Zug über Würzburg; Rückfahrt gegen 18 Uhr. ${'Grüße ✓ 🚆 '.repeat(12)}\nZweite Zeile`;
/** RFC 5545 §3.3.11 TEXT escaping. */
const icalText = (s) => s.replace(/[\\;,]/g, (c) => `\\${c}`).replace(/\n/g, '\\n');
const unfold = (data) => data.replace(/\r?\n[ \t]/g, '');

test('every scope granted: the token carries all of them and tools/list shows every tool', async () => {
  assert.deepEqual(provider.tokens().scope.split(' ').sort(), [...ALL_SCOPES].sort());
  const who = JSON.parse(textOf(await client.callTool({ name: 'whoami', arguments: {} })));
  assert.equal(who.user.id, USER);
  assert.deepEqual([...who.scopes].sort(), [...ALL_SCOPES].sort());

  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  assert.equal(new Set(names).size, names.length, 'no tool is listed twice');
  const expected = Object.values(TOOLS).flat();
  for (const n of expected) assert.ok(names.includes(n), `${n} is listed (listing: ${names})`);
  // whoami + 7 notes + 16 files + 10 calendar + 7 contacts + 4 tasks + 4 sharing + 8 deck + 4 talk
  // + search and fetch.
  assert.equal(expected.length, 63);
  assert.equal(names.length, expected.length, `exactly the known tools: ${names.filter((n) => !expected.includes(n))}`);
  for (const [group, list] of Object.entries(TOOLS)) {
    if (group === 'whoami' || group === 'search') continue;
    assert.equal(names.filter((n) => n.startsWith(`${group}_`)).length, list.length, `${group} tools`);
  }
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  assert.equal(byName.files_read.annotations.readOnlyHint, true);
  assert.equal(byName.files_delete.annotations.destructiveHint, true);
  assert.equal(byName.calendar_list_events.annotations.readOnlyHint, true);
  assert.equal(byName.contacts_update.annotations.readOnlyHint, false);
  assert.deepEqual([...byName.files_write.inputSchema.required].sort(), ['content', 'path']);
  assert.deepEqual([...byName.calendar_update_event.inputSchema.required].sort(), ['calendar_id', 'etag', 'uid']);
  assert.deepEqual([...byName.contacts_get.inputSchema.required].sort(), ['addressbook_id', 'uid']);
});

test('files: mkdir, write, conflicts, read, list, find, move, copy, delete, with an international path', async () => {
  const folder = 'Projekte Übersicht 2025';
  const file = `${folder}/Résumé – Café ✓.md`;
  const v1 = '# Résumé\n\nErste Fassung: Grüße aus Köln ☕\n';
  const v2 = `${v1}Zweite Fassung.\n`;

  // mkdir: percent-encoded on the wire, a folder in "Nextcloud".
  const { value: made, requests: mkcol } = await requestsDuring(() => ok('files_mkdir', { path: `/${folder}/` }));
  assert.deepEqual(made, { path: folder, created: true });
  assert.equal((await stat(folder))?.type, 'folder');
  assert.ok(
    mkcol.some((r) => r.method === 'MKCOL' && r.path === `/remote.php/dav/files/${USER}/${encodeURIComponent(folder)}` && r.status === 201),
    `MKCOL sent percent-encoded: ${JSON.stringify(mkcol)}`,
  );
  assert.match(await fails('files_mkdir', { path: folder }), /^already exists: "Projekte Übersicht 2025" already exists/);
  await ok('files_mkdir', { path: `${folder}/Archiv` });

  // write (create only), then again with create_only: refused, nothing changed.
  const created = await ok('files_write', { path: file, content: v1, create_only: true });
  assert.equal(created.path, file);
  assert.equal(created.created, true);
  assert.ok(created.etag, 'the new etag is returned');
  assert.equal((await readFile(file)), v1);
  assert.equal((await stat(file)).etag, created.etag);
  assert.match(await fails('files_write', { path: file, content: 'clobber', create_only: true }), /already exists: .*already exists; read it with files_read/);
  assert.equal((await readFile(file)), v1);

  // Replace with the current etag, then with the stale one: a conflict that changes nothing.
  const replaced = await ok('files_write', { path: file, content: v2, etag: created.etag });
  assert.equal(replaced.created, false);
  assert.notEqual(replaced.etag, created.etag);
  assert.equal((await stat(file)).etag, replaced.etag);
  assert.equal((await readFile(file)), v2);
  const conflict = await fails('files_write', { path: file, content: 'lost update', etag: created.etag });
  assert.match(conflict, /^conflict: "Projekte Übersicht 2025\/Résumé – Café ✓\.md" was changed or deleted since it was read/);
  assert.ok(conflict.includes(created.etag), `the message names the stale etag: ${conflict}`);
  assert.equal((await readFile(file)), v2);
  assert.equal((await stat(file)).etag, replaced.etag);

  // Read back.
  const read = await ok('files_read', { path: file });
  assert.equal(read.content, v2);
  assert.equal(read.etag, replaced.etag);
  assert.equal(read.size, Buffer.byteLength(v2));
  assert.match(read.content_type, /^text\/markdown/);

  // List the folder: folders first, then the file with its size and etag.
  const listed = await ok('files_list', { path: folder });
  assert.equal(listed.path, folder);
  assert.equal(listed.count, 2);
  assert.equal(listed.truncated, false);
  assert.deepEqual(listed.entries.map((e) => [e.name, e.type]), [['Archiv', 'folder'], ['Résumé – Café ✓.md', 'file']]);
  const entry = listed.entries[1];
  assert.equal(entry.path, file);
  assert.equal(entry.size, Buffer.byteLength(v2));
  assert.equal(entry.etag, replaced.etag);
  assert.match(entry.last_modified, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

  // Find by part of the name (case-insensitive, non-ASCII included) with a WebDAV SEARCH.
  await ok('files_write', { path: 'unrelated.txt', content: 'nothing to see' });
  const { value: found, requests: searched } = await requestsDuring(() => ok('files_find', { query: 'CAFÉ' }));
  assert.ok(searched.some((r) => r.method === 'SEARCH' && r.path === '/remote.php/dav/' && r.status === 207), JSON.stringify(searched));
  assert.equal(found.count, 1, JSON.stringify(found));
  assert.equal(found.results[0].path, file);
  assert.equal(found.results[0].type, 'file');
  const inFolder = await ok('files_find', { query: 'archiv', folder });
  assert.deepEqual(inFolder.results.map((r) => [r.path, r.type]), [[`${folder}/Archiv`, 'folder']]);
  assert.equal((await ok('files_find', { query: 'no such name' })).count, 0);

  // Move into the subfolder under a new name.
  const moved = `${folder}/Archiv/Lebenslauf ä.md`;
  const move = await ok('files_move', { source: file, destination: moved });
  assert.deepEqual(move, { source: file, destination: moved, overwritten: false });
  assert.equal((await readFile(file)), undefined);
  assert.equal((await readFile(moved)), v2);

  // Copy onto an existing file without overwrite: refused, the target is untouched.
  const other = `${folder}/other notes.txt`;
  await ok('files_write', { path: other, content: 'keep me', create_only: true });
  const refused = await fails('files_copy', { source: moved, destination: other, overwrite: false });
  assert.match(refused, /^already exists: "Projekte Übersicht 2025\/other notes\.txt" already exists; pass overwrite=true to replace it/);
  assert.equal((await readFile(other)), 'keep me');
  // With overwrite it replaces; to a new name it copies.
  assert.equal((await ok('files_copy', { source: moved, destination: other, overwrite: true })).overwritten, true);
  assert.equal((await readFile(other)), v2);
  const copy = `${folder}/Kopie.md`;
  assert.equal((await ok('files_copy', { source: moved, destination: copy })).overwritten, false);
  assert.equal((await readFile(copy)), v2);
  assert.equal((await readFile(moved)), v2, 'the source of a copy stays');

  // Delete: a stale etag is refused, the current one (or none) deletes.
  const copyEtag = (await stat(copy)).etag;
  await ok('files_write', { path: copy, content: 'changed elsewhere', etag: copyEtag });
  assert.match(await fails('files_delete', { path: copy, etag: copyEtag }), /^conflict: "Projekte Übersicht 2025\/Kopie\.md" was changed since it was read/);
  assert.equal((await readFile(copy)), 'changed elsewhere');
  assert.deepEqual(await ok('files_delete', { path: copy, etag: (await stat(copy)).etag }), { deleted: copy });
  assert.equal((await stat(copy)), undefined);
  assert.deepEqual(await ok('files_delete', { path: `${folder}/Archiv` }), { deleted: `${folder}/Archiv` });
  assert.equal((await stat(`${folder}/Archiv`)), undefined);
  assert.equal((await stat(moved)), undefined, 'a folder is deleted with its contents');
  assert.deepEqual((await ok('files_list', { path: folder })).entries.map((e) => e.name), ['other notes.txt']);

  // A missing file: a "not found" that says where to look.
  const missing = await fails('files_read', { path: moved });
  assert.match(missing, /^not found: there is no file or folder at "Projekte Übersicht 2025\/Archiv\/Lebenslauf ä\.md"/);
  assert.match(await fails('files_delete', { path: copy }), /^not found: there is no file or folder/);
  assert.match(await fails('files_write', { path: 'No Such Folder/a.txt', content: 'x' }), /^not found: the folder "No Such Folder" .* does not exist/);
});

test('files: `..` and other bad paths are refused before anything reaches Nextcloud', async () => {
  assert.equal((await dav('PUT', filesPath('guard.txt'), { body: 'nothing to see' })).status, 201);
  const before = await allPaths();
  const { value: messages, requests } = await requestsDuring(async () => [
    await fails('files_read', { path: 'Projekte Übersicht 2025/../../etc/passwd' }),
    await fails('files_write', { path: '../outside.txt', content: 'x' }),
    await fails('files_list', { path: 'a/./b' }),
    await fails('files_move', { source: 'guard.txt', destination: 'x/../../y.txt' }),
    await fails('files_copy', { source: '..', destination: 'y.txt' }),
    await fails('files_delete', { path: '/' }),
    await fails('files_find', { query: 'a/b' }),
  ]);
  for (const m of messages.slice(0, 3)) assert.match(m, /^invalid arguments: path: `\.` and `\.\.` are not allowed in paths/);
  assert.match(messages[3], /^invalid arguments: destination: `\.` and `\.\.` are not allowed/);
  assert.match(messages[4], /^invalid arguments: source: `\.` and `\.\.` are not allowed/);
  assert.match(messages[5], /^invalid arguments: path must name a file or folder, not the root/);
  assert.match(messages[6], /^invalid arguments: query is matched against names only/);
  assert.deepEqual(requests.filter((r) => r.path.startsWith('/remote.php/')), [], 'no WebDAV request was made');
  assert.deepEqual(await allPaths(), before);
  assert.equal((await readFile('guard.txt')), 'nothing to see');
});

test('calendar: list calendars, create timed and all-day events, list a range, conflicting and good updates, delete', async () => {
  const calendars = await ok('calendar_list_calendars', {});
  const personal = calendars.calendars.find((c) => c.id === 'personal');
  assert.ok(personal, JSON.stringify(calendars));
  assert.equal(personal.name, 'Personal');
  assert.ok(personal.components.includes('VEVENT'));
  assert.equal(personal.writable, true);
  assert.equal(calendars.count, calendars.calendars.length);
  assert.ok(!calendars.calendars.some((c) => ['inbox', 'outbox', 'trashbin'].includes(c.id)), 'only real calendars');

  // A timed event given with an offset, stored in UTC.
  const timed = await ok('calendar_create_event', {
    calendar_id: 'personal', summary: 'Team-Sync: Ü-Planung', start: '2031-03-14T15:00:00+01:00', end: '2031-03-14T16:30:00+01:00',
    location: 'Raum 4, 2. OG', description: 'Zeile 1\nZeile 2; mit Semikolon',
  });
  assert.equal(timed.summary, 'Team-Sync: Ü-Planung');
  assert.equal(timed.start, '2031-03-14T14:00:00Z');
  assert.equal(timed.end, '2031-03-14T15:30:00Z');
  assert.equal(timed.all_day, false);
  assert.equal(timed.location, 'Raum 4, 2. OG');
  assert.equal(timed.description, 'Zeile 1\nZeile 2; mit Semikolon');
  assert.equal(timed.calendar_id, 'personal');
  assert.equal(timed.href, `${timed.uid}.ics`);
  const timedObj = (await eventObject(timed.uid));
  assert.ok(timedObj, 'the event is in Nextcloud');
  assert.equal(timedObj.name, timed.href);
  assert.equal(timedObj.etag, timed.etag);
  const timedData = unfold(timedObj.data);
  assert.match(timedData, /\r?\nDTSTART:20310314T140000Z\r?\n/);
  assert.match(timedData, /\r?\nDTEND:20310314T153000Z\r?\n/);
  assert.match(timedData, /\r?\nSUMMARY:Team-Sync: Ü-Planung\r?\n/);
  assert.match(timedData, /\r?\nLOCATION:Raum 4\\, 2\. OG\r?\n/);
  assert.match(timedData, /\r?\nDESCRIPTION:Zeile 1\\nZeile 2\\; mit Semikolon\r?\n/);

  // An all-day event: the model gives the last day, iCalendar stores the day after.
  const allDay = await ok('calendar_create_event', {
    calendar_id: 'personal', summary: 'Betriebsausflug', start: '2031-03-20', end: '2031-03-22', all_day: true, description: LONG,
  });
  assert.equal(allDay.all_day, true);
  assert.equal(allDay.start, '2031-03-20');
  assert.equal(allDay.end, '2031-03-22');
  const allDayData = unfold((await eventObject(allDay.uid)).data);
  assert.match(allDayData, /\r?\nDTSTART;VALUE=DATE:20310320\r?\n/);
  assert.match(allDayData, /\r?\nDTEND;VALUE=DATE:20310323\r?\n/);
  // Long lines are folded (at most 75 octets each) without splitting a UTF-8 character.
  assert.ok((await eventObject(allDay.uid)).data.split(/\r?\n/).every((l) => Buffer.byteLength(l) <= 75), 'lines folded');
  assert.ok(allDayData.includes(`\nDESCRIPTION:${icalText(LONG)}\r\n`), allDayData);
  assert.equal(allDay.description, LONG);
  assert.equal((await storedObjects('calendars', 'personal')).length, 2);

  // Ranges that hold only one of them (the all-day event's last day counts).
  const march14 = await ok('calendar_list_events', { calendar_id: 'personal', start: '2031-03-14', end: '2031-03-15' });
  assert.equal(march14.count, 1, JSON.stringify(march14));
  assert.equal(march14.events[0].uid, timed.uid);
  assert.equal(march14.events[0].etag, timed.etag);
  assert.equal(march14.events[0].start, '2031-03-14T14:00:00Z');
  const lastDay = await ok('calendar_list_events', { start: '2031-03-22T00:00:00Z', end: '2031-03-22T12:00:00Z' });
  assert.deepEqual(lastDay.events.map((e) => e.uid), [allDay.uid]);
  assert.equal(lastDay.events[0].description, LONG);
  assert.equal(lastDay.events[0].end, '2031-03-22');
  assert.equal(lastDay.events[0].calendar_id, 'personal');
  const both = await ok('calendar_list_events', { calendar_id: 'personal', start: '2031-03-01', end: '2031-04-01' });
  assert.deepEqual(both.events.map((e) => e.uid), [timed.uid, allDay.uid], 'sorted by start');
  assert.equal((await ok('calendar_list_events', { calendar_id: 'personal', start: '2031-03-15', end: '2031-03-20' })).count, 0);

  // Another client changes the event (adds a reminder): the etag we hold is stale now.
  const withAlarm = timedObj.data.replace(
    /END:VEVENT/,
    'BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:Erinnerung\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\nEND:VEVENT',
  );
  assert.equal((await dav('PUT', calendarPath('personal', timedObj.name), { body: withAlarm, headers: { 'content-type': 'text/calendar; charset=utf-8' } })).status, 204);
  const changedEtag = (await eventObject(timed.uid)).etag;
  assert.notEqual(changedEtag, timed.etag);
  const conflict = await fails('calendar_update_event', { calendar_id: 'personal', uid: timed.uid, etag: timed.etag, summary: 'Overwrite' });
  assert.match(conflict, /^conflict: the event was changed since it was read/);
  assert.equal((await eventObject(timed.uid)).etag, changedEtag, 'nothing was written');
  assert.match((await eventObject(timed.uid)).data, /SUMMARY:Team-Sync: Ü-Planung/);

  // With the etag from a fresh listing it works; the length and the reminder are kept.
  const fresh = (await ok('calendar_list_events', { calendar_id: 'personal', start: '2031-03-14', end: '2031-03-15' })).events[0];
  assert.equal(fresh.etag, changedEtag);
  const updated = await ok('calendar_update_event', {
    calendar_id: 'personal', uid: timed.uid, etag: fresh.etag, summary: 'Team-Sync (verschoben)', start: '2031-03-14T10:00:00Z', location: '',
  });
  assert.equal(updated.summary, 'Team-Sync (verschoben)');
  assert.equal(updated.start, '2031-03-14T10:00:00Z');
  assert.equal(updated.end, '2031-03-14T11:30:00Z');
  assert.equal(updated.location, undefined, `location removed: ${JSON.stringify(updated)}`);
  assert.equal(updated.description, 'Zeile 1\nZeile 2; mit Semikolon');
  const stored = (await eventObject(timed.uid));
  assert.equal(updated.etag, stored.etag);
  assert.notEqual(stored.etag, changedEtag);
  const storedData = unfold(stored.data);
  assert.match(storedData, /\r?\nSUMMARY:Team-Sync \(verschoben\)\r?\n/);
  assert.match(storedData, /\r?\nDTSTART:20310314T100000Z\r?\n/);
  assert.match(storedData, /\r?\nDTEND:20310314T113000Z\r?\n/);
  assert.doesNotMatch(storedData, /\nLOCATION/);
  assert.match(storedData, /BEGIN:VALARM\r?\nACTION:DISPLAY\r?\nDESCRIPTION:Erinnerung\r?\nTRIGGER:-PT15M\r?\nEND:VALARM/, 'the reminder survived');
  assert.match(storedData, /\r?\nSEQUENCE:1\r?\n/);

  // Delete: a stale etag is refused; the right one deletes; without etag too; a second time is "not found".
  assert.match(await fails('calendar_delete_event', { calendar_id: 'personal', uid: timed.uid, etag: fresh.etag }), /^conflict: the event was changed since it was read/);
  assert.ok((await eventObject(timed.uid)));
  assert.deepEqual(await ok('calendar_delete_event', { calendar_id: 'personal', uid: timed.uid, etag: updated.etag }), { deleted: timed.uid, calendar_id: 'personal' });
  assert.equal((await eventObject(timed.uid)), undefined);
  await ok('calendar_delete_event', { calendar_id: 'personal', uid: allDay.uid });
  assert.deepEqual((await storedObjects('calendars', 'personal')), []);
  assert.match(await fails('calendar_delete_event', { calendar_id: 'personal', uid: allDay.uid }), /^not found: there is no event with uid/);
  assert.equal((await ok('calendar_list_events', { calendar_id: 'personal', start: '2031-03-01', end: '2031-04-01' })).count, 0);
  assert.match(await fails('calendar_list_events', { calendar_id: 'nope', start: '2031-03-01', end: '2031-04-01' }), /^not found: there is no calendar with id "nope"/);

  // A calendar id is one name: `.`/`..` never leave the user's calendar (no request is made).
  const { value: dotted, requests } = await requestsDuring(async () => [
    await fails('calendar_create_event', { calendar_id: '..', summary: 'x', start: '2031-03-14T10:00:00Z' }),
    await fails('calendar_delete_event', { calendar_id: '..', uid: USER }),
    await fails('calendar_update_event', { calendar_id: '.', uid: 'x', etag: 'e', summary: 'y' }),
    await fails('calendar_list_events', { calendar_id: '..', start: '2031-03-01', end: '2031-04-01' }),
  ]);
  for (const m of dotted) assert.match(m, /^invalid input: the calendar id must be a single name without `\/`, `\.\.`/);
  assert.deepEqual(requests.filter((r) => r.path.startsWith('/remote.php/')), [], 'no CalDAV request was made');
});

test('contacts: list address books, create, search by name and e-mail, get, conflicting and good updates, delete', async () => {
  const books = await ok('contacts_list_addressbooks', {});
  assert.ok(books.addressbooks.some((b) => b.id === 'contacts' && b.name === 'Contacts'), JSON.stringify(books));
  assert.equal(books.count, books.addressbooks.length);

  const zoe = await ok('contacts_create', {
    addressbook_id: 'contacts', given_name: 'Zoë', family_name: 'Müller-Lüdenscheidt',
    emails: ['zoe.mueller@example.org'], phones: ['+49 30 1234567'], org: 'ACME GmbH', note: LONG,
  });
  assert.equal(zoe.full_name, 'Zoë Müller-Lüdenscheidt');
  assert.equal(zoe.given_name, 'Zoë');
  assert.equal(zoe.family_name, 'Müller-Lüdenscheidt');
  assert.deepEqual(zoe.emails.map((e) => e.value), ['zoe.mueller@example.org']);
  assert.deepEqual(zoe.phones.map((p) => p.value), ['+49 30 1234567']);
  assert.equal(zoe.org, 'ACME GmbH');
  assert.equal(zoe.addressbook_id, 'contacts');
  assert.equal(zoe.href, `${zoe.uid}.vcf`);
  const zoeCard = (await cardObject(zoe.uid));
  assert.ok(zoeCard, 'the contact is in Nextcloud');
  assert.equal(zoeCard.name, zoe.href);
  assert.equal(zoeCard.etag, zoe.etag);
  const zoeData = unfold(zoeCard.data);
  assert.match(zoeData, /\r?\nFN:Zoë Müller-Lüdenscheidt\r?\n/);
  assert.match(zoeData, /\r?\nN:Müller-Lüdenscheidt;Zoë;;;\r?\n/);
  assert.match(zoeData, /\r?\nEMAIL[^:\r\n]*:zoe\.mueller@example\.org\r?\n/);
  assert.match(zoeData, /\r?\nTEL[^:\r\n]*:\+49 30 1234567\r?\n/);
  assert.match(zoeData, /\r?\nORG:ACME GmbH\r?\n/);
  assert.ok(zoeCard.data.split(/\r?\n/).every((l) => Buffer.byteLength(l) <= 75), 'vCard lines folded');
  assert.ok(zoeData.includes(`\nNOTE:${icalText(LONG)}\r\n`), zoeData);

  const bob = await ok('contacts_create', { addressbook_id: 'contacts', full_name: 'Bob Builder', emails: ['bob@example.com'] });
  assert.equal((await storedObjects('addressbooks', 'contacts')).length, 2);

  // Search: part of the name (any case), part of the e-mail, something both share, nothing.
  const { value: byName, requests: reports } = await requestsDuring(() => ok('contacts_search', { query: 'LÜDEN' }));
  assert.ok(reports.some((r) => r.method === 'REPORT' && r.path === `/remote.php/dav/addressbooks/users/${USER}/contacts/`), JSON.stringify(reports));
  assert.deepEqual(byName.contacts.map((c) => c.uid), [zoe.uid], JSON.stringify(byName));
  assert.equal(byName.contacts[0].etag, zoe.etag);
  assert.deepEqual(byName.contacts[0].emails, ['zoe.mueller@example.org']);
  assert.deepEqual(byName.contacts[0].phones, ['+49 30 1234567']);
  const byEmail = await ok('contacts_search', { query: 'mueller@example.org', addressbook_id: 'contacts' });
  assert.deepEqual(byEmail.contacts.map((c) => c.uid), [zoe.uid]);
  const shared = await ok('contacts_search', { query: 'example' });
  assert.deepEqual(shared.contacts.map((c) => c.full_name), ['Bob Builder', 'Zoë Müller-Lüdenscheidt']);
  assert.equal((await ok('contacts_search', { query: 'nobody-by-this-name' })).count, 0);
  assert.equal((await ok('contacts_search', {})).count, 2);

  // Get.
  const got = await ok('contacts_get', { addressbook_id: 'contacts', uid: zoe.uid });
  assert.equal(got.full_name, 'Zoë Müller-Lüdenscheidt');
  assert.equal(got.etag, zoe.etag);
  assert.deepEqual(got.emails.map((e) => e.value), ['zoe.mueller@example.org']);
  assert.deepEqual(got.phones.map((p) => p.value), ['+49 30 1234567']);
  assert.equal(got.note, LONG);

  // Another client adds things the tools do not manage: the etag we hold is stale now.
  const extended = zoeCard.data.replace(/END:VCARD/, 'BDAY:19900215\r\nX-MCP-E2E-CUSTOM:bleib da\r\nEND:VCARD');
  assert.equal((await dav('PUT', cardPath(zoeCard.name), { body: extended, headers: { 'content-type': 'text/vcard; charset=utf-8' } })).status, 204);
  const changedEtag = (await cardObject(zoe.uid)).etag;
  assert.notEqual(changedEtag, zoe.etag);
  const conflict = await fails('contacts_update', { addressbook_id: 'contacts', uid: zoe.uid, etag: zoe.etag, org: 'Overwrite AG' });
  assert.match(conflict, /^conflict: /);
  assert.match(conflict, /changed since it was read/);
  assert.equal((await cardObject(zoe.uid)).etag, changedEtag, 'nothing was written');
  assert.match((await cardObject(zoe.uid)).data, /ORG:ACME GmbH/);

  // Get again, update with that etag: the given fields change, everything else stays.
  const again = await ok('contacts_get', { addressbook_id: 'contacts', uid: zoe.uid });
  assert.equal(again.etag, changedEtag);
  assert.ok(again.birthday, `the new birthday is visible: ${JSON.stringify(again)}`);
  const updated = await ok('contacts_update', {
    addressbook_id: 'contacts', uid: zoe.uid, etag: again.etag, emails: ['zoe@neu.example'], org: 'Globex',
  });
  assert.equal(updated.org, 'Globex');
  assert.deepEqual(updated.emails.map((e) => e.value), ['zoe@neu.example']);
  assert.deepEqual(updated.phones.map((p) => p.value), ['+49 30 1234567'], 'phones left out stay');
  assert.equal(updated.full_name, 'Zoë Müller-Lüdenscheidt');
  assert.equal(updated.note, LONG, 'the note left out stays');
  const stored = (await cardObject(zoe.uid));
  assert.equal(updated.etag, stored.etag);
  assert.notEqual(stored.etag, changedEtag);
  const storedData = unfold(stored.data);
  assert.match(storedData, /\r?\nX-MCP-E2E-CUSTOM:bleib da\r?\n/, 'the unknown property was kept');
  assert.match(storedData, /\r?\nBDAY:19900215\r?\n/, 'the birthday was kept');
  assert.match(storedData, /\r?\nTEL[^:\r\n]*:\+49 30 1234567\r?\n/);
  assert.match(storedData, /\r?\nEMAIL[^:\r\n]*:zoe@neu\.example\r?\n/);
  assert.doesNotMatch(storedData, /zoe\.mueller@example\.org/);
  assert.match(storedData, /\r?\nORG:Globex\r?\n/);
  assert.deepEqual((await ok('contacts_search', { query: 'neu.example' })).contacts.map((c) => c.uid), [zoe.uid]);
  assert.equal((await ok('contacts_search', { query: 'mueller@example.org' })).count, 0);

  // Delete: a stale etag is refused, the right one deletes; then it is "not found".
  assert.match(await fails('contacts_delete', { addressbook_id: 'contacts', uid: zoe.uid, etag: again.etag }), /^conflict: /);
  assert.ok((await cardObject(zoe.uid)));
  assert.deepEqual(await ok('contacts_delete', { addressbook_id: 'contacts', uid: zoe.uid, etag: updated.etag }), { deleted: zoe.uid, addressbook_id: 'contacts' });
  assert.equal((await cardObject(zoe.uid)), undefined);
  assert.match(await fails('contacts_get', { addressbook_id: 'contacts', uid: zoe.uid }), /^not found: /);
  assert.deepEqual((await storedObjects('addressbooks', 'contacts')).map((c) => c.uid), [bob.uid]);
  await ok('contacts_delete', { addressbook_id: 'contacts', uid: bob.uid });
  assert.deepEqual((await storedObjects('addressbooks', 'contacts')), []);

  // An address book id is one name: `.`/`..` never leave the user's address book.
  const { value: dotted, requests } = await requestsDuring(async () => [
    await fails('contacts_create', { addressbook_id: '..', full_name: 'X' }),
    await fails('contacts_delete', { addressbook_id: '..', uid: 'contacts' }),
    await fails('contacts_get', { addressbook_id: '.', uid: 'x' }),
    await fails('contacts_search', { addressbook_id: '..', query: 'x' }),
  ]);
  for (const m of dotted) assert.match(m, /^invalid input: the address book id must be a single name without `\/`, `\.\.`/);
  assert.deepEqual(requests.filter((r) => r.path.startsWith('/remote.php/')), [], 'no CardDAV request was made');
});

// ---- data as real clients write it ------------------------------------------------------------

const FIXTURE_LIST = JSON.parse(readFileSync(path.join(FIXTURES, 'fixtures.json'), 'utf8'));
/** The current ETag of a DAV resource, as a client sees it (PROPFIND). */
async function davEtag(urlPath) {
  const r = await dav('PROPFIND', urlPath, {
    headers: { depth: '0', 'content-type': 'application/xml' },
    body: '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>',
  });
  assert.equal(r.status, 207, r.text);
  return /<d:getetag>(?:&quot;|")?([^<&"]*)(?:&quot;|")?<\/d:getetag>/.exec(r.text)[1];
}
const md5 = (s) => createHash('md5').update(s).digest('hex');

/** A new calendar made by the second client (MKCALENDAR), for `components` or any. */
async function mkcalendar(id, displayname, components = []) {
  const set = components.length
    ? `<c:supported-calendar-component-set>${components.map((c) => `<c:comp name="${c}"/>`).join('')}</c:supported-calendar-component-set>`
    : '';
  const r = await dav('MKCALENDAR', `/remote.php/dav/calendars/${USER}/${id}/`, {
    headers: { 'content-type': 'application/xml' },
    body: `<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>${displayname}</d:displayname>${set}</d:prop></d:set></c:mkcalendar>`,
  });
  assert.equal(r.status, 201, r.text);
}

test('calendar: moving a Thunderbird weekly series keeps its cancelled and moved occurrences, its zone and its DST behaviour', async () => {
  const uid = '3f6c1d2e-8a47-4b9c-9d1e-5a2b7c8d9e01';
  const name = `${uid}.ics`;
  const original = await putFixture('calendar/thunderbird-weekly-berlin.ics', calendarPath('personal', name));
  assert.equal(await stack.nextcloud.dav.raw('calendars', USER, 'personal', name), original, 'sabre stored what Thunderbird sent');
  const range = { calendar_id: 'personal', start: '2026-03-01', end: '2026-06-01' };
  const occurrences = async () => (await ok('calendar_list_events', range)).events.filter((e) => e.uid === uid);

  // 09:00 Europe/Berlin: 08:00Z in winter, 07:00Z from 29 March; 16 March and 20 April cancelled;
  // 13 April moved to 10:00 (08:00Z) and listed once.
  const before = await occurrences();
  assert.deepEqual(before.map((e) => e.start), [
    '2026-03-02T08:00:00Z', '2026-03-09T08:00:00Z', '2026-03-23T08:00:00Z', '2026-03-30T07:00:00Z',
    '2026-04-06T07:00:00Z', '2026-04-13T08:00:00Z', '2026-04-27T07:00:00Z', '2026-05-04T07:00:00Z',
    '2026-05-11T07:00:00Z', '2026-05-18T07:00:00Z', '2026-05-25T07:00:00Z',
  ]);

  // The person moves the series to 09:30 (the model gives the time with the winter offset).
  const moved = await ok('calendar_update_event', {
    calendar_id: 'personal', uid, etag: before[0].etag, start: '2026-03-02T09:30:00+01:00',
  });
  assert.equal(moved.start, '2026-03-02T09:30:00');
  assert.equal(moved.end, '2026-03-02T10:30:00');
  assert.equal(moved.timezone, 'Europe/Berlin', 'the event stays in its zone');

  const after = await stack.nextcloud.dav.raw('calendars', USER, 'personal', name);
  assert.equal(moved.etag, md5(after), 'the answer carries the stored ETag');
  const { added, removed } = lineDiff(original, after);
  assert.deepEqual(added.map(propName).sort(), ['DTEND', 'DTSTAMP', 'DTSTART', 'EXDATE', 'EXDATE', 'LAST-MODIFIED', 'RECURRENCE-ID', 'RRULE', 'SEQUENCE']);
  assert.deepEqual(removed.map(propName).sort(), ['DTEND', 'DTSTAMP', 'DTSTART', 'EXDATE', 'EXDATE', 'LAST-MODIFIED', 'RECURRENCE-ID', 'RRULE', 'SEQUENCE']);
  for (const line of [
    'RRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260525T073000Z\r\n',
    'EXDATE;TZID=Europe/Berlin:20260316T093000\r\n',
    'EXDATE;TZID=Europe/Berlin:20260420T093000\r\n',
    'DTSTART;TZID=Europe/Berlin:20260302T093000\r\n',
    'DTEND;TZID=Europe/Berlin:20260302T103000\r\n',
    'RECURRENCE-ID;TZID=Europe/Berlin:20260413T093000\r\n',
    'SEQUENCE:4\r\n',
  ]) assert.ok(added.includes(line), `${JSON.stringify(line)} in ${JSON.stringify(added)}`);
  assert.ok(after.includes('DTSTART;TZID=Europe/Berlin:20260413T100000\r\n'), 'the occurrence moved by hand stays at 10:00');

  // Every occurrence moved by 30 minutes on the Berlin wall clock, before and after the DST
  // change; the cancelled ones stay cancelled; the moved one is still there once.
  const now = await occurrences();
  assert.deepEqual(now.map((e) => e.start), [
    '2026-03-02T08:30:00Z', '2026-03-09T08:30:00Z', '2026-03-23T08:30:00Z', '2026-03-30T07:30:00Z',
    '2026-04-06T07:30:00Z', '2026-04-13T08:00:00Z', '2026-04-27T07:30:00Z', '2026-05-04T07:30:00Z',
    '2026-05-11T07:30:00Z', '2026-05-18T07:30:00Z', '2026-05-25T07:30:00Z',
  ]);
  assert.equal(now.filter((e) => e.summary.startsWith('Plattform-Weekly (verschoben')).length, 1);
});

test('calendar: a details-only edit of events from every client changes only those lines', async () => {
  await mkcalendar('import', 'Import');
  const events = FIXTURE_LIST.filter((f) => f.kind === 'event');
  assert.ok(events.length >= 6, 'the fixtures of six clients');
  for (const fixture of events) {
    const name = `${fixture.uid}.ics`;
    const urlPath = calendarPath('import', name);
    const original = await putFixture(fixture.file, urlPath);
    const etag = await davEtag(urlPath);
    const summary = `Geändert: ${fixture.client.split(' ')[0]} ✓`;
    const updated = await ok('calendar_update_event', { calendar_id: 'import', uid: fixture.uid, etag, summary, description: 'Neue Beschreibung; mit, Zeichen' });
    assert.equal(updated.summary, summary, fixture.file);
    const after = await stack.nextcloud.dav.raw('calendars', USER, 'import', name);
    assert.equal(updated.etag, await davEtag(urlPath), `${fixture.file}: the answer's etag is current`);
    const { added, removed } = lineDiff(original, after);
    const allowed = new Set(['SUMMARY', 'DESCRIPTION', 'DTSTAMP', 'LAST-MODIFIED', 'SEQUENCE']);
    for (const line of [...added, ...removed]) assert.ok(allowed.has(propName(line)), `${fixture.file}: ${JSON.stringify(line)} changed`);
    assert.ok(added.some((l) => l.startsWith('SUMMARY')), fixture.file);
    // The stored times are untouched, so the event still lists where the client put it.
    assert.equal(after.match(/\nDTSTART[;:][^\r\n]*/g)?.join(), original.match(/\nDTSTART[;:][^\r\n]*/g)?.join(), fixture.file);
  }
});

test('calendar: a tasks-only calendar refuses an event with a message that says so', async () => {
  await mkcalendar('aufgaben', 'Aufgaben', ['VTODO']);
  const listed = (await ok('calendar_list_calendars', {})).calendars.find((c) => c.id === 'aufgaben');
  assert.deepEqual(listed.components, ['VTODO']);
  const message = await fails('calendar_create_event', { calendar_id: 'aufgaben', summary: 'Termin', start: '2031-05-01T10:00:00Z' });
  assert.match(message, /calendar "aufgaben" holds only tasks \(VTODO\), not events/);
  assert.doesNotMatch(message, /permission/);
  assert.deepEqual(await storedObjects('calendars', 'aufgaben'), []);
});

test('contacts: a DAVx5 vCard 4.0 card keeps its version and everything not edited', async () => {
  const fixture = FIXTURE_LIST.find((f) => f.file === 'contacts/davx5-4.0.vcf');
  const name = `${fixture.uid}.vcf`;
  const original = await putFixture(fixture.file, cardPath(name));
  const got = await ok('contacts_get', { addressbook_id: 'contacts', uid: fixture.uid });
  assert.equal(got.birthday, '--04-15', 'a birthday without a year stays without one');
  assert.equal(got.etag, await davEtag(cardPath(name)));
  const updated = await ok('contacts_update', {
    addressbook_id: 'contacts', uid: fixture.uid, etag: got.etag, phones: ['+34 612 345 678', '+34 911 000 111'],
  });
  assert.deepEqual(updated.phones.map((p) => p.value), ['+34 612 345 678', '+34 911 000 111']);
  const after = await stack.nextcloud.dav.raw('addressbooks', USER, 'contacts', name);
  const { added, removed } = lineDiff(original, after);
  assert.deepEqual(added.map(propName), ['TEL', 'REV']);
  assert.deepEqual(removed.map(propName), ['REV']);
  assert.match(after, /^BEGIN:VCARD\r\nVERSION:4\.0\r\n/);
  for (const kept of ['BDAY:--0415\r\n', 'ANNIVERSARY:20180609\r\n', 'PHOTO:data:image/jpeg;base64,', 'item1.X-ABLABEL:Blog\r\n']) {
    assert.ok(after.includes(kept), kept);
  }
});

test('contacts: an Apple vCard 3.0 card: grouped labels go with their value, the rest stays byte for byte', async () => {
  const fixture = FIXTURE_LIST.find((f) => f.file === 'contacts/apple-3.0.vcf');
  const name = `${fixture.uid}.vcf`;
  const original = await putFixture(fixture.file, cardPath(name));
  const got = await ok('contacts_get', { addressbook_id: 'contacts', uid: fixture.uid });
  assert.equal(got.birthday, '--04-15', 'X-APPLE-OMIT-YEAR=1604 is a birthday without a year');
  assert.deepEqual(got.emails.map((e) => e.value), ['h.brandt@radwerk-logistik.example', 'leni.brandt@example.net']);
  const updated = await ok('contacts_update', {
    addressbook_id: 'contacts', uid: fixture.uid, etag: got.etag, emails: ['leni.brandt@example.net'],
  });
  assert.deepEqual(updated.emails.map((e) => e.value), ['leni.brandt@example.net']);
  const after = await stack.nextcloud.dav.raw('addressbooks', USER, 'contacts', name);
  const { added, removed } = lineDiff(original, after);
  assert.deepEqual(added.map(propName), ['REV']);
  assert.deepEqual(removed.map(propName).sort(), ['EMAIL', 'REV', 'X-ABLABEL']);
  assert.ok(!after.includes('item1.'), 'the label of the removed address went with it');
  assert.match(after, /^BEGIN:VCARD\r\nVERSION:3\.0\r\n/);
});

test('contacts: a note edit of cards from every client changes only NOTE and REV, in the stored version', async () => {
  const cards = FIXTURE_LIST.filter((f) => f.kind === 'contact' && !['contacts/davx5-4.0.vcf', 'contacts/apple-3.0.vcf'].includes(f.file));
  assert.ok(cards.length >= 3);
  for (const fixture of cards) {
    const name = `${fixture.uid}.vcf`;
    const original = await putFixture(fixture.file, cardPath(name));
    const etag = await davEtag(cardPath(name));
    const updated = await ok('contacts_update', { addressbook_id: 'contacts', uid: fixture.uid, etag, note: 'Zuletzt gesprochen: März 2026; Rückruf erbeten' });
    assert.equal(updated.note, 'Zuletzt gesprochen: März 2026; Rückruf erbeten', fixture.file);
    const after = await stack.nextcloud.dav.raw('addressbooks', USER, 'contacts', name);
    const { added, removed } = lineDiff(original, after);
    for (const line of [...added, ...removed]) assert.ok(['NOTE', 'REV'].includes(propName(line)), `${fixture.file}: ${JSON.stringify(line)} changed`);
    assert.equal(/\nVERSION:([^\r\n]*)/.exec(after)[1], fixture.version, `${fixture.file} stays vCard ${fixture.version}`);
  }
});

test('files: names as clients write them, a folder of 1,200 files, and a query with LIKE wildcards', async () => {
  // Names with spaces, #, %, ?, ;, ', emoji; one written in decomposed (NFD) form as macOS does.
  await ok('files_mkdir', { path: 'Kundenablage' });
  const names = ['Angebot #12 (final).txt', '100% fertig?.txt', "Müller's Notizen; Entwurf.md", 'Reise 🚆 Planung.txt', 'Café Übersicht.txt'.normalize('NFD')];
  for (const n of names) {
    const r = await dav('PUT', filesPath(`Kundenablage/${n}`), { body: `Inhalt von ${n}` });
    assert.equal(r.status, 201, `${n}: ${r.text}`);
  }
  const listed = await ok('files_list', { path: 'Kundenablage' });
  assert.deepEqual(listed.entries.map((e) => e.name).sort(), names.map((n) => n.normalize('NFC')).sort(), 'Nextcloud keeps names NFC');
  for (const n of names) {
    for (const form of [n.normalize('NFC'), n.normalize('NFD')]) {
      const read = await ok('files_read', { path: `Kundenablage/${form}` });
      assert.equal(read.content, `Inhalt von ${n}`, form);
    }
  }
  const found = await ok('files_find', { query: '100%', folder: 'Kundenablage' });
  assert.deepEqual(found.results.map((r) => r.name), ['100% fertig?.txt']);

  // 1,200 files; the one we look for is the oldest, so that LIKE wildcards (an unescaped `_`)
  // would fill the server's answer with 101 newer look-alikes before it.
  const folder = 'Rechnungen 2025';
  await ok('files_mkdir', { path: folder });
  let r = await dav('PUT', filesPath(`${folder}/invoice_0042.txt`), { body: 'die gesuchte', headers: { 'x-oc-mtime': '1577836800' } });
  assert.equal(r.status, 201, r.text);
  const others = Array.from({ length: 1199 }, (_, i) => `invoiceX${String(i).padStart(4, '0')}.txt`);
  for (let i = 0; i < others.length; i += 16) {
    const batch = await Promise.all(others.slice(i, i + 16).map((n) => dav('PUT', filesPath(`${folder}/${n}`), { body: n })));
    for (const b of batch) assert.equal(b.status, 201, b.text);
  }
  const big = await ok('files_list', { path: folder });
  assert.equal(big.count, 1200);
  assert.equal(big.truncated, true);
  assert.equal(big.entries.length, 1000);
  const wildcard = await ok('files_find', { query: 'e_0', folder });
  assert.deepEqual(wildcard.results.map((e) => e.name), ['invoice_0042.txt']);
  assert.equal(wildcard.truncated, false);
  const many = await ok('files_find', { query: 'invoiceX', folder });
  assert.equal(many.count, 100);
  assert.equal(many.truncated, true);
});

test('files: a Latin-1 text file is read as text and can be written back in its encoding', async () => {
  const latin1 = Buffer.from('Grüße aus Köln – Preis: 5 €\r\nZeile 2\r\n', 'latin1');
  // `–` and `€` are not Latin-1; write the Windows-1252 bytes a Windows editor would.
  const bytes = Buffer.concat([Buffer.from('Gr\xfc\xdfe aus K\xf6ln \x96 Preis: 5 \x80\r\nZeile 2\r\n', 'latin1')]);
  assert.notDeepEqual(bytes, latin1);
  await ok('files_mkdir', { path: 'Alt' });
  assert.equal((await dav('PUT', filesPath('Alt/brief.txt'), { body: bytes })).status, 201);
  const read = await ok('files_read', { path: 'Alt/brief.txt' });
  assert.equal(read.content, 'Grüße aus Köln – Preis: 5 €\r\nZeile 2\r\n');
  assert.equal(read.encoding, 'windows-1252');
  const written = await ok('files_write', { path: 'Alt/brief.txt', content: `${read.content}Zeile 3 – neu\r\n`, etag: read.etag, encoding: read.encoding });
  assert.ok(written.etag);
  const stored = (await dav('GET', filesPath('Alt/brief.txt'))).bytes;
  assert.deepEqual(stored, Buffer.concat([bytes, Buffer.from('Zeile 3 \x96 neu\r\n', 'latin1')]), 'stored in windows-1252');
  const refused = await fails('files_write', { path: 'Alt/brief.txt', content: 'Emoji 🚆', encoding: 'windows-1252' });
  assert.match(refused, /cannot hold/);
});
