// The stand-in's unified search OCS API (search.mjs): providers, the files provider over the real
// sabre/dav's SEARCH, the notes provider over the stand-in's notes, refusals as
// UnifiedSearchController gives them.
//   node --test tests/nextcloud/search.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNextcloud } from '../lib/harness.mjs';

const users = { alice: 'alice-app-pw', bob: 'bob-app-pw' };
let nc;
const auth = (as) => `Basic ${Buffer.from(`${as}:${users[as]}`).toString('base64')}`;

async function ocs(path, { as = 'alice', headers = {} } = {}) {
  const res = await fetch(`${nc.base}${path}`, { headers: { authorization: auth(as), 'OCS-APIRequest': 'true', accept: 'application/json', ...headers } });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, text, json, meta: json?.ocs?.meta, data: json?.ocs?.data, headers: res.headers };
}
const search = (provider, query, opts) => ocs(`/ocs/v2.php/search/providers/${provider}/search?${new URLSearchParams(query)}`, opts);

async function davPut(user, path, content) {
  const r = await nc.state.davFetch(user, `files/${user}/${path.split('/').map(encodeURIComponent).join('/')}`, { method: 'PUT', body: content });
  assert.ok([201, 204].includes(r.status));
}
async function fileId(user, path) {
  const r = await nc.state.davFetch(user, `files/${user}/${path.split('/').map(encodeURIComponent).join('/')}`, {
    method: 'PROPFIND', headers: { depth: '0' }, body: '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop></d:propfind>',
  });
  return /<oc:fileid>(\d+)<\/oc:fileid>/.exec(await r.text())[1];
}

before(async () => {
  nc = await startNextcloud({ basicUsers: users });
  await nc.state.davFetch('alice', 'files/alice/Projects', { method: 'MKCOL' });
  await davPut('alice', 'Budget 2025.txt', 'numbers');
  await davPut('alice', 'Projects/budget-draft.md', '# draft');
  await davPut('alice', 'Projects/photo.png', 'not really a png');
  for (let i = 0; i < 7; i += 1) await davPut('alice', `Projects/report-${i}.txt`, `r${i}`);
  await davPut('bob', 'budget-bob.txt', 'bob');
  nc.state.seed.note('alice', { title: 'Shopping list', content: 'Shopping list\nMilk and BREAD\nEggs', category: 'home', modified: 1000 });
  nc.state.seed.note('alice', { title: 'Meeting', content: 'Budget review with bob', modified: 2000 });
  nc.state.seed.note('bob', { title: 'Bread recipe', content: 'flour' });
});
after(async () => { await nc?.stop(); });

describe('GET /search/providers', () => {
  test('files and notes (and Deck/Talk ids when on), sorted by order, with their filters', async () => {
    const r = await ocs('/ocs/v2.php/search/providers');
    assert.equal(r.status, 200);
    const ids = r.data.map((p) => p.id);
    for (const id of ['files', 'notes', 'search-deck-card-board', 'search-deck-comment', 'talk-conversations', 'talk-message']) assert.ok(ids.includes(id), ids.join());
    const orders = r.data.map((p) => p.order);
    assert.deepEqual(orders, [...orders].sort((a, b) => a - b));
    const files = r.data.find((p) => p.id === 'files');
    assert.equal(files.appId, 'files');
    assert.equal(files.name, 'Files');
    assert.deepEqual(files.triggers, ['files']);
    assert.equal(files.filters.term, 'string');
    assert.equal(files.filters['min-size'], 'int');
    assert.equal(files.inAppSearch, false);
    assert.deepEqual(r.data.find((p) => p.id === 'notes').filters, { term: 'string' });
  });

  test('`from` the Files app puts files first and notes after', async () => {
    const r = await ocs(`/ocs/v2.php/search/providers?from=${encodeURIComponent('/apps/files/')}`);
    const files = r.data.find((p) => p.id === 'files');
    const notes = r.data.find((p) => p.id === 'notes');
    assert.equal(files.order, -5);
    assert.equal(notes.order, 25);
  });

  test('no OCS-APIRequest needed (#[NoCSRFRequired]); credentials are', async () => {
    const r = await ocs('/ocs/v2.php/search/providers', { headers: { 'OCS-APIRequest': '' } });
    assert.equal(r.status, 200);
    const anon = await fetch(`${nc.base}/ocs/v2.php/search/providers?format=json`);
    assert.equal(anon.status, 401);
  });

  test('without Deck and Talk, their providers are absent', async () => {
    const off = await startNextcloud({ basicUsers: users, apps: { deck: false, spreed: false } });
    try {
      const res = await fetch(`${off.base}/ocs/v2.php/search/providers?format=json`, { headers: { authorization: auth('alice') } });
      const ids = (await res.json()).ocs.data.map((p) => p.id);
      assert.deepEqual(ids.sort(), ['calendar', 'contacts', 'files', 'notes', 'tasks']);
    } finally {
      await off.stop();
    }
  });
});

