// The calendar additions of issue 15 end to end through the official MCP TypeScript SDK client,
// against the REAL sabre/dav 4.7 that Nextcloud 32 runs (tests/sabredav, with sabre's own
// CalDAV Schedule plugin: iTIP delivery to local users and the outbox's free/busy): events
// created in a time zone, repeating and with reminders; one occurrence of a series crossing the
// change to summer time edited and cancelled (Thunderbird's data, every byte it did not edit
// kept); a single event moved into another zone; calendars created, renamed and deleted;
// free/busy times; and attendees invited (bob, a user of the same server, gets the invitation
// in his calendar) and uninvited. The stack signs in with the bearer strategy so that the user
// document carries alice's e-mail address, which scheduling needs as the organizer's.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll } from '../lib/harness.mjs';
import { signIn, callOk, callRefused } from '../lib/sdk-client.mjs';

const REDIRECT = 'http://127.0.0.1:17993/oauth/callback';
const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'dav');
const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';

let stack;
let client;

before(async () => {
  stack = await startStack({ credentials: 'bearer' });
  // Both users exist in sabre/dav with their e-mail addresses (Nextcloud's principal backend
  // gives every user one from the account), before the stand-in first uses them there.
  await stack.nextcloud.dav.addUser('alice', 'unused-alice', { displayname: 'Alice Example', email: ALICE });
  await stack.nextcloud.dav.addUser('bob', 'unused-bob', { displayname: 'Bob Example', email: BOB });
  ({ client } = await signIn(stack, { name: 'e2e-ts-calendar-plus', clientName: 'MCP TypeScript SDK e2e (calendar plus)', redirect: REDIRECT }));
});
after(async () => { await client?.close(); await stack?.stop(); await stopAll(); });
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

/** A call that must succeed → its JSON answer (structuredContent must be the same, if sent); one that must fail → its message. */
const ok = (name, args) => callOk(client, name, args, { structured: 'ifPresent' });
const fails = (name, args) => callRefused(client, name, args);

const raw = (calendar, name, user = 'alice') => stack.nextcloud.dav.raw('calendars', user, calendar, name);

/** PUTs a fixture into alice's calendar as her DAV client would; → the bytes sent. */
async function putFixture(file, calendar, name) {
  const body = readFileSync(path.join(FIXTURES, file), 'utf8');
  const res = await stack.nextcloud.state.davFetch('alice', `calendars/alice/${calendar}/${encodeURIComponent(name)}`, {
    method: 'PUT', body, headers: { 'content-type': 'text/calendar; charset=utf-8', 'if-none-match': '*' },
  });
  assert.equal(res.status, 201, `PUT ${file}: ${res.status} ${await res.text()}`);
  assert.equal(await raw(calendar, name), body, 'sabre stored what the client sent');
  return body;
}

/** The events of `uid` listed between start and end. */
async function listed(uid, start, end, calendar = 'personal') {
  const list = await ok('calendar_list_events', { calendar_id: calendar, start, end });
  return list.events.filter((e) => e.uid === uid);
}

/** Every line of `before` is in `after`, in the same order (nothing edited was lost). */
function keepsEveryLine(before, after) {
  const lines = after.split('\r\n');
  let at = 0;
  for (const line of before.split('\r\n')) {
    const found = lines.indexOf(line, at);
    assert.ok(found >= 0, `line ${JSON.stringify(line)} is gone or moved`);
    at = found + 1;
  }
}

test('the new tools are listed with their hints; inviting says it reaches other people', async () => {
  const { tools } = await client.listTools();
  const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
  for (const name of ['calendar_set_attendees', 'calendar_freebusy', 'calendar_create_calendar', 'calendar_update_calendar', 'calendar_delete_calendar']) {
    assert.ok(byName[name], `${name} is listed`);
  }
  const invite = byName.calendar_set_attendees;
  assert.equal(invite.annotations.openWorldHint, true);
  assert.equal(invite.annotations.destructiveHint, true);
  assert.match(invite.description, /other people/);
  assert.equal(byName.calendar_freebusy.annotations.readOnlyHint, true);
  assert.ok(byName.calendar_freebusy.outputSchema, 'free/busy answers with structured data');
  assert.equal(byName.calendar_delete_calendar.annotations.destructiveHint, true);
  assert.equal(byName.calendar_create_calendar.annotations.destructiveHint, false);
  assert.equal(byName.calendar_create_event.annotations.openWorldHint, false, 'plain event edits reach nobody');
});

