// The contacts additions of issue 15 through the official MCP TypeScript SDK client against the
// REAL sabre/dav that Nextcloud 32 runs (tests/sabredav): address books created by extended
// MKCOL, contacts created and edited with postal addresses, birthdays, anniversaries and job
// titles in the vCard version they are stored in (cards written by Apple, DAVx5, Thunderbird and
// Nextcloud Contacts, tests/fixtures/dav), and contacts found by phone number however it is
// written. Every write is checked against the bytes sabre stored: what a tool did not edit must
// be there byte for byte, and sabre must have stored the body as sent (an ETag came back).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll } from '../lib/harness.mjs';
import { signedInClient, callOk, callRefused } from '../lib/sdk-client.mjs';
import { lineDiff } from '../lib/vtext.mjs';

const REDIRECT = 'http://127.0.0.1:17991/oauth/callback';
const USER = 'alice';
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'dav');
const FIXTURE_LIST = JSON.parse(readFileSync(path.join(FIXTURES, 'fixtures.json'), 'utf8'));
const fixture = (file) => FIXTURE_LIST.find((f) => f.file === file);

let stack;
let client;

before(async () => {
  ({ stack, client } = await signedInClient({ name: 'e2e-ts-contacts-plus', clientName: 'MCP TypeScript SDK e2e (contacts plus)', redirect: REDIRECT }));
});
after(async () => { await client?.close(); await stack?.stop(); await stopAll(); });
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

/** A call that must succeed → its JSON answer (= structuredContent; contacts_delete has no output schema); one that must fail → its message. */
const ok = (name, args) => callOk(client, name, args, { structured: name !== 'contacts_delete' && 'required' });
const fails = (name, args) => callRefused(client, name, args);

const raw = (book, name) => stack.nextcloud.dav.raw('addressbooks', USER, book, name);
const davPath = (book, name) => `addressbooks/users/${USER}/${book}/${encodeURIComponent(name)}`;

/** PUTs a fixture as its client would (If-None-Match: *); → the bytes sent. */
async function putFixture(file, book = 'contacts') {
  const body = readFileSync(path.join(FIXTURES, file), 'utf8');
  const name = `${fixture(file).uid}.vcf`;
  const res = await stack.nextcloud.state.davFetch(USER, davPath(book, name), {
    method: 'PUT', body, headers: { 'content-type': 'text/vcard; charset=utf-8', 'if-none-match': '*' },
  });
  assert.equal(res.status, 201, `PUT ${file}: ${res.status} ${await res.text()}`);
  assert.equal(await raw(book, name), body, 'sabre stored what the client sent');
  return body;
}

/** The card as sabre converts it for a client asking for `version` (what that client reads). */
async function asClientReads(book, name, version) {
  const res = await stack.nextcloud.state.davFetch(USER, davPath(book, name), { headers: { accept: `text/vcard; version=${version}` } });
  assert.equal(res.status, 200);
  return (await res.text()).replace(/\r\n[ \t]/g, '');
}

test('tools/list: contacts_create_addressbook with its hints and output schema; the input schemas name the new fields', async () => {
  const { tools } = await client.listTools();
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  const create = byName.contacts_create_addressbook;
  assert.ok(create, 'contacts_create_addressbook is listed');
  const a = create.annotations;
  assert.deepEqual([a.readOnlyHint, a.destructiveHint, a.idempotentHint, a.openWorldHint], [false, false, false, false]);
  assert.equal(create.outputSchema?.type, 'object');
  assert.deepEqual([...create.inputSchema.required], ['name']);
  for (const field of ['addresses', 'birthday', 'anniversary', 'title']) {
    assert.ok(byName.contacts_create.inputSchema.properties[field], `contacts_create.${field}`);
    assert.ok(byName.contacts_update.inputSchema.properties[field], `contacts_update.${field}`);
  }
  assert.ok(byName.contacts_search.inputSchema.properties.phone);
  // Data results come with a schema (the SDK validates every structuredContent against it).
  for (const name of ['contacts_search', 'contacts_get', 'contacts_create', 'contacts_update', 'contacts_create_addressbook']) {
    assert.equal(byName[name].outputSchema?.type, 'object', name);
  }
});

