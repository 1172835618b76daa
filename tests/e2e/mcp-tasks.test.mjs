// The tasks tools (CalDAV VTODO) end to end through the official MCP TypeScript SDK client,
// against the REAL sabre/dav Nextcloud 32 runs (tests/sabredav) behind the Nextcloud stand-in.
// Tasks are seeded the way real clients write them (tests/fixtures/dav: the Nextcloud Tasks app,
// Thunderbird, Apple Reminders, DAVx5 with OpenTasks) by a second client with an app password,
// and every edit is checked against the bytes sabre stored: what a tool did not change stays
// byte for byte. Also: filters and paging, ETag conflicts, the first-login "Personal" calendar
// (events only) refusing tasks, and scope gating (tasks:read without tasks:write, and no tasks
// scope at all). The SDK validates every structuredContent against the tool's outputSchema.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll } from '../lib/harness.mjs';
import { signIn, signedInClient, textOf, callOk as ok, callRefused as refused } from '../lib/sdk-client.mjs';
import { logicalLines, lineDiff } from '../lib/vtext.mjs';

const REDIRECT = 'http://127.0.0.1:17989/oauth/callback';
const USER = 'alice';
const APP_PASSWORD = 'tasks-e2e-app-password';
const LIST = 'aufgaben';
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'dav');
const TASK_TOOLS = ['tasks_create', 'tasks_delete', 'tasks_list', 'tasks_update'];
const OTHER_SCOPES = [
  'notes:read', 'notes:write', 'files:read', 'files:write', 'calendar:read', 'calendar:write',
  'contacts:read', 'contacts:write', 'sharing:read', 'sharing:write', 'deck:read', 'deck:write',
  'talk:read', 'talk:write',
];

const md5 = (s) => createHash('md5').update(s).digest('hex');
const unfold = (data) => data.replace(/\r?\n[ \t]/g, '');

const propNames = (lines) => lines.map((l) => l.split(/[;:]/)[0]).sort();

afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });
after(async () => { await stopAll(); });