test('an event created in a zone repeats across the change to summer time, with reminders', async () => {
  const created = await ok('calendar_create_event', {
    calendar_id: 'personal',
    summary: 'Stand-up',
    start: '2026-03-16T09:00:00',
    end: '2026-03-16T09:15:00',
    timezone: 'Europe/Berlin',
    recurrence: 'FREQ=WEEKLY;BYDAY=MO;COUNT=4',
    reminders: [{ minutes_before: 10 }, { minutes_before: 1440, action: 'email' }],
  });
  assert.equal(created.timezone, 'Europe/Berlin');
  assert.equal(created.start, '2026-03-16T09:00:00');
  assert.equal(created.rrule, 'FREQ=WEEKLY;BYDAY=MO;COUNT=4');
  assert.deepEqual(created.reminders.map((r) => [r.action, r.minutes_before]), [['DISPLAY', 10], ['EMAIL', 1440]]);
  const stored = await raw('personal', created.href);
  for (const line of [
    'DTSTART;TZID=Europe/Berlin:20260316T090000', 'DTEND;TZID=Europe/Berlin:20260316T091500',
    'RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=4', 'BEGIN:VTIMEZONE', 'TZID:Europe/Berlin',
    'RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU', 'TRIGGER;RELATED=START:-PT10M', 'ACTION:EMAIL',
    `ATTENDEE:mailto:${ALICE}`,
  ]) assert.ok(stored.includes(`${line}\r\n`), `${line} stored:\n${stored}`);
  // sabre expands it in the zone: 08:00 UTC before 29 March, 07:00 UTC after.
  const occurrences = await listed(created.uid, '2026-03-01', '2026-05-01');
  assert.deepEqual(occurrences.map((e) => e.start), ['2026-03-16T08:00:00Z', '2026-03-23T08:00:00Z', '2026-03-30T07:00:00Z', '2026-04-06T07:00:00Z']);

  assert.match(await fails('calendar_create_event', { calendar_id: 'personal', summary: 'x', start: '2026-03-16T09:00:00', timezone: 'Berlin' }), /IANA/);
  assert.match(await fails('calendar_create_event', { calendar_id: 'personal', summary: 'x', start: '2026-03-16T09:00:00Z', recurrence: 'FREQ=WEEKLY;COUNT=2;UNTIL=20260401' }), /COUNT and UNTIL/);
  assert.match(await fails('calendar_create_event', { calendar_id: 'personal', summary: 'x', start: '2026-03-16T09:00:00Z', reminders: [{ minutes_before: 99999 }] }), /minutes_before/);
});