test('contacts_create_addressbook: made by extended MKCOL, listed, a taken id gets a number, refusals', async () => {
  const made = await ok('contacts_create_addressbook', { name: 'Kunden & Partner', description: 'B2B, Stand 2026' });
  assert.deepEqual(made, { id: 'kunden-partner', name: 'Kunden & Partner', description: 'B2B, Stand 2026' });
  const again = await ok('contacts_create_addressbook', { name: 'Kunden & Partner' });
  assert.equal(again.id, 'kunden-partner-2');
  assert.equal(again.name, 'Kunden & Partner');
  const listed = await ok('contacts_list_addressbooks', {});
  assert.deepEqual(listed.addressbooks.map((b) => b.id).sort(), ['contacts', 'kunden-partner', 'kunden-partner-2']);
  // sabre's own view: an address book collection, with its properties.
  const res = await stack.nextcloud.state.davFetch(USER, `addressbooks/users/${USER}/kunden-partner/`, {
    method: 'PROPFIND', headers: { depth: '0', 'content-type': 'application/xml' },
    body: '<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:carddav"><d:prop><d:resourcetype/><c:addressbook-description/></d:prop></d:propfind>',
  });
  const xml = await res.text();
  assert.equal(res.status, 207, xml);
  assert.match(xml, /addressbook\s*\/>/);
  assert.match(xml, /B2B, Stand 2026/);

  assert.match(await fails('contacts_create_addressbook', { name: 'X', id: 'kunden-partner' }), /^already exists: .*kunden-partner/);
  assert.match(await fails('contacts_create_addressbook', { name: 'X', id: 'a/b' }), /letters, digits/);
  assert.match(await fails('contacts_create_addressbook', { name: '  ' }), /name must not be empty/);
  // A contact goes into the new book.
  const c = await ok('contacts_create', { addressbook_id: 'kunden-partner', full_name: 'Ines Duarte' });
  assert.ok(await raw('kunden-partner', c.href));
});

test('contacts_create: addresses, birthday without a year, anniversary and title as a vCard 3.0 card sabre stores as sent', async () => {
  const created = await ok('contacts_create', {
    addressbook_id: 'contacts', given_name: 'Ana', family_name: 'Lima', title: 'Kapitänin', org: 'Reederei Süd',
    birthday: '--02-29', anniversary: '2018-06-09', phones: ['+351 912 345 678'],
    addresses: [
      { type: 'home', street: 'Rua Augusta 10\n2. Stock', city: 'Lisboa', postal_code: '1100-053', country: 'Portugal' },
      { type: 'work', street: 'Am Kai 3', city: 'Hamburg', postal_code: '20457' },
    ],
  });
  assert.ok(created.etag, 'sabre stored the body as sent (it returns no ETag when it repairs a card)');
  const stored = await raw('contacts', created.href);
  for (const line of [
    'VERSION:3.0\r\n', 'TITLE:Kapitänin\r\n', 'BDAY;X-APPLE-OMIT-YEAR=1604:1604-02-29\r\n', 'X-ANNIVERSARY:2018-06-09\r\n',
    'item1.X-ABDATE:2018-06-09\r\n', 'item1.X-ABLabel:_$!<Anniversary>!$_\r\n',
    'ADR;TYPE=HOME:;;Rua Augusta 10\\n2. Stock;Lisboa;;1100-053;Portugal\r\n', 'ADR;TYPE=WORK:;;Am Kai 3;Hamburg;;20457;\r\n',
  ]) assert.ok(stored.includes(line), `${JSON.stringify(line)} in\n${stored}`);
  const got = await ok('contacts_get', { addressbook_id: 'contacts', uid: created.uid });
  assert.equal(got.etag, created.etag);
  assert.equal(got.title, 'Kapitänin');
  assert.equal(got.birthday, '--02-29');
  assert.equal(got.anniversary, '2018-06-09');
  assert.deepEqual(got.addresses.map((a) => [a.types, a.street, a.city]), [[['home'], 'Rua Augusta 10\n2. Stock', 'Lisboa'], [['work'], 'Am Kai 3', 'Hamburg']]);
  // A vCard 4 client (DAVx5, Nextcloud Contacts) gets one ANNIVERSARY and a year-less BDAY from sabre.
  const v4 = await asClientReads('contacts', created.href, '4.0');
  assert.match(v4, /\r\nANNIVERSARY[;:][^\r\n]*2018-?06-?09\r\n/);
  assert.equal((v4.match(/ANNIVERSARY/g) ?? []).length, 1, v4);
  assert.match(v4, /\r\nBDAY[;:][^\r\n]*--02-?29\r\n/);

  for (const [args, message] of [
    [{ birthday: '29.02.2000' }, /birthday: .*YYYY-MM-DD/],
    [{ anniversary: '2021-02-29' }, /anniversary: .*not a date/],
    [{ addresses: [{ type: 'holiday', city: 'X' }] }, /"home", "work" or "other"/],
    [{ addresses: [{ type: 'home' }] }, /needs at least one of street/],
  ]) {
    assert.match(await fails('contacts_create', { addressbook_id: 'contacts', full_name: 'Bad', ...args }), message);
  }
  await ok('contacts_delete', { addressbook_id: 'contacts', uid: created.uid });
});