describe('tasks through the MCP SDK client, against sabre/dav', () => {
  let stack;
  let client;

  const basic = () => `Basic ${Buffer.from(`${USER}:${APP_PASSWORD}`).toString('base64')}`;
  const objectPath = (calendar, name) => `/remote.php/dav/calendars/${USER}/${calendar}/${encodeURIComponent(name)}`;
  /** A DAV request by the second client (an app password, as DAVx5 or Thunderbird use). */
  async function dav(method, urlPath, { body, headers = {} } = {}) {
    const res = await fetch(`${stack.nextcloud.base}${urlPath}`, { method, body, headers: { authorization: basic(), ...headers } });
    return { status: res.status, text: await res.text() };
  }
  /** Stores a fixture as its client would; → its text. */
  async function putFixture(file, calendar = LIST) {
    const fixture = FIXTURE_LIST.find((f) => f.file === file);
    const body = readFileSync(path.join(FIXTURES, file));
    const r = await dav('PUT', objectPath(calendar, `${fixture.uid}.ics`), {
      body, headers: { 'content-type': 'text/calendar; charset=utf-8', 'if-none-match': '*' },
    });
    assert.equal(r.status, 201, `PUT ${file}: ${r.status} ${r.text}`);
    return { fixture, original: body.toString('utf8') };
  }
  const stored = (name, calendar = LIST) => stack.nextcloud.dav.raw('calendars', USER, calendar, name);
  const FIXTURE_LIST = JSON.parse(readFileSync(path.join(FIXTURES, 'fixtures.json'), 'utf8'));

  /** Signs in a further SDK client on the same stack with only `scopes` of the data scopes ticked. */
  async function clientWith(scopes, name) {
    return signIn(stack, {
      name: `e2e-ts-tasks-${name}`, clientName: `MCP TypeScript SDK e2e (tasks, ${name})`, redirect: REDIRECT,
      untick: [...OTHER_SCOPES, 'tasks:read', 'tasks:write'].filter((s) => !scopes.includes(s)),
    });
  }

  before(async () => {
    ({ stack, client } = await signedInClient({
      name: 'e2e-ts-tasks', clientName: 'MCP TypeScript SDK e2e (tasks)', redirect: REDIRECT,
      nextcloudOptions: { basicUsers: { [USER]: APP_PASSWORD } },
    }));
    // The Tasks app's list: a calendar for VTODO only (MKCALENDAR as the app sends it).
    const r = await dav('MKCALENDAR', `/remote.php/dav/calendars/${USER}/${LIST}/`, {
      headers: { 'content-type': 'application/xml' },
      body: '<c:mkcalendar xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:set><d:prop><d:displayname>Aufgaben</d:displayname><c:supported-calendar-component-set><c:comp name="VTODO"/></c:supported-calendar-component-set></d:prop></d:set></c:mkcalendar>',
    });
    assert.equal(r.status, 201, r.text);
  });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('the tools are listed with their hints and output schemas', async () => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.filter((t) => t.name.startsWith('tasks_')).map((t) => [t.name, t]));
    assert.deepEqual(Object.keys(byName).sort(), TASK_TOOLS);
    const hints = (n) => { const a = byName[n].annotations; return [a.readOnlyHint, a.destructiveHint, a.idempotentHint, a.openWorldHint]; };
    assert.deepEqual(hints('tasks_list'), [true, false, true, false]);
    assert.deepEqual(hints('tasks_create'), [false, false, false, false]);
    assert.deepEqual(hints('tasks_update'), [false, true, true, false]);
    assert.deepEqual(hints('tasks_delete'), [false, true, true, false]);
    for (const t of Object.values(byName)) assert.equal(t.outputSchema?.type, 'object', t.name);
    assert.match(byName.tasks_update.description, /To complete a task set status COMPLETED/);
    assert.deepEqual([...byName.tasks_update.inputSchema.required].sort(), ['calendar', 'etag', 'uid']);
  });

  test('create: the first calendar that holds tasks, all-day and timed due dates, a subtask with a reminder', async () => {
    // "Personal" (Nextcloud 32's first-login calendar) holds events only, so the list is picked.
    const groceries = await ok(client, 'tasks_create', { summary: 'Einkaufen: Milch, Brot', due: '2031-05-02', categories: ['Haushalt'], priority: 5 });
    assert.equal(groceries.calendar, LIST);
    assert.deepEqual([groceries.status, groceries.percent, groceries.due, groceries.priority], ['NEEDS-ACTION', 0, '2031-05-02', 5]);
    const data = await stored(`${groceries.uid}.ics`);
    assert.equal(groceries.etag, md5(data), 'the answer carries the stored ETag');
    assert.match(data, /\r\nDUE;VALUE=DATE:20310502\r\n/);
    assert.match(data, /\r\nSUMMARY:Einkaufen: Milch\\, Brot\r\n/);

    const sub = await ok(client, 'tasks_create', {
      calendar: LIST, summary: 'Brot beim Bäcker', parent_uid: groceries.uid,
      due: '2031-05-02T17:00:00+02:00', reminder_minutes_before: 30,
    });
    assert.equal(sub.parent_uid, groceries.uid);
    assert.equal(sub.due, '2031-05-02T15:00:00Z');
    const subData = unfold(await stored(`${sub.uid}.ics`));
    assert.match(subData, new RegExp(`\\r\\nRELATED-TO:${groceries.uid}\\r\\n`));
    assert.match(subData, /BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER;RELATED=END:-PT30M\r\n/);

    const subtasks = await ok(client, 'tasks_list', { parent_uid: groceries.uid });
    assert.deepEqual(subtasks.items.map((t) => t.uid), [sub.uid]);
    assert.match(await refused(client, 'tasks_create', { summary: 'x', parent_uid: 'no-such-task' }), /parent_uid: there is no task "no-such-task"/);
    const wrong = await refused(client, 'tasks_create', { calendar: 'personal', summary: 'x' });
    assert.match(wrong, /there is no calendar "personal" that holds tasks; the calendars holding tasks are "aufgaben" \(Aufgaben\)/);
    assert.match(await refused(client, 'tasks_create', { summary: 'x', due: '2031-05-02', start: '2031-05-01T10:00:00Z' }), /must both be dates or both date-times/);
    assert.deepEqual((await stack.nextcloud.dav.objects('calendars', USER, 'personal')), []);
  });

  test('tasks from every client: listed, completed, rescheduled in their zone, reopened; unedited lines stay byte for byte', async () => {
    const seeded = {};
    for (const file of ['calendar/nextcloud-tasks-vtodo.ics', 'calendar/thunderbird-task-berlin.ics', 'calendar/apple-reminders-completed.ics', 'calendar/davx5-opentasks-recurring.ics']) {
      const { fixture, original } = await putFixture(file);
      seeded[file.split('/')[1].split('-')[0]] = { uid: fixture.uid, name: `${fixture.uid}.ics`, original };
    }
    const all = await ok(client, 'tasks_list', { status: 'all', limit: 200 });
    const byUid = Object.fromEntries(all.items.map((t) => [t.uid, t]));
    const tb = byUid[seeded.thunderbird.uid];
    assert.deepEqual([tb.due, tb.timezone, tb.status, tb.percent, tb.priority], ['2026-04-15T18:00:00', 'Europe/Berlin', 'IN-PROCESS', 25, 1]);
    assert.equal(tb.etag, md5(seeded.thunderbird.original));
    assert.equal(byUid[seeded.apple.uid].status, 'COMPLETED');
    assert.equal(byUid[seeded.davx5.uid].recurring, true);
    assert.equal(byUid[seeded.nextcloud.uid].parent_uid, '2b4d6f80-1a3c-4e5f-9071-b2c4d6e8f0a1');
    assert.deepEqual(all.calendars.map((c) => c.id), [LIST]);

    // Complete Thunderbird's task: STATUS, PERCENT-COMPLETE, COMPLETED and the stamps change.
    const done = await ok(client, 'tasks_update', { calendar: LIST, uid: tb.uid, etag: tb.etag, status: 'COMPLETED' });
    assert.deepEqual([done.status, done.percent], ['COMPLETED', 100]);
    assert.match(done.completed, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    let after = await stored(seeded.thunderbird.name);
    assert.equal(done.etag, md5(after));
    let { added, removed } = lineDiff(seeded.thunderbird.original, after);
    assert.deepEqual(propNames(added), ['COMPLETED', 'DTSTAMP', 'LAST-MODIFIED', 'PERCENT-COMPLETE', 'STATUS']);
    assert.deepEqual(propNames(removed), ['DTSTAMP', 'LAST-MODIFIED', 'PERCENT-COMPLETE', 'STATUS']);
    assert.ok(after.includes('TRIGGER;RELATED=END;VALUE=DURATION:-PT1H\r\n'), 'the reminder stays');

    // Reschedule it: the model says 18:00+02:00, the task stays at Berlin local time.
    const moved = await ok(client, 'tasks_update', { calendar: LIST, uid: tb.uid, etag: done.etag, due: '2026-04-20T18:00:00+02:00' });
    assert.deepEqual([moved.due, moved.timezone], ['2026-04-20T18:00:00', 'Europe/Berlin']);
    const before = after;
    after = await stored(seeded.thunderbird.name);
    ({ added, removed } = lineDiff(before, after));
    assert.ok(added.includes('DUE;TZID=Europe/Berlin:20260420T180000\r\n'), JSON.stringify(added));
    // (The stamps may be the same second as the completion's, so they need not differ.)
    assert.ok(propNames(removed).includes('DUE'));
    for (const n of propNames([...added, ...removed])) assert.ok(['DTSTAMP', 'DUE', 'LAST-MODIFIED'].includes(n), n);
    // The description folded by ical.js (76-octet continuations) is still Thunderbird's.
    const description = logicalLines(seeded.thunderbird.original).find((l) => l.startsWith('DESCRIPTION:Belege'));
    assert.ok(after.includes(description));

    // Reopen Apple's completed reminder: COMPLETED goes, its own lines stay.
    const apple = byUid[seeded.apple.uid];
    const reopened = await ok(client, 'tasks_update', { calendar: LIST, uid: apple.uid, etag: apple.etag, status: 'NEEDS-ACTION' });
    assert.deepEqual([reopened.status, reopened.percent, reopened.completed], ['NEEDS-ACTION', 0, null]);
    ({ added, removed } = lineDiff(seeded.apple.original, await stored(seeded.apple.name)));
    assert.deepEqual(propNames(added), ['DTSTAMP', 'LAST-MODIFIED', 'PERCENT-COMPLETE', 'STATUS']);
    assert.deepEqual(propNames(removed), ['COMPLETED', 'DTSTAMP', 'LAST-MODIFIED', 'PERCENT-COMPLETE', 'STATUS']);

    // The repeating OpenTasks task: a new title is fine, completing it is refused, nothing written.
    const ot = byUid[seeded.davx5.uid];
    const renamed = await ok(client, 'tasks_update', { calendar: LIST, uid: ot.uid, etag: ot.etag, summary: 'Blumen gießen 🌱' });
    const otData = await stored(seeded.davx5.name);
    ({ added, removed } = lineDiff(seeded.davx5.original, otData));
    assert.deepEqual(propNames(added), ['DTSTAMP', 'LAST-MODIFIED', 'SUMMARY']);
    assert.ok(otData.endsWith(seeded.davx5.original.split('END:VTODO\r\n')[1]), 'the VTIMEZONE after the task is untouched');
    const repeat = await refused(client, 'tasks_update', { calendar: LIST, uid: ot.uid, etag: renamed.etag, status: 'COMPLETED' });
    assert.match(repeat, /repeats: completing or rescheduling it must say which occurrence/);
    assert.equal(await stored(seeded.davx5.name), otData);

    // The Nextcloud subtask: new categories, the parent link kept.
    const nc = byUid[seeded.nextcloud.uid];
    await ok(client, 'tasks_update', { calendar: LIST, uid: nc.uid, etag: nc.etag, categories: ['Garten', 'Frühling'] });
    ({ added, removed } = lineDiff(seeded.nextcloud.original, await stored(seeded.nextcloud.name)));
    assert.deepEqual(propNames(added), ['CATEGORIES', 'DTSTAMP', 'LAST-MODIFIED']);
    assert.ok(added.includes('CATEGORIES:Garten,Frühling\r\n'));
  });

  test('list: open by default, done, due ranges (end exclusive), text query, and pages that cover everything once', async () => {
    const mk = async (summary, extra = {}) => ok(client, 'tasks_create', { calendar: LIST, summary, ...extra });
    const a = await mk('Filter A', { due: '2032-01-10' });
    const b = await mk('Filter B', { due: '2032-01-20T09:00:00Z' });
    const c = await mk('Filter C', { due: '2032-02-01' });
    const d = await mk('Filter D ohne Termin', { categories: ['Projekt Filter'] });
    await ok(client, 'tasks_update', { calendar: LIST, uid: c.uid, etag: c.etag, status: 'COMPLETED' });
    // Completed by STATUS alone, without a COMPLETED time stamp: the server's open filter (no
    // COMPLETED property) lets it through, the tool still counts it as done.
    const e = 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9';
    const onlyStatus = `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Tasks 1.0//EN\r\nBEGIN:VTODO\r\nUID:${e}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Filter E erledigt\r\nSTATUS:COMPLETED\r\nEND:VTODO\r\nEND:VCALENDAR\r\n`;
    assert.equal((await dav('PUT', objectPath(LIST, `${e}.ics`), { body: onlyStatus, headers: { 'content-type': 'text/calendar; charset=utf-8' } })).status, 201);

    const uids = (answer) => answer.items.map((t) => t.uid);
    const open = await ok(client, 'tasks_list', { query: 'filter' });
    assert.deepEqual(uids(open), [a.uid, b.uid, d.uid], 'soonest due first, undated last, the completed one left out');
    assert.deepEqual(uids(await ok(client, 'tasks_list', { query: 'FILTER', status: 'done' })), [c.uid, e]);
    assert.deepEqual(uids(await ok(client, 'tasks_list', { query: 'filter', status: 'all' })), [a.uid, b.uid, c.uid, d.uid, e]);
    // due_before is exclusive: a task due on 2032-01-20 at 09:00Z is not before 09:00Z.
    assert.deepEqual(uids(await ok(client, 'tasks_list', { due_after: '2032-01-10', due_before: '2032-01-20T09:00:00Z' })), [a.uid]);
    assert.deepEqual(uids(await ok(client, 'tasks_list', { due_after: '2032-01-11', status: 'all' })), [b.uid, c.uid]);
    assert.deepEqual(uids(await ok(client, 'tasks_list', { query: 'projekt filter' })), [d.uid], 'categories are searched');

    // Paging through every task of every list: each once, in order, then no cursor.
    const everything = (await ok(client, 'tasks_list', { status: 'all', limit: 200 })).items.map((t) => t.uid);
    assert.ok(everything.length >= 10, `${everything.length} tasks`);
    const paged = [];
    let cursor;
    for (let i = 0; i < 20; i += 1) {
      const page = await ok(client, 'tasks_list', { status: 'all', limit: 3, ...(cursor ? { cursor } : {}) });
      assert.ok(page.items.length <= 3);
      paged.push(...page.items.map((t) => t.uid));
      cursor = page.next_cursor;
      if (!cursor) break;
    }
    assert.deepEqual(paged, everything);
    assert.match(await refused(client, 'tasks_list', { cursor: 'bogus' }), /cursor is not one tasks_list returned/);
    assert.match(await refused(client, 'tasks_list', { calendar: 'personal' }), /there is no calendar "personal" that holds tasks/);
  });

  test('conflicts: a stale etag changes nothing; delete needs the current one, then the task is gone', async () => {
    const t = await ok(client, 'tasks_create', { calendar: LIST, summary: 'Konflikt' });
    const name = `${t.uid}.ics`;
    const v2 = await ok(client, 'tasks_update', { calendar: LIST, uid: t.uid, etag: t.etag, percent: 50 });
    assert.deepEqual([v2.status, v2.percent], ['IN-PROCESS', 50]);
    const current = await stored(name);
    const stale = await refused(client, 'tasks_update', { calendar: LIST, uid: t.uid, etag: t.etag, summary: 'überschrieben' });
    assert.match(stale, /^conflict: the task was changed since it was read/);
    assert.ok(stale.includes(t.etag));
    assert.equal(await stored(name), current, 'nothing was written');
    assert.match(await refused(client, 'tasks_delete', { calendar: LIST, uid: t.uid, etag: t.etag }), /^conflict: the task was changed since it was read/);
    assert.equal(await stored(name), current);
    assert.deepEqual(await ok(client, 'tasks_delete', { calendar: LIST, uid: t.uid, etag: v2.etag }), { deleted: t.uid, calendar: LIST });
    assert.equal(await stored(name), null);
    assert.match(await refused(client, 'tasks_delete', { calendar: LIST, uid: t.uid }), /^not found: there is no task with uid/);
    assert.match(await refused(client, 'tasks_update', { calendar: LIST, uid: t.uid, etag: v2.etag, summary: 'x' }), /^not found: there is no task with uid/);

    // A task stored under a name that is not its UID (as some clients name files) is found by
    // a UID REPORT, changed and deleted all the same.
    const uid = 'c0ffee00-1111-4222-8333-944455556666';
    const body = `BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Example//Tasks 1.0//EN\r\nBEGIN:VTODO\r\nUID:${uid}\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:Anders benannt\r\nEND:VTODO\r\nEND:VCALENDAR\r\n`;
    assert.equal((await dav('PUT', objectPath(LIST, 'task-4711.ics'), { body, headers: { 'content-type': 'text/calendar; charset=utf-8' } })).status, 201);
    const listed = (await ok(client, 'tasks_list', { query: 'anders benannt' })).items[0];
    const renamed = await ok(client, 'tasks_update', { calendar: LIST, uid, etag: listed.etag, priority: 2 });
    assert.equal(renamed.priority, 2);
    // Edited from the stored bytes, not from the REPORT's copy (whose CRLFs sabre sends as LF).
    const { added, removed } = lineDiff(body, await stored('task-4711.ics'));
    assert.deepEqual(propNames(added), ['DTSTAMP', 'LAST-MODIFIED', 'PRIORITY']);
    assert.deepEqual(propNames(removed), ['DTSTAMP']);
    assert.ok(added.every((l) => l.endsWith('\r\n')), JSON.stringify(added));
    await ok(client, 'tasks_delete', { calendar: LIST, uid });
    assert.equal(await stored('task-4711.ics'), null);
  });

  test('scopes: tasks:read lists but cannot write; without a tasks scope the tools are not there', async () => {
    const reader = await clientWith(['tasks:read'], 'read-only');
    assert.equal(reader.provider.tokens().scope, 'tasks:read');
    const names = (await reader.client.listTools()).tools.map((t) => t.name);
    assert.deepEqual(names.filter((n) => n.startsWith('tasks_')), ['tasks_list']);
    const listed = JSON.parse(textOf(await reader.client.callTool({ name: 'tasks_list', arguments: { status: 'all' } })));
    assert.ok(listed.items.length > 0);
    const before = await stack.nextcloud.dav.objects('calendars', USER, LIST);
    await assert.rejects(reader.client.callTool({ name: 'tasks_create', arguments: { summary: 'not allowed' } }), /403/);
    assert.deepEqual(await stack.nextcloud.dav.objects('calendars', USER, LIST), before, 'nothing was written');
    await reader.client.close();

    const notes = await clientWith(['notes:read'], 'notes-only');
    const noteTools = (await notes.client.listTools()).tools.map((t) => t.name);
    assert.ok(!noteTools.some((n) => n.startsWith('tasks_')), `${noteTools}`);
    await assert.rejects(notes.client.callTool({ name: 'tasks_list', arguments: {} }), /403/);
    await notes.client.close();
  });
});