test("one occurrence of Thunderbird's series is edited and another cancelled; the rest stays byte for byte", async () => {
  const name = 'thunderbird-weekly.ics';
  const original = await putFixture('calendar/thunderbird-weekly-berlin.ics', 'personal', name);
  const uid = '3f6c1d2e-8a47-4b9c-9d1e-5a2b7c8d9e01';
  const before = await listed(uid, '2026-03-01', '2026-06-01');
  const monday = before.find((e) => e.recurrence_id === '2026-04-06T07:00:00Z');
  assert.ok(monday, `6 April (after the change to summer time) is an occurrence: ${JSON.stringify(before.map((e) => e.recurrence_id))}`);

  // Move 6 April to 11:00 Berlin time and rename it; only that occurrence changes.
  const edited = await ok('calendar_update_event', {
    calendar_id: 'personal', uid, etag: monday.etag, occurrence: '2026-04-06T07:00:00Z',
    summary: 'Plattform-Weekly (Sondertermin)', start: '2026-04-06T11:00:00+02:00',
  });
  assert.equal(edited.recurrence_id, '2026-04-06T09:00:00');
  assert.equal(edited.start, '2026-04-06T11:00:00');
  assert.equal(edited.timezone, 'Europe/Berlin');
  const afterEdit = await raw('personal', name);
  keepsEveryLine(original.replace(/END:VCALENDAR\r\n$/, ''), afterEdit);
  assert.ok(afterEdit.includes('RECURRENCE-ID;TZID=Europe/Berlin:20260406T090000\r\n'));
  assert.ok(afterEdit.includes('DTSTART;TZID=Europe/Berlin:20260406T110000\r\n'));
  const listedAfter = await listed(uid, '2026-03-01', '2026-06-01');
  const moved = listedAfter.find((e) => e.recurrence_id === '2026-04-06T07:00:00Z');
  assert.equal(moved.start, '2026-04-06T09:00:00Z');
  assert.equal(moved.summary, 'Plattform-Weekly (Sondertermin)');
  assert.equal(listedAfter.length, before.length);
  for (const e of listedAfter.filter((x) => x !== moved)) assert.equal(e.summary, before.find((b) => b.recurrence_id === e.recurrence_id).summary);

  // Cancel 23 March (winter time, 08:00 UTC): an EXDATE in the series' zone.
  const cancelled = await ok('calendar_delete_event', { calendar_id: 'personal', uid, etag: moved.etag, occurrence: '2026-03-23T08:00:00Z' });
  assert.equal(cancelled.deleted_occurrence, '2026-03-23T09:00:00');
  const afterDelete = await raw('personal', name);
  assert.ok(afterDelete.includes('EXDATE;TZID=Europe/Berlin:20260323T090000\r\n'), afterDelete);
  const remaining = await listed(uid, '2026-03-01', '2026-06-01');
  assert.equal(remaining.length, before.length - 1);
  assert.ok(!remaining.some((e) => e.recurrence_id === '2026-03-23T08:00:00Z'));

  // An occurrence the series does not have, and a stale etag, are refused without a write.
  assert.match(await fails('calendar_update_event', { calendar_id: 'personal', uid, etag: cancelled.etag, occurrence: '2026-03-24T08:00:00Z', summary: 'x' }), /no occurrence/);
  assert.match(await fails('calendar_update_event', { calendar_id: 'personal', uid, etag: monday.etag, occurrence: '2026-04-27T07:00:00Z', summary: 'x' }), /changed since/);
  assert.equal(await raw('personal', name), afterDelete);
});

test('the night of the change: an occurrence of the DST-crossing series is edited as sabre lists it', async () => {
  const name = 'dst-crossing.ics';
  const original = await putFixture('calendar/dst-crossing.ics', 'personal', name);
  const uid = '9b2e4c61-7f3a-4d85-a0c9-6e1b8d3f5a72';
  // The series starts at 02:30 on 29 March 2026, inside the hour skipped that night. sabre (and
  // so Nextcloud) reads that start as 03:30 CEST and repeats 03:30 every week (01:30 UTC;
  // tests/fixtures/dav/README.md); Thunderbird keeps 02:30. The tool names occurrences as the
  // server lists them, so that the server matches the edited copy to its occurrence.
  const occurrences = await listed(uid, '2026-04-01', '2026-04-30');
  const fifth = occurrences.find((e) => e.recurrence_id === '2026-04-05T01:30:00Z');
  assert.ok(fifth, JSON.stringify(occurrences.map((e) => e.recurrence_id)));
  await ok('calendar_update_event', {
    calendar_id: 'personal', uid, etag: fifth.etag, occurrence: fifth.recurrence_id,
    reminders: [{ minutes_before: 60 }], location: 'RZ Nord',
  });
  const stored = await raw('personal', name);
  keepsEveryLine(original.replace(/END:VCALENDAR\r\n$/, ''), stored);
  assert.ok(stored.includes('RECURRENCE-ID;TZID=Europe/Berlin:20260405T033000\r\n'), stored);
  assert.ok(stored.includes('TRIGGER;RELATED=START:-PT1H\r\n'));
  const after = await listed(uid, '2026-04-01', '2026-04-30');
  assert.equal(after.length, occurrences.length, 'the edited occurrence replaces its original, not beside it');
  assert.equal(after.find((e) => e.recurrence_id === '2026-04-05T01:30:00Z').location, 'RZ Nord');
  assert.equal(after.filter((e) => e.location === 'RZ Nord').length, 1);
});