test('contacts_update on an Apple card: the anniversary changes in its X-ABDATE, a kept address keeps its group, the rest byte for byte', async () => {
  const file = 'contacts/apple-anniversary-3.0.vcf';
  const { uid } = fixture(file);
  const name = `${uid}.vcf`;
  const original = await putFixture(file);
  const got = await ok('contacts_get', { addressbook_id: 'contacts', uid });
  assert.equal(got.anniversary, '2012-08-18');
  assert.equal(got.birthday, '1984-11-02');
  assert.equal(got.title, 'Disponent');
  const updated = await ok('contacts_update', {
    addressbook_id: 'contacts', uid, etag: got.etag, anniversary: '2013-08-17', birthday: '--11-02', title: 'Disponent',
    addresses: [...got.addresses, { type: 'work', street: 'Am Sandtorkai 1', city: 'Hamburg', postal_code: '20457', country: 'Deutschland' }],
  });
  assert.ok(updated.etag);
  assert.equal(updated.anniversary, '2013-08-17');
  const after = await raw('contacts', name);
  const { added, removed } = lineDiff(original, after);
  assert.deepEqual(added, [
    'ADR;TYPE=WORK:;;Am Sandtorkai 1;Hamburg;;20457;Deutschland\r\n',
    'item3.X-ABDATE;TYPE=pref:2013-08-17\r\n',
    'BDAY;X-APPLE-OMIT-YEAR=1604:1604-11-02\r\n',
    'REV:20',
  ].map((l, i, all) => (i === all.length - 1 ? added.find((a) => a.startsWith('REV:')) : l)));
  assert.deepEqual(removed, ['item3.X-ABDATE;type=pref:2012-08-18\r\n', 'BDAY:1984-11-02\r\n', 'REV:2026-05-11T16:22:09Z\r\n']);
  // What Apple's own reading of a 4.0 copy would be: sabre makes one ANNIVERSARY of the pair.
  // (sabre keeps the vCard group: ITEM3.ANNIVERSARY)
  assert.match(await asClientReads('contacts', name, '4.0'), /\r\n(?:ITEM3\.)?ANNIVERSARY[;:][^\r\n]*2013-?08-?17\r\n/);

  // Removing the anniversary and every address removes their groups and nothing else.
  const cleared = await ok('contacts_update', { addressbook_id: 'contacts', uid, etag: updated.etag, anniversary: '', addresses: [] });
  assert.equal(cleared.anniversary, undefined);
  assert.equal(cleared.addresses, undefined);
  const final = await raw('contacts', name);
  const diff = lineDiff(after, final);
  // (REV changes too, unless both edits fell into the same second)
  const names = (lines) => lines.map((l) => l.split(/[;:]/)[0]).filter((n) => n !== 'REV').sort();
  assert.deepEqual(names(diff.added), []);
  assert.deepEqual(names(diff.removed), ['ADR', 'item2.ADR', 'item2.X-ABADR', 'item3.X-ABDATE', 'item3.X-ABLabel']);
  assert.ok(final.includes('item4.X-ABDATE:2019-03-01\r\nitem4.X-ABLabel:Firmeneintritt\r\n'), 'the other date stays');
  await ok('contacts_delete', { addressbook_id: 'contacts', uid });
});