describe('the files provider (sabre/dav SEARCH)', () => {
  test('names containing the term, case-insensitively, only the user\'s, as FilesSearchProvider builds them', async () => {
    const r = await search('files', { term: 'budget', limit: '10' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.data.name, 'Files');
    assert.equal(r.data.isPaginated, true);
    assert.equal(r.data.cursor, 10);
    const titles = r.data.entries.map((e) => e.title).sort();
    assert.deepEqual(titles, ['Budget 2025.txt', 'budget-draft.md']);
    const draft = r.data.entries.find((e) => e.title === 'budget-draft.md');
    const id = await fileId('alice', 'Projects/budget-draft.md');
    assert.equal(draft.subline, 'in Projects');
    assert.equal(draft.resourceUrl, `${nc.base}/index.php/f/${id}`);
    assert.deepEqual(draft.attributes, { fileId: id, path: '/Projects/budget-draft.md' });
    assert.equal(draft.rounded, false);
    const top = r.data.entries.find((e) => e.title === 'Budget 2025.txt');
    assert.equal(top.subline, '');
    assert.equal(top.attributes.path, '/Budget 2025.txt');
    assert.match(top.thumbnailUrl, /\/index\.php\/core\/preview\?x=32&y=32&fileId=\d+$/);
  });

  test('a folder matches too, with icon-folder', async () => {
    const r = await search('files', { term: 'project' });
    const folder = r.data.entries.find((e) => e.title === 'Projects');
    assert.ok(folder);
    assert.equal(folder.icon, 'icon-folder');
    assert.equal(folder.thumbnailUrl, '');
  });

  test('limit (default 5, at most 25) and cursor page through', async () => {
    const first = await search('files', { term: 'report' });
    assert.equal(first.data.entries.length, 5);
    assert.equal(first.data.cursor, 5);
    const second = await search('files', { term: 'report', cursor: String(first.data.cursor) });
    assert.equal(second.data.entries.length, 2);
    assert.equal(second.data.cursor, 10);
    const seen = new Set([...first.data.entries, ...second.data.entries].map((e) => e.title));
    assert.equal(seen.size, 7);
    const big = await search('files', { term: 'r', limit: '500' });
    assert.equal(big.data.cursor, 25);
  });

  test('custom filters: type', async () => {
    const r = await search('files', { term: 'p', type: 'image' });
    assert.deepEqual(r.data.entries.map((e) => e.title), ['photo.png']);
  });

  test('bob finds only his', async () => {
    const r = await search('files', { term: 'budget' }, { as: 'bob' });
    assert.deepEqual(r.data.entries.map((e) => e.title), ['budget-bob.txt']);
  });
});

describe('the notes provider', () => {
  test('every term in title, category or content; newest first; not paginated', async () => {
    let r = await search('notes', { term: 'bread milk' });
    assert.equal(r.status, 200);
    assert.equal(r.data.name, 'Notes');
    assert.equal(r.data.isPaginated, false);
    assert.equal(r.data.cursor, null);
    assert.equal(r.data.entries.length, 1);
    const e = r.data.entries[0];
    const note = nc.state.notes('alice').find((n) => n.title === 'Shopping list');
    assert.equal(e.title, 'Shopping list');
    assert.equal(e.subline, 'Milk and BREAD\u2003Eggs');
    assert.equal(e.resourceUrl, `${nc.base}/index.php/apps/notes/note/${note.id}`);
    assert.equal(e.icon, 'icon-notes-trans');
    assert.deepEqual(e.attributes, []);
    r = await search('notes', { term: 'HOME' });
    assert.equal(r.data.entries.length, 1, 'the category counts');
    r = await search('notes', { term: 'e' });
    assert.deepEqual(r.data.entries.map((x) => x.title), ['Meeting', 'Shopping list']);
  });
});

describe('refusals', () => {
  test('an empty term: 400 "String filter can’t be empty"', async () => {
    const r = await search('files', { term: '' });
    assert.equal(r.status, 400);
    assert.equal(r.meta.statuscode, 400);
    assert.equal(r.data, 'String filter can’t be empty');
  });

  test('no filter at all: 400 "No valid filters provided"', async () => {
    const r = await search('notes', {});
    assert.equal(r.status, 400);
    assert.equal(r.data, 'No valid filters provided');
  });

  test('a filter the provider does not support: 400 UnsupportedFilter', async () => {
    const r = await search('notes', { term: 'x', since: '2024-01-01' });
    assert.equal(r.status, 400);
    assert.equal(r.data, 'Provider notes doesn’t support filter since.');
  });

  test('an unknown provider: 500 Internal Server Error', async () => {
    const r = await search('nonexistent', { term: 'x' });
    assert.equal(r.status, 500);
    assert.equal(r.meta.statuscode, 500);
  });

  test('not GET: 405', async () => {
    const res = await fetch(`${nc.base}/ocs/v2.php/search/providers`, { method: 'POST', headers: { authorization: auth('alice') } });
    assert.equal(res.status, 405);
  });
});

describe('Talk conversations provider and a failing provider', () => {
  test('conversations by name, case-insensitively, as ConversationSearch builds them', async () => {
    const res = await fetch(`${nc.base}/ocs/v2.php/apps/spreed/api/v4/room?format=json`, {
      method: 'POST',
      headers: { authorization: auth('alice'), 'OCS-APIRequest': 'true', 'content-type': 'application/json' },
      body: JSON.stringify({ roomType: 2, roomName: 'Budget planning' }),
    });
    assert.equal(res.status, 201);
    const { token } = (await res.json()).ocs.data;
    const r = await search('talk-conversations', { term: 'BUDGET' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.data.isPaginated, false);
    assert.deepEqual(r.data.entries.map((e) => [e.title, e.resourceUrl, e.rounded, e.attributes]), [
      ['Budget planning', `${nc.base}/index.php/call/${token}`, true, { conversation: token }],
    ]);
    // bob takes no part in it.
    assert.deepEqual((await search('talk-conversations', { term: 'budget' }, { as: 'bob' })).data.entries, []);
  });

  test('a provider made to fail answers 500 until healed; the others still answer', async () => {
    nc.state.apps.search.fail('notes');
    try {
      const r = await search('notes', { term: 'bread' });
      assert.equal(r.status, 500);
      assert.equal(r.meta.statuscode, 500);
      assert.equal((await search('files', { term: 'budget' })).status, 200);
    } finally {
      nc.state.apps.search.heal('notes');
    }
    assert.equal((await search('notes', { term: 'bread' })).status, 200);
  });
});

describe('the calendar, tasks and contacts providers (over sabre/dav)', () => {
  before(async () => {
    const put = async (p, body, type) => {
      const r = await nc.state.davFetch('alice', p, { method: 'PUT', body, headers: { 'content-type': type } });
      assert.equal(r.status, 201, p);
    };
    await put('calendars/alice/personal/ev-1.ics', 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:ev-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260720T090000Z\r\nDTEND:20260720T100000Z\r\nSUMMARY:Budget meeting\r\nATTENDEE;CN="Carla Budgetova":mailto:carla@example.com\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n', 'text/calendar');
    await put('calendars/alice/personal/ev-2.ics', 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:ev-2\r\nDTSTAMP:20260101T000000Z\r\nDTSTART;VALUE=DATE:20260801\r\nSUMMARY:Holiday\r\nATTENDEE;CN=Dora:mailto:dora@budget.example\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n', 'text/calendar');
    await put('addressbooks/users/alice/contacts/c-1.vcf', 'BEGIN:VCARD\r\nVERSION:3.0\r\nUID:c-1\r\nFN:Bea Budget\r\nEMAIL:bea@example.com\r\nEND:VCARD\r\n', 'text/vcard');
  });

  test('events by summary, attendee CN or value, paginated by offset, linked by their DAV path', async () => {
    const r = await search('calendar', { term: 'BUDGET', limit: '1' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.data.name, 'Events');
    assert.equal(r.data.isPaginated, true);
    assert.equal(r.data.cursor, 1);
    const [e] = r.data.entries;
    assert.equal(e.title, 'Budget meeting');
    const encoded = e.resourceUrl.split('/apps/calendar/edit/')[1];
    assert.equal(Buffer.from(encoded, 'base64').toString(), '/remote.php/dav/calendars/alice/personal/ev-1.ics');
    const next = await search('calendar', { term: 'budget', limit: '5', cursor: '1' });
    assert.deepEqual(next.data.entries.map((x) => x.title), ['Holiday']); // dora@budget.example
    assert.deepEqual((await search('calendar', { term: 'carla budgetova' })).data.entries.map((x) => x.title), ['Budget meeting']);
    assert.deepEqual((await search('tasks', { term: 'budget' })).data.entries, []);
  });

  test('contacts by name or email, with the Contacts app\'s direct link', async () => {
    const r = await search('contacts', { term: 'budget' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.data.entries.map((e) => [e.title, e.subline, e.rounded, e.resourceUrl]), [
      ['Bea Budget', 'bea@example.com', true, `${nc.base}/index.php/apps/contacts/direct/contact/c-1~contacts`],
    ]);
  });
});