test('a single event moves into another zone at the same instant; reminders are replaced', async () => {
  const created = await ok('calendar_create_event', {
    calendar_id: 'personal', summary: 'Call with New York', start: '2026-07-01T15:00:00Z', reminders: [{ minutes_before: 5 }],
  });
  const zoned = await ok('calendar_update_event', {
    calendar_id: 'personal', uid: created.uid, etag: created.etag, timezone: 'America/New_York', reminders: [],
  });
  assert.equal(zoned.timezone, 'America/New_York');
  assert.equal(zoned.start, '2026-07-01T11:00:00');
  assert.equal(zoned.reminders, undefined);
  const stored = await raw('personal', created.href);
  assert.ok(stored.includes('DTSTART;TZID=America/New_York:20260701T110000\r\n'), stored);
  assert.ok(stored.includes('TZID:America/New_York\r\n') && !stored.includes('VALARM'));
  const [listedEvent] = await listed(created.uid, '2026-07-01', '2026-07-02');
  assert.equal(listedEvent.start, '2026-07-01T15:00:00Z');
});

test('calendars are created (events and tasks), renamed, recoloured and deleted', async () => {
  const made = await ok('calendar_create_calendar', { name: 'Projekt X', color: '#FF7A00', description: 'Alles zu X', components: ['VEVENT', 'VTODO'] });
  assert.equal(made.id, 'projekt-x');
  assert.equal(made.name, 'Projekt X');
  assert.equal(made.color, '#ff7a00');
  assert.deepEqual(made.components.sort(), ['VEVENT', 'VTODO']);
  const second = await ok('calendar_create_calendar', { name: 'Projekt X' });
  assert.equal(second.id, 'projekt-x-2', 'a second calendar of the same name gets its own id');
  assert.match(await fails('calendar_create_calendar', { name: 'again', calendar_id: 'projekt-x' }), /already exists/);
  assert.match(await fails('calendar_create_calendar', { name: 'bad', components: ['VJOURNAL'] }), /VEVENT/);

  const renamed = await ok('calendar_update_calendar', { calendar_id: 'projekt-x', name: 'Projekt X (alt)', color: '#0082c9', description: '' });
  assert.equal(renamed.name, 'Projekt X (alt)');
  assert.equal(renamed.color, '#0082c9');
  assert.equal(renamed.description, undefined);
  const event = await ok('calendar_create_event', { calendar_id: 'projekt-x', summary: 'Kick-off', start: '2026-05-04', all_day: true });
  assert.ok(await raw('projekt-x', event.href));

  assert.deepEqual(await ok('calendar_delete_calendar', { calendar_id: 'projekt-x' }), { deleted: 'projekt-x' });
  await ok('calendar_delete_calendar', { calendar_id: 'projekt-x-2' });
  const { calendars } = await ok('calendar_list_calendars', {});
  assert.deepEqual(calendars.map((c) => c.id).filter((id) => id.startsWith('projekt')), []);
  assert.match(await fails('calendar_delete_calendar', { calendar_id: 'projekt-x' }), /no calendar/);
});