test('contacts_update on vCard 4.0 cards (DAVx5, Nextcloud Contacts, Thunderbird): vCard 4 dates, only edited lines change', async () => {
  const cases = [
    {
      file: 'contacts/davx5-4.0.vcf',
      args: { anniversary: '--06-09', birthday: '1990-04-15', title: 'Bergführer' },
      added: ['ANNIVERSARY:--0609\r\n', 'BDAY:19900415\r\n', 'TITLE:Bergführer\r\n'],
      removed: ['ANNIVERSARY:20180609\r\n', 'BDAY:--0415\r\n'],
    },
    {
      file: 'contacts/nextcloud-contacts-4.0.vcf',
      args: { anniversary: '2001-09-15', addresses: [{ street: 'Alsterufer 2', city: 'Hamburg', postal_code: '20354' }] },
      added: ['ADR:;;Alsterufer 2;Hamburg;;20354;\r\n', 'ANNIVERSARY:20010915\r\n'],
      removed: ['ADR;TYPE=HOME:;;;;;;\r\n'],
    },
    {
      file: 'contacts/thunderbird-4.0.vcf',
      args: { birthday: '--09-22', title: '' },
      added: ['BDAY;VALUE=DATE:--0922\r\n'],
      removed: ['BDAY;VALUE=DATE:19850922\r\n', 'TITLE:Projektleiterin\r\n'],
    },
  ];
  for (const c of cases) {
    const { uid } = fixture(c.file);
    const original = await putFixture(c.file);
    const got = await ok('contacts_get', { addressbook_id: 'contacts', uid });
    const updated = await ok('contacts_update', { addressbook_id: 'contacts', uid, etag: got.etag, ...c.args });
    assert.ok(updated.etag, `${c.file}: sabre stored the body as sent`);
    const after = await raw('contacts', `${uid}.vcf`);
    const { added, removed } = lineDiff(original, after);
    const noRev = (lines) => lines.filter((l) => !/^REV[;:]/.test(l)).sort();
    assert.deepEqual(noRev(added), [...c.added].sort(), c.file);
    assert.deepEqual(noRev(removed), [...c.removed].sort(), c.file);
    assert.match(after, /^BEGIN:VCARD\r\nVERSION:4\.0\r\n/, c.file);
    await ok('contacts_delete', { addressbook_id: 'contacts', uid });
  }
});

