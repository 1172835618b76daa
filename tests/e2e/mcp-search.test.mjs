// search and fetch end to end through the official MCP TypeScript SDK client, against the
// stand-in's unified search (tests/nextcloud/search.mjs: the files provider over the REAL
// sabre/dav's SEARCH, the notes provider, the calendar, tasks and contacts providers over sabre,
// Talk's conversations provider) and the families' own APIs for fetch: a note and a file found by
// one query and fetched whole, an event, a task and a contact found and fetched as stored in
// sabre, a Deck card and a Talk message by id, paging through a provider's cursor to the
// end, a provider failing while the others answer, and a token without notes:read neither
// finding notes nor fetching one. The SDK validates every structuredContent against the tool's
// outputSchema.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll } from '../lib/harness.mjs';
import { signIn, signedInClient, callOk as ok, callRefused as refused } from '../lib/sdk-client.mjs';

const REDIRECT = 'http://127.0.0.1:17993/oauth/callback';
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'dav');
const DATA_SCOPES = [
  'notes:read', 'notes:write', 'files:read', 'files:write', 'calendar:read', 'calendar:write',
  'contacts:read', 'contacts:write', 'tasks:read', 'tasks:write', 'sharing:read', 'sharing:write',
  'deck:read', 'deck:write', 'talk:read', 'talk:write',
];

afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });
after(async () => { await stopAll(); });

