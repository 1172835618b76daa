// The Talk tools end to end through the official MCP TypeScript SDK client, against the
// stand-in's imitation of spreed (tests/nextcloud/talk.mjs): conversations listed and paged,
// a message sent (and a retry of it not posted twice), history read back page by page with
// another participant's mentions rendered, reading marking nothing, Talk's refusals (read-only,
// not a participant, too long) as tool errors, and a Nextcloud without Talk hiding the tools.
// The SDK validates every structuredContent against the tool's outputSchema.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll } from '../lib/harness.mjs';
import { signedInClient, callOk as ok, callRefused as refused } from '../lib/sdk-client.mjs';

const REDIRECT = 'http://127.0.0.1:17996/oauth/callback';
const TALK_TOOLS = ['talk_create_conversation', 'talk_list_conversations', 'talk_read_messages', 'talk_send_message'];

/** A stack and an SDK client (alice) signed in with every permission the consent page offers. */
const signedIn = (nextcloudOptions = {}) => signedInClient({ name: 'e2e-ts-talk', clientName: 'MCP TypeScript SDK e2e (Talk)', redirect: REDIRECT, nextcloudOptions });


/** Talk's OCS API called directly, as a user with an app password (what another client does). */
async function ocs(stack, user, method, path, body) {
  const password = stack.nextcloud.state.createAppPassword(user);
  const res = await fetch(`${stack.nextcloud.base}/ocs/v2.php/apps/spreed/api/v4/${path}?format=json`, {
    method,
    headers: {
      authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
      'OCS-APIRequest': 'true',
      'content-type': 'application/json',
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  assert.ok(res.ok, `${method} ${path}: ${res.status}`);
  return (await res.json()).ocs.data;
}

afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });
after(async () => { await stopAll(); });

describe('Talk through the MCP SDK client', () => {
  let stack;
  let client;
  let talk;
  before(async () => {
    ({ stack, client } = await signedIn());
    talk = stack.nextcloud.state.apps.spreed;
    stack.nextcloud.state.createAppPassword('bob'); // bob exists in Nextcloud
  });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('the tools are listed with hints true to what they do', async () => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.filter((t) => t.name.startsWith('talk_')).map((t) => [t.name, t]));
    assert.deepEqual(Object.keys(byName).sort(), TALK_TOOLS);
    for (const name of ['talk_list_conversations', 'talk_read_messages']) {
      assert.deepEqual(
        [byName[name].annotations.readOnlyHint, byName[name].annotations.openWorldHint],
        [true, false],
        name,
      );
    }
    const send = byName.talk_send_message.annotations;
    assert.deepEqual([send.readOnlyHint, send.destructiveHint, send.idempotentHint, send.openWorldHint], [false, true, false, true]);
    assert.equal(byName.talk_create_conversation.annotations.openWorldHint, true);
    assert.match(byName.talk_send_message.description, /every participant sees it/);
    for (const t of Object.values(byName)) assert.equal(t.outputSchema?.type, 'object', t.name);
  });

  test('create, send, a retry not posted twice, and history read back page by page', async () => {
    const direct = await ok(client, 'talk_create_conversation', { type: 'one_to_one', with_user: 'bob' });
    assert.equal(direct.created, true);
    assert.equal(direct.conversation.type, 'one_to_one');
    assert.equal(direct.conversation.name, 'bob');
    const again = await ok(client, 'talk_create_conversation', { type: 'one_to_one', with_user: 'bob' });
    assert.deepEqual([again.created, again.conversation.token], [false, direct.conversation.token]);

    const group = await ok(client, 'talk_create_conversation', { type: 'group', name: 'Project X', participants: ['bob', 'nobody'] });
    assert.equal(group.created, true);
    assert.deepEqual(group.added, ['bob']);
    assert.deepEqual(group.not_added.map((n) => n.user), ['nobody']);
    const token = group.conversation.token;

    const sent = await ok(client, 'talk_send_message', { token, message: 'Hello @bob, plans for Friday?' });
    assert.equal(sent.already_sent, false);
    assert.equal(sent.message.text, 'Hello @bob, plans for Friday?');
    assert.equal(sent.message.author_id, 'alice');
    const retry = await ok(client, 'talk_send_message', { token, message: 'Hello @bob, plans for Friday?' });
    assert.deepEqual([retry.already_sent, retry.message.id], [true, sent.message.id]);

    // Bob answers, mentioning alice, one of them as a reply.
    for (let i = 1; i <= 4; i += 1) talk.post(token, 'bob', `answer ${i} for @alice`);
    const replied = talk.post(token, 'bob', 'yes');
    assert.ok(replied.id);

    const pages = [];
    let before;
    for (let n = 0; n < 10; n += 1) {
      const page = await ok(client, 'talk_read_messages', { token, limit: 2, ...(before ? { before_message_id: before } : {}) });
      pages.push(page.messages);
      before = page.next_before_message_id;
      if (before === null) break;
    }
    assert.equal(before, null, 'the last page says there is nothing older');
    const texts = pages.reverse().flat().map((m) => m.text);
    assert.deepEqual(texts, [
      'Hello @bob, plans for Friday?', 'answer 1 for @alice', 'answer 2 for @alice', 'answer 3 for @alice', 'answer 4 for @alice', 'yes',
    ]);
    const newest = await ok(client, 'talk_read_messages', { token, limit: 3 });
    assert.deepEqual(newest.messages.map((m) => m.text), ['answer 3 for @alice', 'answer 4 for @alice', 'yes']);
    assert.equal(newest.messages[2].author_id, 'bob');
    assert.ok(newest.messages.every((m) => !m.system && /^\d{4}-\d\d-\d\dT/.test(m.time)));

    const withSystem = await ok(client, 'talk_read_messages', { token, limit: 50, include_system: true });
    assert.ok(withSystem.messages.some((m) => m.system && /created the conversation/.test(m.text)), JSON.stringify(withSystem.messages[0]));
    assert.ok(withSystem.messages.some((m) => m.system && /added bob/.test(m.text)));
    assert.equal(withSystem.next_before_message_id, null);

    // A reply shows what it answers.
    const answered = await ok(client, 'talk_send_message', { token, message: 'Friday it is', reply_to: replied.id, silent: true });
    assert.deepEqual(answered.message.reply_to, { id: replied.id, author: 'bob', text: 'yes' });
    assert.equal(answered.message.silent, true);
  });

  test('the list filters and pages, and reading marked nothing as read', async () => {
    const all = await ok(client, 'talk_list_conversations', {});
    assert.ok(all.conversations.length >= 2);
    assert.equal(all.next_cursor, null);
    const project = all.conversations.find((c) => c.name === 'Project X');
    assert.equal(project.type, 'group');
    assert.match(project.last_message, /: Friday it is$/);

    // Bob writes after alice's last post: unread for alice, and reading leaves it unread.
    talk.post(project.token, 'bob', 'one more thing');
    await ok(client, 'talk_read_messages', { token: project.token });
    const unread = await ok(client, 'talk_list_conversations', { unread_only: true });
    assert.deepEqual(unread.conversations.map((c) => [c.name, c.unread_messages]), [['Project X', 1]]);

    const byName = await ok(client, 'talk_list_conversations', { query: 'project' });
    assert.deepEqual(byName.conversations.map((c) => c.name), ['Project X']);

    const first = await ok(client, 'talk_list_conversations', { limit: 1 });
    assert.equal(first.conversations.length, 1);
    assert.ok(first.next_cursor);
    const second = await ok(client, 'talk_list_conversations', { limit: 1, cursor: first.next_cursor });
    assert.notEqual(second.conversations[0].token, first.conversations[0].token);
    assert.match(await refused(client, 'talk_list_conversations', { cursor: 'garbage' }), /cursor/);
  });

  test("Talk's refusals come back as tool errors a model can act on", async () => {
    const { conversation } = await ok(client, 'talk_create_conversation', { type: 'public', name: 'Announcements' });
    await ocs(stack, 'alice', 'PUT', `room/${conversation.token}/read-only`, { state: 1 });
    const listed = await ok(client, 'talk_list_conversations', { query: 'Announcements' });
    assert.equal(listed.conversations[0].read_only, true);
    assert.match(await refused(client, 'talk_send_message', { token: conversation.token, message: 'hi' }), /read-only/);

    const theirs = await ocs(stack, 'bob', 'POST', 'room', { roomType: 2, roomName: 'Bob only' });
    assert.match(await refused(client, 'talk_read_messages', { token: theirs.token }), /takes part/);
    assert.match(await refused(client, 'talk_send_message', { token: theirs.token, message: 'hi' }), /takes part/);

    const tooLong = await refused(client, 'talk_send_message', { token: conversation.token, message: 'x'.repeat(32001) });
    assert.match(tooLong, /longer than 32000/);
    assert.match(await refused(client, 'talk_send_message', { token: 'Not/A/Token', message: 'hi' }), /token/);
    assert.match(await refused(client, 'talk_create_conversation', { type: 'one_to_one', with_user: 'nobody' }), /knows no user/);
    assert.match(await refused(client, 'talk_create_conversation', { type: 'group' }), /needs a name/);
    assert.match(await refused(client, 'talk_read_messages', { token: conversation.token, limit: 500 }), /limit/);
  });
});

describe('a Nextcloud without Talk', () => {
  let stack;
  let client;
  before(async () => { ({ stack, client } = await signedIn({ apps: { spreed: false } })); });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('the Talk tools are hidden, and a call anyway names the missing app', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name);
    assert.ok(!names.some((n) => n.startsWith('talk_')), `${names}`);
    assert.ok(names.includes('whoami'));
    const text = await refused(client, 'talk_list_conversations', {});
    assert.match(text, /Talk app/);
    assert.match(text, /not installed or not enabled/);
  });
});