test("free/busy: the user's own busy times and another user's", async () => {
  await ok('calendar_create_event', { calendar_id: 'personal', summary: 'Busy block', start: '2026-09-07T10:00:00+02:00', end: '2026-09-07T12:00:00+02:00' });
  // bob's own client puts an event into his calendar.
  const bobEvent = 'BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Test//EN\r\nBEGIN:VEVENT\r\nUID:bob-busy-1\r\nDTSTAMP:20260901T000000Z\r\nDTSTART:20260908T130000Z\r\nDTEND:20260908T140000Z\r\nSUMMARY:Dentist\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n';
  const put = await stack.nextcloud.state.davFetch('bob', 'calendars/bob/personal/bob-busy-1.ics', { method: 'PUT', body: bobEvent, headers: { 'content-type': 'text/calendar; charset=utf-8' } });
  assert.equal(put.status, 201);

  const own = await ok('calendar_freebusy', { start: '2026-09-07', end: '2026-09-14' });
  assert.equal(own.items.length, 1);
  assert.equal(own.items[0].email, ALICE);
  assert.ok(own.items[0].found);
  assert.deepEqual(own.items[0].busy, [{ start: '2026-09-07T08:00:00Z', end: '2026-09-07T10:00:00Z', type: 'BUSY' }]);

  const others = await ok('calendar_freebusy', { start: '2026-09-07', end: '2026-09-14', attendees: [BOB, 'nobody@example.test'] });
  const bob = others.items.find((i) => i.email === BOB);
  assert.ok(!JSON.stringify(others).includes('Dentist'), 'only busy times, no details');
  // Nextcloud's user principals are readable by every signed-in user
  // (apps/dav/lib/CalDAV/Principal/User.php; tests/sabredav does the same), so bob's busy times
  // come back.
  assert.ok(bob.found, JSON.stringify(others));
  assert.deepEqual(bob.busy, [{ start: '2026-09-08T13:00:00Z', end: '2026-09-08T14:00:00Z', type: 'BUSY' }]);
  const nobody = others.items.find((i) => i.email === 'nobody@example.test');
  assert.equal(nobody.found, false);
  assert.match(nobody.status, /^3\.7/);
  assert.match(await fails('calendar_freebusy', { start: '2026-01-01', end: '2026-12-31' }), /92 days/);
});

test('attendees are invited (bob gets it in his calendar) and uninvited', async () => {
  const created = await ok('calendar_create_event', { calendar_id: 'personal', summary: 'Planning', start: '2026-10-05T14:00:00+02:00', timezone: 'Europe/Berlin' });
  const invited = await ok('calendar_set_attendees', {
    calendar_id: 'personal', uid: created.uid, etag: created.etag,
    attendees: [{ email: BOB, name: 'Bob Example' }, { email: 'carol@example.org', optional: true }],
  });
  assert.equal(invited.organizer, ALICE);
  const byEmail = Object.fromEntries(invited.attendees.map((a) => [a.email, a]));
  assert.equal(byEmail[BOB].status, 'NEEDS-ACTION');
  assert.equal(byEmail['carol@example.org'].role, 'OPT-PARTICIPANT');
  // sabre delivered to bob (1.2); carol is not on this server and there is no mail here.
  assert.match(byEmail[BOB].schedule_status ?? '', /^1\./, JSON.stringify(invited));
  const stored = await raw('personal', created.href);
  assert.ok(stored.includes(`ORGANIZER;CN=Alice Example:mailto:${ALICE}\r\n`), stored);
  assert.ok(stored.includes('DTSTART;TZID=Europe/Berlin:20261005T140000\r\n'));

  const bobsCopy = async () => (await stack.nextcloud.dav.objects('calendars', 'bob', 'personal')).find((o) => o.data.includes(created.uid));
  const copy = await bobsCopy();
  assert.ok(copy, "the invitation is in bob's calendar");
  assert.match(copy.data, /SUMMARY:Planning/);

  // A changed time reaches bob too (the plain update tool; its description says so).
  const moved = await ok('calendar_update_event', { calendar_id: 'personal', uid: created.uid, etag: invited.etag, start: '2026-10-05T15:00:00+02:00' });
  assert.match((await bobsCopy()).data, /DTSTART;TZID=Europe\/Berlin:20261005T150000/);

  // [] uninvites everyone: bob's copy is cancelled.
  const plain = await ok('calendar_set_attendees', { calendar_id: 'personal', uid: created.uid, etag: moved.etag, attendees: [] });
  assert.equal(plain.attendees, undefined);
  assert.match((await bobsCopy()).data, /STATUS:CANCELLED/);

  assert.match(await fails('calendar_set_attendees', { calendar_id: 'personal', uid: created.uid, etag: plain.etag, attendees: [{ email: 'not an address' }] }), /e-mail address/);
  assert.match(await fails('calendar_set_attendees', { calendar_id: 'personal', uid: created.uid, etag: plain.etag, attendees: [{ email: ALICE }] }), /organizer/);
});