describe('search and fetch through the MCP SDK client', () => {
  let stack;
  let client;
  const NOTE = 'Quarterly review\nRevenue up 12 %, costs flat.\n\n- hire two people\n- move the office in Q3';
  const FILE = '# Quarterly plan\n\nThe roadmap for Q3: ship search, then fetch.\n';
  let noteId;

  /** PUTs a file into alice's files through sabre/dav (as the desktop client would). */
  async function putFile(name, content) {
    const r = await stack.nextcloud.state.davFetch('alice', `files/alice/${name.split('/').map(encodeURIComponent).join('/')}`, { method: 'PUT', body: content });
    assert.ok([201, 204].includes(r.status), `PUT ${name}: ${r.status}`);
  }

  /** Signs in a further SDK client on the same stack with only `scopes` of the data scopes ticked. */
  async function clientWith(scopes, name) {
    return signIn(stack, {
      name: `e2e-ts-search-${name}`, clientName: `MCP TypeScript SDK e2e (search, ${name})`, redirect: REDIRECT,
      untick: DATA_SCOPES.filter((s) => !scopes.includes(s)),
    });
  }

  before(async () => {
    ({ stack, client } = await signedInClient({ name: 'e2e-ts-search', clientName: 'MCP TypeScript SDK e2e (search)', redirect: REDIRECT }));
    noteId = stack.nextcloud.state.seed.note('alice', { title: 'Quarterly review', content: NOTE, category: 'Work' }).id;
    stack.nextcloud.state.seed.note('alice', { title: 'Shopping', content: 'Shopping\nmilk' });
    stack.nextcloud.state.seed.note('bob', { title: 'Quarterly (bob)', content: 'not alice\'s' });
    const mk = await stack.nextcloud.state.davFetch('alice', 'files/alice/Plans', { method: 'MKCOL' });
    assert.equal(mk.status, 201);
    await putFile('Plans/quarterly-plan.md', FILE);
    for (let i = 0; i < 7; i += 1) await putFile(`Plans/minutes-${i}.txt`, `minutes ${i}`);
  });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('both tools are listed, read-only, idempotent, not open-world, with output schemas', async () => {
    const { tools } = await client.listTools();
    for (const name of ['search', 'fetch']) {
      const tool = tools.find((t) => t.name === name);
      assert.ok(tool, `${name} listed`);
      const a = tool.annotations;
      assert.deepEqual([a.readOnlyHint, a.destructiveHint, a.idempotentHint, a.openWorldHint], [true, false, true, false], name);
      assert.equal(tool.outputSchema?.type, 'object', name);
    }
  });

  test('one query finds the note and the file; fetch returns each in full', async () => {
    const found = await ok(client, 'search', { query: 'quarterly' });
    const byId = Object.fromEntries(found.results.map((r) => [r.id, r]));
    const note = byId[`notes:${noteId}`];
    assert.ok(note, JSON.stringify(found.results));
    assert.equal(note.provider, 'notes');
    assert.equal(note.title, 'Quarterly review');
    assert.match(note.url, new RegExp(`/index\\.php/apps/notes/note/${noteId}$`));
    const file = found.results.find((r) => r.provider === 'files');
    assert.equal(file.title, 'quarterly-plan.md');
    assert.match(file.id, /^files:\d+$/);
    assert.equal(file.snippet, 'in Plans');
    // Only alice's data: bob's note is not there.
    assert.ok(!found.results.some((r) => r.title.includes('bob')));
    assert.deepEqual(found.failed, []);
    assert.equal(found.next_cursor, null);

    const fetchedNote = await ok(client, 'fetch', { id: note.id });
    assert.equal(fetchedNote.id, note.id);
    assert.equal(fetchedNote.title, 'Quarterly review');
    assert.equal(fetchedNote.text, NOTE);
    assert.equal(fetchedNote.metadata.category, 'Work');
    const fetchedFile = await ok(client, 'fetch', { id: file.id });
    assert.equal(fetchedFile.text, FILE);
    assert.equal(fetchedFile.title, 'quarterly-plan.md');
    assert.equal(fetchedFile.metadata.path, 'Plans/quarterly-plan.md');
    assert.equal(fetchedFile.metadata.truncated, false);

    // The file id stays valid after a move (ids are Nextcloud's file ids, not paths).
    const moved = await stack.nextcloud.state.davFetch('alice', 'files/alice/Plans/quarterly-plan.md', {
      method: 'MOVE', headers: { destination: `${stack.nextcloud.dav.base}/remote.php/dav/files/alice/quarterly-plan.md` },
    });
    assert.ok([201, 204].includes(moved.status), `MOVE: ${moved.status}`);
    const again = await ok(client, 'fetch', { id: file.id });
    assert.equal(again.text, FILE);
    assert.equal(again.metadata.path, 'quarterly-plan.md');
  });

  test('a calendar event is found and fetched; a Deck card and a Talk message by id through their APIs', async () => {
    const ics = readFileSync(path.join(FIXTURES, 'calendar', 'nextcloud-web-allday.ics'), 'utf8');
    const put = await stack.nextcloud.state.davFetch('alice', 'calendars/alice/personal/b1e3f0c4.ics', {
      method: 'PUT', body: ics, headers: { 'content-type': 'text/calendar; charset=utf-8' },
    });
    assert.equal(put.status, 201);
    const events = await ok(client, 'search', { query: 'sommerfreizeit', providers: ['calendar'] });
    assert.deepEqual(events.results.map((r) => [r.id, r.title, r.provider]), [['calendar:personal/b1e3f0c4.ics', 'Sommerfreizeit Jugendgruppe', 'calendar']]);
    const event = await ok(client, 'fetch', { id: events.results[0].id });
    assert.equal(event.text, ics, 'the event as sabre stored it');
    assert.equal(event.title, 'Sommerfreizeit Jugendgruppe');
    assert.equal(event.metadata.location, 'Jugendherberge Plön');

    // Deck: a board, stack and card made as another Deck client would (app password, REST).
    const password = stack.nextcloud.state.createAppPassword('alice');
    const deck = async (method, p, body) => {
      const res = await fetch(`${stack.nextcloud.base}/index.php/apps/deck/api/v1.0${p}`, {
        method,
        headers: { authorization: `Basic ${Buffer.from(`alice:${password}`).toString('base64')}`, 'OCS-APIRequest': 'true', 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      assert.ok(res.ok, `${method} ${p}: ${res.status}`);
      return res.json();
    };
    const board = await deck('POST', '/boards', { title: 'Roadmap', color: '0082c9' });
    const stackJson = await deck('POST', `/boards/${board.id}/stacks`, { title: 'Doing', order: 1 });
    const card = await deck('POST', `/boards/${board.id}/stacks/${stackJson.id}/cards`, { title: 'Ship search', description: 'Both tools, with **tests**.', type: 'plain', order: 0 });
    const fetchedCard = await ok(client, 'fetch', { id: `deck:card/${card.id}` });
    assert.equal(fetchedCard.title, 'Ship search');
    assert.equal(fetchedCard.text, 'Both tools, with **tests**.');
    assert.deepEqual([fetchedCard.metadata.board, fetchedCard.metadata.stack], ['Roadmap', 'Doing']);
    const fetchedBoard = await ok(client, 'fetch', { id: `deck:board/${board.id}` });
    assert.match(fetchedBoard.text, new RegExp(`## Doing\\n- Ship search \\(deck:card/${card.id}\\)`));
    assert.match(await refused(client, 'fetch', { id: 'deck:card/999999' }), /no Deck card 999999/);

    // Talk: a conversation found by name, and a message fetched with the ones before it.
    const created = await ok(client, 'talk_create_conversation', { type: 'group', name: 'Quarterly sync' });
    const token = created.conversation.token;
    const talk = stack.nextcloud.state.apps.spreed;
    talk.post(token, 'alice', 'First: agenda is in the plan.');
    const message = talk.post(token, 'alice', 'Second: numbers look good.');
    talk.post(token, 'alice', 'Third, after it.');
    const conversations = await ok(client, 'search', { query: 'quarterly sync', providers: ['talk'] });
    assert.deepEqual(conversations.results.map((r) => [r.id, r.title, r.provider]), [[`talk:${token}`, 'Quarterly sync', 'talk']]);
    const fetchedMessage = await ok(client, 'fetch', { id: `talk:${token}/${message.id}` });
    const lines = fetchedMessage.text.split('\n');
    assert.match(lines.at(-1), /Second: numbers look good\.$/);
    assert.match(lines.at(-2), /First: agenda is in the plan\.$/);
    assert.ok(!fetchedMessage.text.includes('Third'), 'nothing after the message');
    assert.equal(fetchedMessage.metadata.conversation, token);
    const whole = await ok(client, 'fetch', { id: `talk:${token}` });
    assert.equal(whole.title, 'Quarterly sync');
    assert.match(whole.text, /Third, after it\.$/);
  });

  test('a task and a contact are found and fetched as their clients stored them', async () => {
    // The Tasks app's list: a calendar for VTODO only (MKCALENDAR as the app sends it).
    const mk = await stack.nextcloud.state.davFetch('alice', 'calendars/alice/aufgaben/', {
      method: 'MKCALENDAR',
      headers: { 'content-type': 'application/xml' },
      body: '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Aufgaben</d:displayname><c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>',
    });
    assert.equal(mk.status, 201);
    const vtodo = readFileSync(path.join(FIXTURES, 'calendar', 'nextcloud-tasks-vtodo.ics'), 'utf8');
    const putTask = await stack.nextcloud.state.davFetch('alice', 'calendars/alice/aufgaben/e7a1c3b5-9d24-4f6e-8b0a-3c5d7e9f1a26.ics', {
      method: 'PUT', body: vtodo, headers: { 'content-type': 'text/calendar; charset=utf-8' },
    });
    assert.equal(putTask.status, 201);
    const tasks = await ok(client, 'search', { query: 'hochbeet', providers: ['tasks', 'calendar'] });
    assert.deepEqual(tasks.results.map((r) => r.id), ['tasks:aufgaben/e7a1c3b5-9d24-4f6e-8b0a-3c5d7e9f1a26.ics']);
    const task = await ok(client, 'fetch', { id: tasks.results[0].id });
    assert.equal(task.text, vtodo);
    assert.equal(task.title, 'Hochbeet bepflanzen');
    assert.match(task.url, /\/index\.php\/apps\/tasks\/#\/calendars\/aufgaben\/tasks\/e7a1c3b5/);

    const vcard = readFileSync(path.join(FIXTURES, 'contacts', 'nextcloud-contacts-3.0.vcf'), 'utf8');
    const putCard = await stack.nextcloud.state.davFetch('alice', 'addressbooks/users/alice/contacts/Vereinsvorstand.vcf', {
      method: 'PUT', body: vcard, headers: { 'content-type': 'text/vcard; charset=utf-8' },
    });
    assert.equal(putCard.status, 201);
    // By UID, although the file is not named after it (found by the UID REPORT).
    const contacts = await ok(client, 'search', { query: 'vereinsvorstand', providers: ['contacts'] });
    assert.deepEqual(contacts.results.map((r) => r.id), ['contacts:contacts/5d8e2f41-9a3b-4c7d-b6e0-1f2a4c8e9d37']);
    const contact = await ok(client, 'fetch', { id: contacts.results[0].id });
    assert.equal(contact.text, vcard);
    assert.equal(contact.title, 'Vereinsvorstand');
    assert.match(await refused(client, 'fetch', { id: 'contacts:contacts/no-such-uid' }), /no contact with uid/);
  });

  test('paging follows the files provider\'s cursor to the end, each file once', async () => {
    const seen = [];
    let cursor;
    let pages = 0;
    do {
      const page = await ok(client, 'search', { query: 'minutes', providers: ['files'], limit: 3, ...(cursor ? { cursor } : {}) });
      assert.ok(page.results.length <= 3);
      seen.push(...page.results.map((r) => r.title));
      cursor = page.next_cursor;
      pages += 1;
      assert.ok(pages <= 4, 'paging ends');
    } while (cursor);
    assert.deepEqual(seen.sort(), Array.from({ length: 7 }, (_, i) => `minutes-${i}.txt`));
    assert.equal(pages, 3);
    // A cursor belongs to its query.
    const first = await ok(client, 'search', { query: 'minutes', providers: ['files'], limit: 3 });
    assert.match(await refused(client, 'search', { query: 'other', cursor: first.next_cursor }), /another query/);
  });

  test('a failing provider is named; the others still answer', async () => {
    stack.nextcloud.state.apps.search.fail('notes');
    try {
      const found = await ok(client, 'search', { query: 'quarterly' });
      assert.ok(found.results.some((r) => r.provider === 'files'));
      assert.ok(!found.results.some((r) => r.provider === 'notes'));
      assert.equal(found.failed.length, 1);
      assert.equal(found.failed[0].provider, 'notes');
    } finally {
      stack.nextcloud.state.apps.search.heal('notes');
    }
  });

  test('without notes:read: no notes found, a note id refused; bad ids refused', async () => {
    const filesOnly = await clientWith(['files:read'], 'files-only');
    try {
      assert.equal(filesOnly.provider.tokens().scope, 'files:read');
      const found = await ok(filesOnly.client, 'search', { query: 'quarterly' });
      assert.ok(found.results.length > 0);
      assert.ok(found.results.every((r) => r.provider === 'files'), JSON.stringify(found.results));
      const denied = Object.fromEntries(found.not_permitted.map((p) => [p.provider, p.needs_scope]));
      assert.deepEqual(denied, {
        notes: 'notes:read', calendar: 'calendar:read', tasks: 'tasks:read', contacts: 'contacts:read',
        'search-deck-card-board': 'deck:read', 'search-deck-comment': 'deck:read',
        'talk-message': 'talk:read', 'talk-conversations': 'talk:read',
      });
      // Talk's current-conversation twin is never searched, so it is not named either.
      assert.ok(!('talk-message-current' in denied));
      const before = stack.nextcloud.state.requests.length;
      const message = await refused(filesOnly.client, 'fetch', { id: `notes:${noteId}` });
      assert.match(message, /insufficient scope/);
      assert.match(message, /notes:read/);
      assert.ok(!stack.nextcloud.state.requests.slice(before).some((r) => /apps\/notes/.test(r.url ?? r.path ?? '')), 'the Notes API was not asked');
      assert.match(await refused(filesOnly.client, 'search', { query: 'quarterly', providers: ['notes'] }), /notes:read/);
    } finally {
      await filesOnly.client.close();
    }
    for (const id of ['notes:../1', 'files:abc', 'calendar:personal/../../x.ics', 'mail:1']) {
      assert.match(await refused(client, 'fetch', { id }), /not an id from search/, id);
    }
  });
});