test('contacts_search by phone: formatting, (0), +49/0049 against a trunk 0, part of a number, with a name query too', async () => {
  // Cards as their clients stored them, in two address books.
  await ok('contacts_create_addressbook', { name: 'Verein', id: 'verein' });
  await putFixture('contacts/apple-anniversary-3.0.vcf', 'verein'); // +49 (0)170 1234567, 040 / 3344-120
  await putFixture('contacts/thunderbird-4.0.vcf');                  // +48 22 123 45 67, +48 601 234 567
  await putFixture('contacts/nextcloud-contacts-4.0.vcf');           // +49 40 5550123
  await putFixture('contacts/davx5-4.0.vcf');                        // +34 612 345 678
  const names = async (args) => (await ok('contacts_search', args)).contacts.map((c) => c.full_name).sort();
  assert.deepEqual(await names({ phone: '0170 1234567' }), ['Chidi Okafor']);
  assert.deepEqual(await names({ phone: '+491701234567' }), ['Chidi Okafor']);
  assert.deepEqual(await names({ phone: '+49 40 3344120' }), ['Chidi Okafor']);
  assert.deepEqual(await names({ phone: '0049 (40) 555-0123' }), ['Jürgen Albers']);
  assert.deepEqual(await names({ phone: '040 5550123' }), ['Jürgen Albers']);
  assert.deepEqual(await names({ phone: '612-345-678' }), ['Mateo Fernández']);
  // Part of a number: every number holding those digits in that order (+34 6|1234567|8 too).
  assert.deepEqual(await names({ phone: '1234567' }), ['Agnieszka Kowalski', 'Chidi Okafor', 'Mateo Fernández']);
  assert.deepEqual(await names({ phone: '1234567', query: 'OKAF' }), ['Chidi Okafor']);
  assert.deepEqual(await names({ phone: '1234567', addressbook_id: 'contacts' }), ['Agnieszka Kowalski', 'Mateo Fernández']);
  assert.deepEqual(await names({ phone: '22 123 45' }), ['Agnieszka Kowalski']);
  // The last two digits asked for are split by a space in the stored number ("22 1"): sabre must
  // still send the card (the REPORT asks for "21", "2 1", "2-1", …).
  assert.deepEqual(await names({ phone: '+48 22 1' }), ['Agnieszka Kowalski']);
  assert.deepEqual(await names({ phone: '+49 170 7654321' }), []);
  const answer = await ok('contacts_search', { phone: '601 234 567' });
  assert.equal(answer.phone, '601 234 567');
  assert.equal(answer.truncated, false);
  assert.deepEqual(answer.contacts[0].phones, ['+48 22 123 45 67', '+48 601 234 567']);
  // The phone REPORT asks sabre for only the properties a summary shows: the same summary.
  for (const [phone, query] of [['040 5550123', 'Albers'], ['+34 612 345 678', 'Mateo'], ['0170 1234567', 'Okafor']]) {
    const byPhone = (await ok('contacts_search', { phone })).contacts;
    const byName = (await ok('contacts_search', { query })).contacts;
    assert.deepEqual(byPhone, byName, phone);
  }
  assert.match(await fails('contacts_search', { phone: '12' }), /at least 3 digits/);
  assert.match(await fails('contacts_search', { phone: 'call me' }), /at least 3 digits/);
});

test('contacts_search pages by name across address books with a cursor that survives changes', async () => {
  await ok('contacts_create_addressbook', { name: 'Seiten', id: 'seiten' });
  const made = [];
  for (const [book, name] of [['seiten', 'Page Delta'], ['seiten', 'Page Alpha'], ['contacts', 'Page Echo'], ['seiten', 'Page Charlie'], ['contacts', 'page bravo']]) {
    made.push(await ok('contacts_create', { addressbook_id: book, full_name: name, emails: [`${name.split(' ')[1].toLowerCase()}@pages.example`] }));
  }
  const first = await ok('contacts_search', { query: 'pages.example', limit: 2 });
  assert.deepEqual(first.contacts.map((c) => c.full_name), ['Page Alpha', 'page bravo']);
  assert.equal(first.count, 2);
  assert.equal(first.truncated, false);
  assert.equal(typeof first.next_cursor, 'string');
  // A contact added before the cursor does not shift the next page.
  await ok('contacts_create', { addressbook_id: 'seiten', full_name: 'Page Aaron', emails: ['aaron@pages.example'] });
  const second = await ok('contacts_search', { query: 'pages.example', limit: 2, cursor: first.next_cursor });
  assert.deepEqual(second.contacts.map((c) => [c.full_name, c.addressbook_id]), [['Page Charlie', 'seiten'], ['Page Delta', 'seiten']]);
  const third = await ok('contacts_search', { query: 'pages.example', limit: 2, cursor: second.next_cursor });
  assert.deepEqual(third.contacts.map((c) => c.full_name), ['Page Echo']);
  assert.equal(third.next_cursor, null);
  assert.equal((await ok('contacts_search', { query: 'pages.example' })).count, 6, 'default limit 50 holds them all');
  for (const limit of [0, 201]) assert.match(await fails('contacts_search', { query: 'x', limit }), /limit is 1 to 200/);
  assert.match(await fails('contacts_search', { query: 'x', cursor: 'bogus' }), /cursor is not one contacts_search gave/);
});
