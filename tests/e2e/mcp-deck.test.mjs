// The Deck tools end to end through the official MCP TypeScript SDK client, against the
// stand-in's imitation of Deck 1.16.7 (tests/nextcloud/deck.mjs): boards, stacks, cards and
// labels made and read back (paged), card edits checked in what Deck stored, people assigned on a
// board shared with them, comments with a retry not posted twice, Deck's refusals as tool errors,
// a Nextcloud without Deck hiding the tools, and the bearer strategy: on a stock Nextcloud Deck's
// REST API refuses the token ("CORS requires basic auth") and the tools say the app-password
// strategy is needed (comments, over OCS, still work); with the patched user_oidc they work.
// The SDK validates every structuredContent against the tool's outputSchema.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll } from '../lib/harness.mjs';
import { signIn, signedInClient, callOk as ok, callRefused as refused } from '../lib/sdk-client.mjs';

const REDIRECT = 'http://127.0.0.1:17993/oauth/callback';
const DECK_TOOLS = ['deck_assign', 'deck_comment', 'deck_create', 'deck_delete', 'deck_get_board', 'deck_get_card', 'deck_list_boards', 'deck_update_card'];

const signedIn = (nextcloudOptions = {}) => signedInClient({ name: 'e2e-ts-deck', clientName: 'MCP TypeScript SDK e2e (Deck)', redirect: REDIRECT, nextcloudOptions });

