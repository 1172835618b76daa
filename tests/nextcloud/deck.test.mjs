// Tests for the stand-in's Deck imitation (deck.mjs): the REST API v1.0 as API clients and the web
// UI send it (JSON bodies), its refusals as Deck's ExceptionMiddleware words them, the CORS gate,
// the OCS comments API, capabilities, and the app switched off. Everything on 127.0.0.1.
//   cd tests && node --test nextcloud/deck.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startNextcloud } from './standin.mjs';

async function startFakeIdp() {
  const tokens = new Map([['tok-alice', { sub: 'alice' }]]);
  const server = http.createServer((req, res) => {
    const issuer = `http://127.0.0.1:${server.address().port}`;
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ issuer, userinfo_endpoint: `${issuer}/me` }));
    }
    const info = tokens.get(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]);
    if (req.url === '/me' && info) { res.writeHead(200, { 'content-type': 'application/json' }); return res.end(JSON.stringify(info)); }
    res.writeHead(401).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { issuer: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }) };
}

const basicAuth = (u, p) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;
const USERS = { alice: 'alice-pw', bob: 'bob-pw', carol: 'carol-pw' };
let idp;
let nc;

/** `as`: a user of USERS (Basic), {bearer: token}, or null. */
async function call(server, path, { method = 'GET', as = 'alice', body, headers = {} } = {}) {
  const h = { 'OCS-APIRequest': 'true' };
  if (typeof as === 'string') h.authorization = basicAuth(as, USERS[as]);
  else if (as?.bearer) h.authorization = `Bearer ${as.bearer}`;
  Object.assign(h, headers);
  if (body !== undefined) h['content-type'] = 'application/json';
  const res = await fetch(`${server.base}${path}`, { method, headers: h, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, text, json };
}
const API = '/index.php/apps/deck/api/v1.0';
const deck = (path, opts) => call(nc, `${API}${path}`, opts);
const ocs = (path, opts) => call(nc, `/ocs/v2.php/apps/deck/api/v1.0${path}?format=json`, opts);
const denied = { status: 403, message: 'Permission denied' };

before(async () => {
  idp = await startFakeIdp();
  nc = await startNextcloud({ idpIssuer: idp.issuer, basicUsers: USERS });
});
after(async () => { await nc?.close(); await idp?.close(); });

/** A board with one stack and one card, owned by alice. */
async function fixture(title = 'Project') {
  const board = (await deck('/boards', { method: 'POST', body: { title, color: '0082c9' } })).json;
  const stack = (await deck(`/boards/${board.id}/stacks`, { method: 'POST', body: { title: 'To do', order: 0 } })).json;
  const card = (await deck(`/boards/${board.id}/stacks/${stack.id}/cards`, { method: 'POST', body: { title: 'Write report', type: 'plain', order: 999, description: 'Quarterly' } })).json;
  return { board, stack, card, cardPath: `/boards/${board.id}/stacks/${stack.id}/cards/${card.id}` };
}

describe('boards', () => {
  test('create: default labels, owner as a user object, permissions', async () => {
    const r = await deck('/boards', { method: 'POST', body: { title: 'Launch', color: 'ff0000' } });
    assert.equal(r.status, 200);
    const b = r.json;
    assert.equal(b.title, 'Launch');
    assert.equal(b.color, 'ff0000');
    assert.deepEqual(b.owner, { primaryKey: 'alice', uid: 'alice', displayname: 'alice', type: 0 });
    assert.deepEqual(b.labels.map((l) => [l.title, l.color]), [['Finished', '31CC7C'], ['To review', '317CCC'], ['Action needed', 'FF7A66'], ['Later', 'F1DB50']]);
    assert.deepEqual(b.permissions, { PERMISSION_READ: true, PERMISSION_EDIT: true, PERMISSION_MANAGE: true, PERMISSION_SHARE: true });
    assert.equal(b.archived, false);
    assert.equal(b.deletedAt, 0);
    assert.match(b.ETag, /^[0-9a-f]{32}$/);
  });

  test('create refuses a missing or too long title and a too long colour (400, validator words)', async () => {
    assert.deepEqual((await deck('/boards', { method: 'POST', body: { color: 'ff0000' } })).json, { status: 400, message: 'title must be provided and must be not empty' });
    const long = await deck('/boards', { method: 'POST', body: { title: 'x'.repeat(101), color: 'ff0000' } });
    assert.equal(long.status, 400);
    assert.equal(long.json.message, 'title cannot be longer than 100 characters ');
    assert.equal((await deck('/boards', { method: 'POST', body: { title: 'ok', color: '#ff00000' } })).json.message, 'color cannot be longer than 6 characters ');
  });

  test('list (plain and with details), get with stacks and ETag, no index.php prefix works too', async () => {
    const { board } = await fixture('Listed');
    const plain = await deck('/boards');
    assert.equal(plain.status, 200);
    assert.match(plain.headers.get('etag'), /^"[0-9a-f]{32}"$/);
    const mine = plain.json.find((b) => b.id === board.id);
    assert.deepEqual(mine.stacks, []);
    assert.deepEqual(mine.labels, []);
    const detailed = (await call(nc, `/apps/deck/api/v1.0/boards?details=true`)).json.find((b) => b.id === board.id);
    assert.equal(detailed.stacks.length, 1);
    assert.equal(detailed.labels.length, 4);
    assert.deepEqual(detailed.users.map((u) => u.uid), ['alice']);
    const one = await deck(`/boards/${board.id}`);
    assert.equal(one.status, 200);
    assert.equal(one.headers.get('etag'), `"${one.json.ETag}"`);
    assert.equal(one.json.stacks[0].title, 'To do');
    assert.equal('cards' in one.json.stacks[0], false, 'board stacks come without cards');
    assert.deepEqual(one.json.settings, { 'notify-due': 'assigned', calendar: true });
  });

  test('If-Modified-Since filters the list; a bad one is a 500', async () => {
    const future = new Date(Date.now() + 3600e3).toUTCString();
    assert.deepEqual((await deck('/boards', { headers: { 'If-Modified-Since': future } })).json, []);
    const badDate = await deck('/boards', { headers: { 'If-Modified-Since': 'yesterday-ish' } });
    assert.deepEqual([badDate.status, badDate.json], [500, { status: 500, message: 'Invalid If-Modified-Since header provided.' }]);
  });

  test('update replaces title, colour and archived; a non-bool archived is refused', async () => {
    const { board } = await fixture('Old');
    const r = await deck(`/boards/${board.id}`, { method: 'PUT', body: { title: 'New', color: '00ff00', archived: true } });
    assert.equal(r.status, 200);
    assert.deepEqual([r.json.title, r.json.color, r.json.archived], ['New', '00ff00', true]);
    const bad = await deck(`/boards/${board.id}`, { method: 'PUT', body: { title: 'New', color: '00ff00', archived: 'yes' } });
    assert.deepEqual(bad.json, { status: 400, message: 'archived must be provided and must be bool' });
    // An archived board refuses new content.
    const stack = await deck(`/boards/${board.id}/stacks`, { method: 'POST', body: { title: 'S', order: 1 } });
    assert.deepEqual([stack.status, stack.json], [500, { status: 500, message: 'Operation not allowed. This board is archived.' }]);
  });

  test('delete is soft (deletedAt), the board then answers 403 and stays in the list', async () => {
    const { board } = await fixture('Doomed');
    const r = await deck(`/boards/${board.id}`, { method: 'DELETE' });
    assert.equal(r.status, 200);
    assert.ok(r.json.deletedAt > 0);
    assert.deepEqual((await deck(`/boards/${board.id}`)).json, denied);
    assert.ok((await deck('/boards')).json.find((b) => b.id === board.id).deletedAt > 0);
    assert.deepEqual((await deck(`/boards/${board.id}`, { method: 'DELETE' })).json, denied);
    // PermissionService reads a deleted board as missing, so undo_delete is refused too (as in stable32).
    assert.deepEqual((await deck(`/boards/${board.id}/undo_delete`, { method: 'POST' })).json, denied);
  });

  test('unknown ids are 403 Permission denied, never 404; a non-numeric board id is a 500', async () => {
    assert.deepEqual((await deck('/boards/999999')).json, denied);
    assert.equal((await deck('/boards/999999')).status, 403);
    const r = await deck('/boards/abc');
    assert.equal(r.status, 500);
    assert.match(r.json.message, /^Internal server error: Please contact the server administrator/);
    assert.equal(typeof r.json.requestId, 'string');
  });
});

describe('sharing (ACL)', () => {
  test("bob sees only what he owns or is shared with; another's board is 403 until shared", async () => {
    const { board, cardPath } = await fixture('Private');
    assert.equal((await deck('/boards', { as: 'bob' })).json.some((b) => b.id === board.id), false);
    assert.deepEqual((await deck(`/boards/${board.id}`, { as: 'bob' })).json, denied);
    assert.deepEqual((await deck(cardPath, { as: 'bob' })).json, denied);
    const acl = await deck(`/boards/${board.id}/acl`, { method: 'POST', body: { type: 0, participant: 'bob', permissionEdit: true, permissionShare: false, permissionManage: false } });
    assert.equal(acl.status, 200);
    assert.deepEqual(acl.json.participant, { primaryKey: 'bob', uid: 'bob', displayname: 'bob', type: 0 });
    const seen = (await deck('/boards', { as: 'bob' })).json.find((b) => b.id === board.id);
    assert.deepEqual(seen.permissions, { PERMISSION_READ: true, PERMISSION_EDIT: true, PERMISSION_MANAGE: false, PERMISSION_SHARE: false });
    assert.equal((await deck(cardPath, { as: 'bob' })).status, 200);
    // Edit but not manage: bob may change cards, not the board.
    assert.deepEqual((await deck(`/boards/${board.id}`, { as: 'bob', method: 'PUT', body: { title: 'Mine', color: '000000' } })).json, denied);
    assert.deepEqual((await deck(`/boards/${board.id}/acl`, { as: 'carol', method: 'POST', body: { type: 0, participant: 'carol', permissionEdit: true, permissionShare: true, permissionManage: true } })).json, denied);
    // Unshared again: gone.
    assert.equal((await deck(`/boards/${board.id}/acl/${acl.json.id}`, { method: 'DELETE' })).status, 200);
    assert.deepEqual((await deck(`/boards/${board.id}`, { as: 'bob' })).json, denied);
  });
});

describe('stacks', () => {
  test('create, list with cards, get, update, delete', async () => {
    const { board, stack, card } = await fixture('Stacks');
    assert.deepEqual(Object.keys(stack), ['id', 'title', 'boardId', 'deletedAt', 'lastModified', 'order', 'ETag']);
    const list = await deck(`/boards/${board.id}/stacks`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json.map((s) => s.title), ['To do']);
    assert.equal(list.json[0].cards[0].id, card.id);
    assert.deepEqual(list.json[0].cards[0].owner.uid, 'alice');
    const one = await deck(`/boards/${board.id}/stacks/${stack.id}`);
    assert.equal(one.headers.get('etag'), `"${one.json.ETag}"`);
    assert.equal(one.json.cards[0].title, 'Write report');
    const up = await deck(`/boards/${board.id}/stacks/${stack.id}`, { method: 'PUT', body: { title: 'Doing', order: 3 } });
    assert.deepEqual([up.status, up.json.title, up.json.order], [200, 'Doing', 3]);
    assert.deepEqual((await deck(`/boards/${board.id}/stacks/${stack.id}`, { method: 'PUT', body: { title: 'Doing' } })).json, { status: 400, message: 'order must be provided and must be numeric' });
    const del = await deck(`/boards/${board.id}/stacks/${stack.id}`, { method: 'DELETE' });
    assert.ok(del.json.deletedAt > 0);
    assert.deepEqual((await deck(`/boards/${board.id}/stacks`)).json, []);
    assert.deepEqual((await deck(`/boards/${board.id}/stacks/abc`)).json, { status: 400, message: 'stack id must be a number' });
    assert.deepEqual((await deck(`/boards/${board.id}/stacks`, { method: 'POST', body: { title: '', order: 0 } })).json, { status: 400, message: 'title must be provided and must be not empty' });
  });
});

describe('cards', () => {
  test('create as the apps send it: ISO duedate, labels and users; the answer is a CardDetails', async () => {
    const { board, stack } = await fixture('Cards');
    const label = board.labels[0];
    const r = await deck(`/boards/${board.id}/stacks/${stack.id}/cards`, { method: 'POST', body: { title: 'Due soon', type: 'plain', order: 999, description: '', duedate: '2031-05-01T10:00:00+02:00', labels: [label.id], users: [{ id: 'alice', type: 0 }] } });
    assert.equal(r.status, 200);
    assert.equal(r.json.duedate, '2031-05-01T08:00:00+00:00');
    assert.equal(r.json.done, null);
    assert.equal(r.json.overdue, 0);
    assert.equal(r.json.referenceData, null);
    assert.equal('descriptionPrev' in r.json, false);
    const got = await deck(`/boards/${board.id}/stacks/${stack.id}/cards/${r.json.id}`);
    assert.equal(got.headers.get('etag'), `"${got.json.ETag}"`);
    assert.deepEqual(got.json.labels.map((l) => [l.id, l.cardId]), [[label.id, r.json.id]]);
    assert.deepEqual(got.json.assignedUsers.map((a) => [a.participant.uid, a.type, a.cardId]), [['alice', 0, r.json.id]]);
    assert.deepEqual(got.json.attachments, []);
  });

  test('create refusals: no title, a too long title, an unknown stack', async () => {
    const { board, stack } = await fixture('Card refusals');
    assert.deepEqual((await deck(`/boards/${board.id}/stacks/${stack.id}/cards`, { method: 'POST', body: { type: 'plain' } })).json, { status: 400, message: 'title must be provided and must be not empty' });
    assert.equal((await deck(`/boards/${board.id}/stacks/${stack.id}/cards`, { method: 'POST', body: { title: 'x'.repeat(256) } })).json.message, 'title cannot be longer than 255 characters ');
    assert.deepEqual((await deck(`/boards/${board.id}/stacks/999999/cards`, { method: 'POST', body: { title: 'Lost' } })).json, denied);
  });

  test('update replaces: title, type and owner are required; done and duedate are cleared when absent', async () => {
    const { cardPath, card } = await fixture('Update');
    const full = await deck(cardPath, { method: 'PUT', body: { title: 'Renamed', type: 'plain', owner: 'alice', description: 'New text', order: 1, duedate: '2030-01-20T09:52:43+00:00', done: '2030-01-19T08:00:00+00:00' } });
    assert.equal(full.status, 200);
    assert.deepEqual([full.json.title, full.json.description, full.json.duedate, full.json.done], ['Renamed', 'New text', '2030-01-20T09:52:43+00:00', '2030-01-19T08:00:00+00:00']);
    const partial = await deck(cardPath, { method: 'PUT', body: { title: 'Renamed', type: 'plain', owner: 'alice' } });
    assert.deepEqual([partial.json.description, partial.json.duedate, partial.json.done, partial.json.order], ['', null, null, 0]);
    assert.deepEqual((await deck(cardPath, { method: 'PUT', body: { title: 'No owner', type: 'plain' } })).json, { status: 400, message: 'owner must be provided and must be not empty' });
    assert.deepEqual((await deck(cardPath, { method: 'PUT', body: { title: 'No type', owner: 'alice' } })).json, { status: 400, message: 'type must be provided and must be not empty' });
    const badDate = await deck(cardPath, { method: 'PUT', body: { title: 'x', type: 'plain', owner: 'alice', duedate: 'next tuesday-ish' } });
    assert.equal(badDate.status, 500);
    assert.equal((await deck(`/boards/1/stacks/1/cards/${card.id + 100000}`, { method: 'PUT', body: { title: 'x', type: 'plain', owner: 'alice' } })).status, 403);
  });

  test('reorder moves a card to another stack and renumbers the target stack', async () => {
    const { board, stack, card } = await fixture('Move');
    const done = (await deck(`/boards/${board.id}/stacks`, { method: 'POST', body: { title: 'Done', order: 1 } })).json;
    const other = (await deck(`/boards/${board.id}/stacks/${done.id}/cards`, { method: 'POST', body: { title: 'Already done', order: 0 } })).json;
    const r = await deck(`/boards/${board.id}/stacks/${stack.id}/cards/${card.id}/reorder`, { method: 'PUT', body: { stackId: done.id, order: 0 } });
    assert.equal(r.status, 200);
    // CardService::reorder walks the stack by the old order and keeps that walk's order (array_values).
    assert.deepEqual(r.json.map((c) => [c.id, c.order, c.stackId]), [[other.id, 1, done.id], [card.id, 0, done.id]]);
    assert.equal(r.json[0].owner, 'alice', 'CardMapper::findAll does not map the owner');
    const stacks = (await deck(`/boards/${board.id}/stacks`)).json;
    assert.equal(stacks.find((s) => s.id === stack.id).cards, undefined);
    assert.equal(stacks.find((s) => s.id === done.id).cards.length, 2);
    assert.deepEqual((await deck(`/boards/${board.id}/stacks/${stack.id}/cards/${card.id}/reorder`, { method: 'PUT', body: { stackId: 999999, order: 0 } })).json, denied);
  });

  test('assign and remove labels; a label of another board is refused', async () => {
    const { board, cardPath } = await fixture('Labels on cards');
    const other = await fixture('Other board');
    const label = board.labels[1];
    const r = await deck(`${cardPath}/assignLabel`, { method: 'PUT', body: { labelId: label.id } });
    assert.deepEqual([r.status, r.text], [200, 'null']);
    assert.deepEqual((await deck(cardPath)).json.labels.map((l) => l.title), ['To review']);
    const foreign = await deck(`${cardPath}/assignLabel`, { method: 'PUT', body: { labelId: other.board.labels[0].id } });
    assert.deepEqual([foreign.status, foreign.json], [500, { status: 500, message: 'Operation not allowed. Label does not exist.' }]);
    assert.deepEqual((await deck(`${cardPath}/assignLabel`, { method: 'PUT', body: { labelId: 999999 } })).json, denied);
    assert.equal((await deck(`${cardPath}/removeLabel`, { method: 'PUT', body: { labelId: label.id } })).status, 200);
    assert.deepEqual((await deck(cardPath)).json.labels, []);
  });

  test('assign and unassign users: only board members, no doubles, unknown assignment is 404', async () => {
    const { board, cardPath } = await fixture('People');
    const a = await deck(`${cardPath}/assignUser`, { method: 'PUT', body: { userId: 'alice' } });
    assert.equal(a.status, 200);
    assert.deepEqual(Object.keys(a.json), ['id', 'participant', 'cardId', 'type']);
    assert.deepEqual((await deck(`${cardPath}/assignUser`, { method: 'PUT', body: { userId: 'alice' } })).json, { status: 400, message: 'The user is already assigned to the card' });
    assert.deepEqual((await deck(`${cardPath}/assignUser`, { method: 'PUT', body: { userId: 'bob' } })).json, { status: 400, message: 'The user is not part of the board' });
    await deck(`/boards/${board.id}/acl`, { method: 'POST', body: { type: 0, participant: 'bob', permissionEdit: false, permissionShare: false, permissionManage: false } });
    assert.equal((await deck(`${cardPath}/assignUser`, { method: 'PUT', body: { userId: 'bob', type: 0 } })).status, 200);
    assert.deepEqual((await deck(cardPath)).json.assignedUsers.map((x) => x.participant.uid), ['alice', 'bob']);
    assert.equal((await deck(`${cardPath}/unassignUser`, { method: 'PUT', body: { userId: 'bob' } })).status, 200);
    assert.deepEqual((await deck(`${cardPath}/unassignUser`, { method: 'PUT', body: { userId: 'bob' } })).json, { status: 404, message: 'No assignment for bobfound.' });
    // bob reads but may not edit.
    assert.deepEqual((await deck(`${cardPath}/assignUser`, { as: 'bob', method: 'PUT', body: { userId: 'bob' } })).json, denied);
  });

  test('archive and unarchive; an archived card leaves the stack listing and refuses changes', async () => {
    const { board, stack, card, cardPath } = await fixture('Archive');
    const r = await deck(`${cardPath}/archive`, { method: 'PUT' });
    assert.deepEqual([r.status, r.json.archived], [200, true]);
    assert.equal((await deck(`/boards/${board.id}/stacks`)).json[0].cards, undefined);
    assert.deepEqual((await deck(`/boards/${board.id}/stacks/archived`)).json[0].cards.map((c) => c.id), [card.id]);
    assert.deepEqual((await deck(`${cardPath}/assignLabel`, { method: 'PUT', body: { labelId: board.labels[0].id } })).json, { status: 500, message: 'Operation not allowed. This card is archived.' });
    assert.deepEqual((await deck(`${cardPath}/reorder`, { method: 'PUT', body: { stackId: stack.id, order: 0 } })).json.message, 'Operation not allowed. This card is archived.');
    assert.equal((await deck(`${cardPath}/unarchive`, { method: 'PUT' })).json.archived, false);
  });

  test('delete is soft; the card is then "Card is deleted" for reads', async () => {
    const { board, cardPath } = await fixture('Delete card');
    const r = await deck(cardPath, { method: 'DELETE' });
    assert.equal(r.status, 200);
    assert.ok(r.json.deletedAt > 0);
    assert.deepEqual((await deck(cardPath)).json, { status: 403, message: 'Card is deleted' });
    assert.equal((await deck(`/boards/${board.id}/stacks`)).json[0].cards, undefined);
    assert.deepEqual((await deck('/boards/1/stacks/1/cards/abc', { method: 'DELETE' })).json, { status: 400, message: 'card id must be a number' });
  });
});

describe('labels', () => {
  test('get, create, update, delete; unique titles and hex colours', async () => {
    const { board } = await fixture('Label board');
    const c = await deck(`/boards/${board.id}/labels`, { method: 'POST', body: { title: 'Urgent', color: 'aa0000' } });
    assert.equal(c.status, 200);
    assert.deepEqual(Object.keys(c.json), ['id', 'title', 'color', 'boardId', 'cardId', 'lastModified', 'ETag']);
    assert.deepEqual((await deck(`/boards/${board.id}/labels/${c.json.id}`)).json.title, 'Urgent');
    assert.deepEqual((await deck(`/boards/${board.id}/labels`, { method: 'POST', body: { title: 'Urgent', color: 'aa0000' } })).json, { status: 400, message: 'title must be unique' });
    assert.deepEqual((await deck(`/boards/${board.id}/labels`, { method: 'POST', body: { title: 'Grey', color: 'grey' } })).json, { status: 400, message: 'color must be provided and must be hex color' });
    const u = await deck(`/boards/${board.id}/labels/${c.json.id}`, { method: 'PUT', body: { title: 'Very urgent', color: 'ff0000' } });
    assert.deepEqual([u.status, u.json.title, u.json.color], [200, 'Very urgent', 'ff0000']);
    assert.equal((await deck(`/boards/${board.id}/labels/${c.json.id}`, { method: 'DELETE' })).status, 200);
    assert.deepEqual((await deck(`/boards/${board.id}/labels/${c.json.id}`)).json, denied);
    assert.deepEqual((await deck(`/boards/${board.id}/labels/${board.labels[0].id}`, { as: 'bob' })).json, denied);
  });
});

describe('comments (OCS)', () => {
  test('create, reply, list newest first with limit/offset, update, delete', async () => {
    const { card } = await fixture('Comments');
    const first = await ocs(`/cards/${card.id}/comments`, { method: 'POST', body: { message: '  Looks good @bob  ' } });
    assert.equal(first.status, 200);
    assert.equal(first.json.ocs.meta.statuscode, 200);
    const c1 = first.json.ocs.data;
    assert.deepEqual([c1.message, c1.objectId, c1.actorId, c1.actorType], ['Looks good @bob', card.id, 'alice', 'users']);
    assert.deepEqual(c1.mentions, [{ mentionId: 'bob', mentionType: 'user', mentionDisplayName: 'bob' }]);
    assert.match(c1.creationDateTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/);
    const reply = (await ocs(`/cards/${card.id}/comments`, { method: 'POST', body: { message: 'Thanks', parentId: c1.id } })).json.ocs.data;
    assert.equal(reply.replyTo.id, c1.id);
    const list = (await ocs(`/cards/${card.id}/comments`)).json.ocs.data;
    assert.deepEqual(list.map((c) => c.id), [reply.id, c1.id]);
    const page = (await call(nc, `/ocs/v2.php/apps/deck/api/v1.0/cards/${card.id}/comments?format=json&limit=1&offset=1`)).json.ocs.data;
    assert.deepEqual(page.map((c) => c.id), [c1.id]);
    const up = await ocs(`/cards/${card.id}/comments/${c1.id}`, { method: 'PUT', body: { message: 'Edited' } });
    assert.equal(up.json.ocs.data.message, 'Edited');
    const del = await ocs(`/cards/${card.id}/comments/${c1.id}`, { method: 'DELETE' });
    assert.deepEqual([del.status, del.json.ocs.data], [200, []]);
    assert.equal((await ocs(`/cards/${card.id}/comments`)).json.ocs.data.length, 1);
  });

  test('refusals in the OCS envelope: foreign card, bad parent, too long, not the author, no comment', async () => {
    const { board, card } = await fixture('Comment refusals');
    const foreign = await ocs(`/cards/${card.id}/comments`, { as: 'bob' });
    assert.equal(foreign.status, 403);
    assert.deepEqual(foreign.json.ocs.meta, { status: 'failure', statuscode: 403, message: 'Permission denied' });
    const parent = await ocs(`/cards/${card.id}/comments`, { method: 'POST', body: { message: 'x', parentId: 999999 } });
    assert.deepEqual([parent.status, parent.json.ocs.meta.message], [400, 'Invalid parent id: The parent comment was not found or belongs to a different card']);
    const long = await ocs(`/cards/${card.id}/comments`, { method: 'POST', body: { message: 'y'.repeat(1001) } });
    assert.deepEqual([long.status, long.json.ocs.meta.message], [400, 'Message exceeds allowed character limit of 1000']);
    assert.equal((await ocs('/cards/abc/comments')).json.ocs.meta.message, 'A valid card id must be provided');
    const mine = (await ocs(`/cards/${card.id}/comments`, { method: 'POST', body: { message: 'mine' } })).json.ocs.data;
    await deck(`/boards/${board.id}/acl`, { method: 'POST', body: { type: 0, participant: 'bob', permissionEdit: true, permissionShare: false, permissionManage: false } });
    const notAuthor = await ocs(`/cards/${card.id}/comments/${mine.id}`, { as: 'bob', method: 'PUT', body: { message: 'hijack' } });
    assert.deepEqual([notAuthor.status, notAuthor.json.ocs.meta.message], [403, 'Only authors are allowed to edit their comment.']);
    const gone = await ocs(`/cards/${card.id}/comments/999999`, { method: 'DELETE' });
    assert.deepEqual([gone.status, gone.json.ocs.meta.message], [404, 'No comment found.']);
    // OCS v1: HTTP 200, the status only in meta.
    const v1 = await call(nc, `/ocs/v1.php/apps/deck/api/v1.0/cards/${card.id}/comments?format=json`, { as: 'carol' });
    assert.deepEqual([v1.status, v1.json.ocs.meta.statuscode], [200, 403]);
  });

  test('the OCS CSRF rule: Basic without OCS-APIRequest is 412; bearer passes (no CORS gate on OCS)', async () => {
    const { card } = await fixture('CSRF');
    const r = await fetch(`${nc.base}/ocs/v2.php/apps/deck/api/v1.0/cards/${card.id}/comments?format=json`, { headers: { authorization: basicAuth('alice', USERS.alice) } });
    assert.deepEqual([r.status, await r.json()], [412, { message: 'CSRF check failed' }]);
    const bearer = await fetch(`${nc.base}/ocs/v2.php/apps/deck/api/v1.0/cards/${card.id}/comments?format=json`, { headers: { authorization: 'Bearer tok-alice' } });
    assert.equal(bearer.status, 200);
    const anon = await call(nc, `/ocs/v2.php/apps/deck/api/v1.0/cards/${card.id}/comments?format=json`, { as: null });
    assert.deepEqual([anon.status, anon.json.ocs.meta.statuscode], [401, 997]);
  });
});

describe('authentication, CORS and capabilities', () => {
  test('stock Nextcloud: bearer and anonymous requests get the CORS 401 on the REST API', async () => {
    for (const as of [{ bearer: 'tok-alice' }, null]) {
      const r = await deck('/boards', { as });
      assert.deepEqual([r.status, r.json], [401, { message: 'CORS requires basic auth' }]);
    }
    const wrong = await deck('/boards', { headers: { authorization: basicAuth('alice', 'wrong') } });
    assert.deepEqual([wrong.status, wrong.json], [401, { message: 'CORS requires basic auth' }]);
  });

  test('patched user_oidc (stock: false): bearer works on the REST API', async () => {
    const nc2 = await startNextcloud({ idpIssuer: idp.issuer, stock: false });
    try {
      const r = await call(nc2, `${API}/boards`, { method: 'POST', as: { bearer: 'tok-alice' }, body: { title: 'Via token', color: '00ff00' } });
      assert.equal(r.status, 200);
      assert.equal(r.json.owner.uid, 'alice');
      const anon = await call(nc2, `${API}/boards`, { as: null });
      assert.deepEqual([anon.status, anon.json], [401, { message: 'Current user is not logged in' }]);
    } finally {
      await nc2.close();
    }
  });

  test('CORS preflight is answered without credentials; an Origin is echoed', async () => {
    const r = await fetch(`${nc.base}${API}/boards`, { method: 'OPTIONS', headers: { origin: 'https://app.example' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('access-control-allow-origin'), 'https://app.example');
    assert.equal(r.headers.get('access-control-allow-methods'), 'PUT, POST, GET, DELETE, PATCH');
    const g = await deck('/boards', { headers: { origin: 'https://app.example' } });
    assert.equal(g.headers.get('access-control-allow-origin'), 'https://app.example');
  });

  test('capabilities carry the deck block; a wrong method is 405', async () => {
    const caps = (await call(nc, '/ocs/v2.php/cloud/capabilities?format=json')).json.ocs.data.capabilities;
    assert.deepEqual(caps.deck, { version: '1.16.7', canCreateBoards: true, apiVersions: ['1.0', '1.1'] });
    assert.equal((await deck('/boards', { method: 'PATCH' })).status, 405);
  });

  test('apps: { deck: false } → 404 everywhere and no capability', async () => {
    const nc3 = await startNextcloud({ basicUsers: USERS, apps: { deck: false } });
    try {
      assert.equal((await call(nc3, `${API}/boards`)).status, 404);
      const c = await call(nc3, '/ocs/v2.php/apps/deck/api/v1.0/cards/1/comments?format=json');
      assert.deepEqual([c.status, c.json.ocs.meta.statuscode], [404, 404]);
      const caps = (await call(nc3, '/ocs/v2.php/cloud/capabilities?format=json')).json.ocs.data.capabilities;
      assert.equal('deck' in caps, false);
    } finally {
      await nc3.close();
    }
  });
});