/** Deck's REST API (or, with `ocs`, its OCS comments API) called directly as `user` with an app password, as another Deck client does. */
function deckAs(stack, user) {
  const password = stack.nextcloud.state.createAppPassword(user);
  return async (method, path, body, { ocs = false } = {}) => {
    const url = ocs
      ? `${stack.nextcloud.base}/ocs/v2.php/apps/deck/api/v1.0${path}?format=json`
      : `${stack.nextcloud.base}/index.php/apps/deck/api/v1.0${path}`;
    const res = await fetch(url, {
      method,
      headers: {
        authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
        'OCS-APIRequest': 'true',
        'content-type': 'application/json',
      },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json();
    assert.ok(res.ok, `${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
    return ocs ? json.ocs.data : json;
  };
}

afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });
after(async () => { await stopAll(); });

describe('Deck through the MCP SDK client', () => {
  let stack;
  let client;
  let alice;
  let bob;
  let ids = {};
  before(async () => {
    ({ stack, client } = await signedIn());
    alice = deckAs(stack, 'alice');
    bob = deckAs(stack, 'bob');
  });
  after(async () => { await client?.close(); await stack?.stop(); });

  /** The card as Deck stored it. */
  const stored = (cardId, stackId = ids.todo) => alice('GET', `/boards/${ids.board}/stacks/${stackId}/cards/${cardId}`);

  test('the tools are listed with hints true to what they do', async () => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.filter((t) => t.name.startsWith('deck_')).map((t) => [t.name, t]));
    assert.deepEqual(Object.keys(byName).sort(), DECK_TOOLS);
    for (const name of ['deck_list_boards', 'deck_get_board', 'deck_get_card']) {
      assert.deepEqual([byName[name].annotations.readOnlyHint, byName[name].annotations.openWorldHint], [true, false], name);
    }
    const hints = (name) => { const a = byName[name].annotations; return [a.readOnlyHint, a.destructiveHint, a.idempotentHint, a.openWorldHint]; };
    assert.deepEqual(hints('deck_create'), [false, false, false, false]);
    assert.deepEqual(hints('deck_update_card'), [false, true, true, false], 'a plain edit reaches nobody');
    assert.deepEqual(hints('deck_assign'), [false, true, true, true]);
    assert.deepEqual(hints('deck_comment'), [false, true, false, true]);
    assert.deepEqual(hints('deck_delete'), [false, true, true, false]);
    for (const name of ['deck_assign', 'deck_comment']) assert.match(byName[name].description, /other people/, name);
    for (const t of Object.values(byName)) assert.equal(t.outputSchema?.type, 'object', t.name);
  });

  test('boards, stacks, labels and cards made and read back, page by page', async () => {
    const board = await ok(client, 'deck_create', { kind: 'board', title: 'Launch', color: '#FF7A66' });
    assert.deepEqual([board.kind, board.title, board.color], ['board', 'Launch', 'ff7a66']);
    ids.board = board.id;
    ids.todo = (await ok(client, 'deck_create', { kind: 'stack', board_id: board.id, title: 'To do' })).id;
    ids.doing = (await ok(client, 'deck_create', { kind: 'stack', board_id: board.id, title: 'Doing' })).id;
    ids.done = (await ok(client, 'deck_create', { kind: 'stack', board_id: board.id, title: 'Done' })).id;
    const label = await ok(client, 'deck_create', { kind: 'label', board_id: board.id, title: 'Blocked', color: '000000' });
    ids.label = label.id;

    const first = await ok(client, 'deck_create', {
      kind: 'card', board_id: board.id, stack_id: ids.todo, title: 'Write the announcement',
      description: 'Draft for **Friday**', due: '2026-12-11T17:00:00+01:00', labels: [label.id],
    });
    assert.equal(first.stack_id, ids.todo);
    ids.card = first.id;
    for (const title of ['Book the room', 'Order cake', 'Invite press']) {
      await ok(client, 'deck_create', { kind: 'card', board_id: board.id, stack_id: ids.todo, title });
    }
    // Deck stored it as its own clients would have.
    const card = await stored(ids.card);
    assert.equal(card.duedate, '2026-12-11T16:00:00+00:00');
    assert.deepEqual(card.labels.map((l) => l.title), ['Blocked']);
    assert.equal(card.description, 'Draft for **Friday**');

    const view = await ok(client, 'deck_get_board', { board_id: board.id });
    assert.deepEqual(view.stacks.map((s) => s.title), ['To do', 'Doing', 'Done']);
    assert.deepEqual(view.labels.map((l) => l.title).sort(), ['Action needed', 'Blocked', 'Finished', 'Later', 'To review']);
    assert.deepEqual(view.members.map((m) => m.id), ['alice']);
    assert.deepEqual(view.permissions, ['read', 'edit', 'manage', 'share']);
    const shown = view.stacks[0].cards.find((c) => c.id === ids.card);
    assert.deepEqual([shown.due, shown.done, shown.labels.map((l) => l.title)], ['2026-12-11T16:00:00Z', null, ['Blocked']]);
    assert.equal(view.next_cursor, null);

    // Cards in pages of 3: the fourth comes with the cursor.
    const page1 = await ok(client, 'deck_get_board', { board_id: board.id, limit: 3 });
    assert.equal(page1.stacks[0].cards.length, 3);
    assert.equal(page1.stacks[0].card_count, 4);
    const page2 = await ok(client, 'deck_get_board', { board_id: board.id, limit: 3, cursor: page1.next_cursor });
    assert.deepEqual(page2.stacks[0].cards.map((c) => c.title), ['Invite press']);
    assert.equal(page2.next_cursor, null);
    assert.match(await refused(client, 'deck_get_board', { board_id: board.id, cursor: 'nonsense' }), /cursor/);

    // Boards: paged by id; an archived one only on request.
    const other = await ok(client, 'deck_create', { kind: 'board', title: 'Old stuff' });
    await alice('PUT', `/boards/${other.id}`, { title: 'Old stuff', color: '0082c9', archived: true });
    const third = await ok(client, 'deck_create', { kind: 'board', title: 'Next quarter' });
    const listed = await ok(client, 'deck_list_boards', {});
    assert.deepEqual(listed.boards.map((b) => b.title), ['Launch', 'Next quarter']);
    const withArchived = await ok(client, 'deck_list_boards', { include_archived: true, limit: 2 });
    assert.deepEqual(withArchived.boards.map((b) => b.title), ['Launch', 'Old stuff']);
    const rest = await ok(client, 'deck_list_boards', { include_archived: true, limit: 2, cursor: withArchived.next_cursor });
    assert.deepEqual([rest.boards.map((b) => b.id), rest.next_cursor], [[third.id], null]);
  });

  test('a card changed field by field, moved, labelled, done, archived and back', async () => {
    const card = ids.card;
    const renamed = await ok(client, 'deck_update_card', { board_id: ids.board, card_id: card, title: 'Write and send the announcement', done: true });
    assert.deepEqual(renamed.changes, ['title, done changed']);
    let s = await stored(card);
    assert.equal(s.title, 'Write and send the announcement');
    assert.match(s.done, /^\d{4}-\d\d-\d\dT/);
    assert.equal(s.duedate, '2026-12-11T16:00:00+00:00', 'the due date is kept (Deck clears what is not sent)');
    assert.equal(s.description, 'Draft for **Friday**');
    assert.deepEqual(s.labels.map((l) => l.title), ['Blocked']);

    // Again: nothing to change.
    const again = await ok(client, 'deck_update_card', { board_id: ids.board, card_id: card, title: 'Write and send the announcement', done: true });
    assert.deepEqual(again.changes, []);

    const finished = (await alice('GET', `/boards/${ids.board}`)).labels.find((l) => l.title === 'Finished').id;
    const moved = await ok(client, 'deck_update_card', {
      board_id: ids.board, card_id: card, stack_id: ids.doing, due: null, add_labels: [finished], remove_labels: [ids.label],
    });
    assert.deepEqual(moved.card.stack_id, ids.doing);
    assert.equal(moved.card.due, null);
    assert.deepEqual(moved.card.labels.map((l) => l.title), ['Finished']);
    s = await stored(card, ids.doing);
    assert.equal(s.stackId, ids.doing);
    assert.equal(s.duedate, null);
    assert.match(s.done ?? '', /^\d{4}-/, 'still done: Deck clears done when an update leaves it out');

    // To the top of "To do".
    await ok(client, 'deck_update_card', { board_id: ids.board, card_id: card, stack_id: ids.todo, position: 0 });
    const todo = (await ok(client, 'deck_get_board', { board_id: ids.board, stack_id: ids.todo })).stacks;
    assert.deepEqual(todo.map((x) => x.id), [ids.todo]);
    assert.equal(todo[0].cards[0].id, card);

    // Archived: out of the board view unless asked for; changes refused until brought back.
    await ok(client, 'deck_update_card', { board_id: ids.board, card_id: card, archived: true, done: false });
    s = await stored(card);
    assert.deepEqual([s.archived, s.done], [true, null]);
    const view = await ok(client, 'deck_get_board', { board_id: ids.board });
    assert.ok(!view.stacks[0].cards.some((c) => c.id === card));
    const withArchived = await ok(client, 'deck_get_board', { board_id: ids.board, include_archived_cards: true });
    assert.ok(withArchived.stacks[0].cards.some((c) => c.id === card && c.archived));
    assert.match(await refused(client, 'deck_update_card', { board_id: ids.board, card_id: card, title: 'x' }), /archived: false/);
    const back = await ok(client, 'deck_update_card', { board_id: ids.board, card_id: card, archived: false, description: 'Sent on Friday' });
    assert.deepEqual(back.changes, ['unarchived', 'description changed']);
    assert.equal((await stored(card)).description, 'Sent on Friday');

    const full = await ok(client, 'deck_get_card', { board_id: ids.board, card_id: card });
    assert.deepEqual([full.card.title, full.card.archived, full.card.owner.id], ['Write and send the announcement', false, 'alice']);
    assert.deepEqual(full.comments, []);
  });

  test('people assigned on a board shared with them, and Deck knows it', async () => {
    const card = ids.card;
    const stranger = await refused(client, 'deck_assign', { board_id: ids.board, card_id: card, assign: ['bob'] });
    assert.match(stranger, /bob is not a member of board/);
    await alice('POST', `/boards/${ids.board}/acl`, { type: 0, participant: 'bob', permissionEdit: true, permissionShare: false, permissionManage: false });
    const assigned = await ok(client, 'deck_assign', { board_id: ids.board, card_id: card, assign: ['bob'] });
    assert.deepEqual(assigned.changes, ['bob assigned']);
    assert.deepEqual(assigned.card.assignees.map((p) => p.id), ['bob']);
    assert.deepEqual((await stored(card)).assignedUsers.map((a) => a.participant.uid), ['bob']);
    const twice = await ok(client, 'deck_assign', { board_id: ids.board, card_id: card, assign: ['bob'] });
    assert.deepEqual(twice.changes, [], 'nobody is notified twice');
    const off = await ok(client, 'deck_assign', { board_id: ids.board, card_id: card, unassign: ['bob'] });
    assert.deepEqual([off.changes, off.card.assignees], [['bob unassigned'], []]);
    assert.deepEqual((await stored(card)).assignedUsers, []);
  });

  test('comments: posted, a retry not posted twice, replies, older ones page by page', async () => {
    const card = ids.card;
    const posted = await ok(client, 'deck_comment', { card_id: card, message: 'Draft is ready, @bob please review' });
    assert.equal(posted.already_posted, false);
    assert.deepEqual([posted.comment.author_id, posted.comment.mentions], ['alice', ['bob']]);
    const retry = await ok(client, 'deck_comment', { card_id: card, message: 'Draft is ready, @bob please review' });
    assert.deepEqual([retry.already_posted, retry.comment.id], [true, posted.comment.id]);
    // Bob answers through Deck (OCS), alice replies to him.
    const answer = await bob('POST', `/cards/${card}/comments`, { message: 'Looks good' }, { ocs: true });
    const reply = await ok(client, 'deck_comment', { card_id: card, message: 'Thanks!', reply_to: answer.id });
    assert.deepEqual(reply.comment.reply_to, { id: answer.id, author: 'bob', message: 'Looks good' });

    const newest = await ok(client, 'deck_get_card', { board_id: ids.board, card_id: card, comments_limit: 2 });
    assert.deepEqual(newest.comments.map((c) => c.message), ['Thanks!', 'Looks good']);
    assert.ok(newest.next_comments_cursor);
    const older = await ok(client, 'deck_get_card', { board_id: ids.board, card_id: card, comments_limit: 2, comments_cursor: newest.next_comments_cursor });
    assert.deepEqual(older.comments.map((c) => c.message), ['Draft is ready, @bob please review']);
    assert.equal(older.next_comments_cursor, null);
    assert.equal(older.card.comments_count, 3);
    const stored3 = await alice('GET', `/cards/${card}/comments`, undefined, { ocs: true });
    assert.equal(stored3.length, 3, 'the retry was not posted');
    assert.match(await refused(client, 'deck_comment', { card_id: card, message: 'x'.repeat(1001) }), /longer than 1000/);
    assert.match(await refused(client, 'deck_comment', { card_id: card, message: 'hi', reply_to: 999999 }), /Invalid parent id/);
  });

  test("Deck's refusals come back as tool errors a model can act on", async () => {
    assert.match(await refused(client, 'deck_get_board', { board_id: 999999 }), /board 999999 does not exist in Deck, or the user may not see/);
    const theirs = await bob('POST', '/boards', { title: 'Bob only', color: '0082c9' });
    assert.match(await refused(client, 'deck_get_board', { board_id: theirs.id }), /does not exist in Deck, or the user may not/);
    assert.match(await refused(client, 'deck_get_card', { board_id: ids.board, card_id: 999999 }), /has no card 999999/);
    assert.match(await refused(client, 'deck_comment', { card_id: 999999, message: 'hi' }), /card 999999 does not exist/);
    assert.match(await refused(client, 'deck_create', { kind: 'card', board_id: ids.board, stack_id: ids.todo, title: 'x', due: 'next friday' }), /due must be a date and time/);
    assert.match(await refused(client, 'deck_create', { kind: 'card', board_id: ids.board, stack_id: ids.todo, title: 'x', labels: [999999] }), /no label 999999/);
    assert.match(await refused(client, 'deck_create', { kind: 'label', board_id: ids.board, title: 'Blocked' }), /title must be unique/);
    assert.match(await refused(client, 'deck_update_card', { board_id: ids.board, card_id: ids.card, stack_id: 999999 }), /moves only within its board/);
    // Nothing was left behind by the refused creations.
    const view = await ok(client, 'deck_get_board', { board_id: ids.board });
    assert.ok(!view.stacks.some((st) => st.cards.some((c) => c.title === 'x')));
    // An archived board: Deck's "Operation not allowed" passed on.
    const frozen = await ok(client, 'deck_create', { kind: 'board', title: 'Frozen' });
    const col = await ok(client, 'deck_create', { kind: 'stack', board_id: frozen.id, title: 'Col' });
    await alice('PUT', `/boards/${frozen.id}`, { title: 'Frozen', color: '0082c9', archived: true });
    assert.match(await refused(client, 'deck_create', { kind: 'card', board_id: frozen.id, stack_id: col.id, title: 'late' }), /This board is archived/);
  });

  test('delete a card, a label, a stack and a board', async () => {
    const extra = await ok(client, 'deck_create', { kind: 'card', board_id: ids.board, stack_id: ids.done, title: 'Throwaway' });
    assert.deepEqual(await ok(client, 'deck_delete', { kind: 'card', board_id: ids.board, id: extra.id }), { kind: 'card', id: extra.id, restorable: true });
    assert.match(await refused(client, 'deck_get_card', { board_id: ids.board, card_id: extra.id }), /has no card/);
    assert.deepEqual(await ok(client, 'deck_delete', { kind: 'label', board_id: ids.board, id: ids.label }), { kind: 'label', id: ids.label, restorable: false });
    await ok(client, 'deck_delete', { kind: 'stack', board_id: ids.board, id: ids.done });
    const view = await ok(client, 'deck_get_board', { board_id: ids.board });
    assert.ok(!view.stacks.some((st) => st.id === ids.done));
    assert.ok(!view.labels.some((l) => l.id === ids.label));
    assert.match(await refused(client, 'deck_delete', { kind: 'card', board_id: ids.board }), /id of the stack, card or label/);
    await ok(client, 'deck_delete', { kind: 'board', board_id: ids.board });
    assert.ok(!(await ok(client, 'deck_list_boards', { include_archived: true })).boards.some((b) => b.id === ids.board));
    assert.match(await refused(client, 'deck_get_board', { board_id: ids.board }), /does not exist in Deck/);
  });
});

describe('a Nextcloud without Deck', () => {
  let stack;
  let client;
  before(async () => { ({ stack, client } = await signedIn({ apps: { deck: false } })); });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('the Deck tools are hidden, and a call anyway names the missing app', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(!names.some((n) => n.startsWith('deck_')), `${names}`);
    assert.ok(names.includes('whoami'));
    const text = await refused(client, 'deck_list_boards', {});
    assert.match(text, /Deck app/);
    assert.match(text, /not installed or not enabled/);
  });
});

/** A stack with the bearer strategy (`patched`: the stand-in accepts bearer tokens on #[CORS] APIs) and a client signed in. */
async function bearerClient(patched) {
  const stack = patched
    ? await startStack({ credentials: 'bearer' })
    : await startStack({ proxyEnv: { AUTH_PROXY_NEXTCLOUD_CREDENTIALS: 'bearer' } });
  const { client } = await signIn(stack, { name: 'e2e-ts-deck-bearer', clientName: 'MCP TypeScript SDK e2e (Deck, bearer)', redirect: REDIRECT });
  return { stack, client };
}

describe('the bearer credential strategy', () => {
  const stacks = [];
  after(async () => { for (const s of stacks) { await s.client.close(); await s.stack.stop(); } });

  test('stock Nextcloud: Deck refuses the token, the tools say the app-password strategy is needed, comments still work', { timeout: 60000 }, async () => {
    const s = await bearerClient(false);
    stacks.push(s);
    const { stack, client } = s;
    const text = await refused(client, 'deck_list_boards', {});
    assert.match(text, /CORS requires basic auth/);
    assert.match(text, /AUTH_PROXY_NEXTCLOUD_CREDENTIALS=app-password/);
    assert.match(text, /Signing in again does not help/);
    const requests = stack.nextcloud.state.requests;
    assert.ok(requests.some((r) => r.path.startsWith('/index.php/apps/deck/') && r.auth === 'bearer' && r.status === 401));
    assert.equal(requests.filter((r) => r.path.startsWith('/index.php/apps/deck/')).length, 1, 'asked once: no retry with a fresh token');
    // Comments go over OCS, which takes the token.
    const alice = deckAs(stack, 'alice');
    const board = await alice('POST', '/boards', { title: 'Mixed', color: '0082c9' });
    const col = await alice('POST', `/boards/${board.id}/stacks`, { title: 'To do', order: 0 });
    const card = await alice('POST', `/boards/${board.id}/stacks/${col.id}/cards`, { title: 'Card', type: 'plain', order: 999 });
    const posted = await ok(client, 'deck_comment', { card_id: card.id, message: 'via OCS' });
    assert.equal(posted.comment.author_id, 'alice');
  });

  test('patched user_oidc: the Deck tools work with the bearer token', { timeout: 60000 }, async () => {
    const s = await bearerClient(true);
    stacks.push(s);
    const board = await ok(s.client, 'deck_create', { kind: 'board', title: 'Bearer board' });
    assert.deepEqual((await ok(s.client, 'deck_list_boards', {})).boards.map((b) => b.id), [board.id]);
    assert.ok(s.stack.nextcloud.state.requests.some((r) => r.path.startsWith('/index.php/apps/deck/') && r.auth === 'bearer' && r.status === 200));
  });
});
