// Tests for the stand-in's Talk (spreed) imitation (talk.mjs): conversations, chat history and long
// polling, refusals, capabilities, and the app switched off. A tiny fake IdP's userinfo endpoint knows a
// few tokens; no sabre/dav is needed. Everything on 127.0.0.1.
//   cd tests && node --test nextcloud/talk.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startNextcloud } from './standin.mjs';

async function startFakeIdp() {
  const tokens = new Map([
    ['tok-alice', { sub: 'alice', name: 'Alice Example' }],
    ['tok-bob', { sub: 'bob', name: 'Bob Builder' }],
    ['tok-dave', { sub: 'dave' }],
  ]);
  const server = http.createServer((req, res) => {
    const issuer = `http://127.0.0.1:${server.address().port}`;
    if (req.url === '/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ issuer, userinfo_endpoint: `${issuer}/me`, authorization_endpoint: `${issuer}/auth`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks` }));
    }
    if (req.url === '/me') {
      const info = tokens.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
      res.writeHead(info ? 200 : 401, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(info ?? { error: 'invalid_token' }));
    }
    res.writeHead(404).end();
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { issuer: `http://127.0.0.1:${server.address().port}`, close: () => new Promise((r) => { server.close(r); server.closeAllConnections(); }) };
}

let idp;
let nc;
const basic = (u, p) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`;

/**
 * An OCS call as Talk clients make it: OCS-APIRequest: true, Accept: application/json. `as` is a token,
 * {basic: [u, p]} or null; `json` is sent as a JSON body, `form` as application/x-www-form-urlencoded.
 */
async function ocs(path, { method = 'GET', as = 'tok-alice', json, form, headers = {}, v = 2, server = nc } = {}) {
  const h = { 'OCS-APIRequest': 'true', accept: 'application/json', ...headers };
  if (typeof as === 'string') h.authorization = `Bearer ${as}`;
  else if (as?.basic) h.authorization = basic(...as.basic);
  let body;
  if (json !== undefined) { h['content-type'] = 'application/json'; body = JSON.stringify(json); }
  if (form !== undefined) { h['content-type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(form).toString(); }
  const res = await fetch(`${server.base}/ocs/v${v}.php${path}`, { method, headers: h, body });
  const text = await res.text();
  let parsed;
  try { parsed = JSON.parse(text); } catch { parsed = undefined; }
  return { status: res.status, headers: res.headers, text, json: parsed, data: parsed?.ocs?.data, meta: parsed?.ocs?.meta };
}
const ROOM = '/apps/spreed/api/v4/room';
const CHAT = '/apps/spreed/api/v1/chat';
const createGroup = async (name, as = 'tok-alice') => (await ocs(ROOM, { method: 'POST', as, json: { roomType: 2, roomName: name } })).data;
const post = (token, message, as = 'tok-alice', extra = {}) => ocs(`${CHAT}/${token}`, { method: 'POST', as, json: { message, ...extra } });
const history = (token, q = '', as = 'tok-alice') => ocs(`${CHAT}/${token}?lookIntoFuture=0&setReadMarker=0&markNotificationsAsRead=0${q}`, { as });

before(async () => {
  idp = await startFakeIdp();
  nc = await startNextcloud({ idpIssuer: idp.issuer, basicUsers: { carol: 'carol-app-pw' } });
  // Users exist in the stand-in once signed in.
  for (const as of ['tok-alice', 'tok-bob', 'tok-dave']) assert.equal((await ocs(`${ROOM}?noStatusUpdate=1`, { as })).status, 200);
});
after(async () => {
  await nc?.close();
  await idp?.close();
});

describe('conversations', () => {
  test('a group conversation: 201 with the fields clients read, listed, readable by token', async () => {
    const r = await ocs(ROOM, { method: 'POST', json: { roomType: 2, roomName: '  Team  ' } });
    assert.equal(r.status, 201);
    assert.deepEqual(r.meta, { status: 'ok', statuscode: 201, message: 'OK' });
    const room = r.data;
    assert.match(room.token, /^[a-z0-9]{8}$/);
    assert.equal(room.type, 2);
    assert.equal(room.name, 'Team');
    assert.equal(room.displayName, 'Team');
    assert.equal(room.participantType, 1);
    assert.equal(room.readOnly, 0);
    assert.equal(room.unreadMessages, 0);
    assert.equal(room.actorType, 'users');
    assert.equal(room.actorId, 'alice');
    assert.equal(typeof room.lastActivity, 'number');
    assert.equal(room.lastMessage.systemMessage, 'conversation_created');
    assert.equal(room.lastMessage.message, 'You created the conversation');

    const list = await ocs(`${ROOM}?noStatusUpdate=1`);
    assert.equal(list.status, 200);
    assert.match(list.headers.get('x-nextcloud-talk-hash'), /^[0-9a-f]{40}$/);
    assert.match(list.headers.get('x-nextcloud-talk-modified-before'), /^\d+$/);
    assert.ok(list.data.some((x) => x.token === room.token && x.displayName === 'Team'));

    const one = await ocs(`${ROOM}/${room.token}`);
    assert.equal(one.status, 200);
    assert.equal(one.data.token, room.token);
    assert.equal(one.data.participantType, 1);

    // Bob is not in it: not listed for him, and 404 as InjectionMiddleware answers (empty message).
    assert.ok(!(await ocs(ROOM, { as: 'tok-bob' })).data.some((x) => x.token === room.token));
    const foreign = await ocs(`${ROOM}/${room.token}`, { as: 'tok-bob' });
    assert.equal(foreign.status, 404);
    assert.deepEqual(foreign.meta, { status: 'failure', statuscode: 404, message: '' });
  });

  test('a public conversation is shown to a signed-in non-participant with the defaults only', async () => {
    const r = await ocs(ROOM, { method: 'POST', form: { roomType: '3', roomName: 'Open house' } });
    assert.equal(r.status, 201);
    assert.equal(r.data.type, 3);
    const seen = await ocs(`${ROOM}/${r.data.token}`, { as: 'tok-bob' });
    assert.equal(seen.status, 200);
    assert.equal(seen.data.participantType, 4);
    assert.equal(seen.data.name, '');
    assert.deepEqual(seen.data.lastMessage, []);
    // but its chat needs a participant
    assert.equal((await history(seen.data.token, '', 'tok-bob')).status, 404);
  });

  test('refusals on creation: bad type, empty or long name, unknown invitee, oneself, groups', async () => {
    for (const json of [{ roomType: 5, roomName: 'x' }, { roomType: 0 }, {}]) {
      assert.equal((await ocs(ROOM, { method: 'POST', json })).status, 400, JSON.stringify(json));
    }
    assert.equal((await ocs(ROOM, { method: 'POST', json: { roomType: 3, roomName: '   ' } })).status, 400);
    assert.equal((await ocs(ROOM, { method: 'POST', json: { roomType: 2, roomName: 'x'.repeat(256) } })).status, 400);
    assert.equal((await ocs(ROOM, { method: 'POST', json: { roomType: 2, roomName: 'x'.repeat(255) } })).status, 201);
    assert.equal((await ocs(ROOM, { method: 'POST', json: { roomType: 1, invite: 'nobody' } })).status, 404);
    assert.equal((await ocs(ROOM, { method: 'POST', json: { roomType: 1, invite: 'alice' } })).status, 403);
    assert.equal((await ocs(ROOM, { method: 'POST', json: { roomType: 2, invite: 'admins' } })).status, 404);
  });

  test('one-to-one: 201 first, then 200 with the same conversation; each side sees the other as its name', async () => {
    const first = await ocs(ROOM, { method: 'POST', json: { roomType: 1, invite: 'bob' } });
    assert.equal(first.status, 201);
    assert.equal(first.data.type, 1);
    assert.equal(first.data.name, 'bob');
    assert.equal(first.data.displayName, 'Bob Builder');
    assert.equal(first.data.participantType, 1);
    const again = await ocs(ROOM, { method: 'POST', as: 'tok-bob', json: { roomType: 1, invite: 'alice' } });
    assert.equal(again.status, 200);
    assert.equal(again.data.token, first.data.token);
    assert.equal(again.data.name, 'alice');
    assert.equal(again.data.displayName, 'Alice Example');
    assert.equal(again.data.participantType, 1);
  });

  test('adding a participant (moderators only), who then reads the chat', async () => {
    const room = await createGroup('Invite');
    assert.equal((await ocs(`${ROOM}/${room.token}/participants`, { method: 'POST', json: { newParticipant: 'nobody' } })).status, 404);
    assert.equal((await ocs(`${ROOM}/${room.token}/participants`, { method: 'POST', json: { newParticipant: 'bob', source: 'users' } })).status, 200);
    const seen = await ocs(`${ROOM}/${room.token}`, { as: 'tok-bob' });
    assert.equal(seen.status, 200);
    assert.equal(seen.data.participantType, 3);
    const h = await history(room.token, '', 'tok-bob');
    assert.equal(h.status, 200);
    assert.equal(h.data[0].systemMessage, 'user_added');
    assert.equal(h.data[0].messageParameters.user.id, 'bob');
    assert.equal((await ocs(`${ROOM}/${room.token}/participants`, { method: 'POST', as: 'tok-bob', json: { newParticipant: 'dave' } })).status, 403);
  });

  test('modifiedSince leaves out conversations without newer activity', async () => {
    const list = await ocs(`${ROOM}?modifiedSince=${Math.floor(Date.now() / 1000) + 3600}`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.data, []);
  });
});

describe('chat', () => {
  test('sending as clients do: JSON, form and query; 201 with the message shape and the common-read header', async () => {
    const room = await createGroup('Chat');
    const refId = 'a'.repeat(64);
    const r = await post(room.token, 'Hello **world**', 'tok-alice', { referenceId: refId, silent: false });
    assert.equal(r.status, 201);
    assert.deepEqual(r.meta, { status: 'ok', statuscode: 201, message: 'OK' });
    const m = r.data;
    assert.equal(typeof m.id, 'number');
    assert.equal(m.token, room.token);
    assert.equal(m.actorType, 'users');
    assert.equal(m.actorId, 'alice');
    assert.equal(m.actorDisplayName, 'Alice Example');
    assert.equal(typeof m.timestamp, 'number');
    assert.equal(m.message, 'Hello **world**');
    assert.deepEqual(m.messageParameters, {});
    assert.equal(m.systemMessage, '');
    assert.equal(m.messageType, 'comment');
    assert.equal(m.referenceId, refId);
    assert.equal(m.isReplyable, true);
    assert.deepEqual(m.reactions, {});
    assert.equal(m.markdown, true);
    assert.equal(m.threadId, m.id);
    assert.equal(m.parent, undefined);
    assert.equal(m.silent, undefined);
    assert.equal(r.headers.get('x-chat-last-common-read'), String(m.id));

    // Talk Android posts a form body; replies carry `parent`.
    const reply = await ocs(`${CHAT}/${room.token}`, { method: 'POST', form: { message: 'a reply', replyTo: String(m.id), silent: 'true' } });
    assert.equal(reply.status, 201);
    assert.equal(reply.data.parent.id, m.id);
    assert.equal(reply.data.parent.message, 'Hello **world**');
    assert.equal(reply.data.threadId, m.id);
    assert.equal(reply.data.silent, true);

    const viaQuery = await ocs(`${CHAT}/${room.token}?message=${encodeURIComponent('from the query')}`, { method: 'POST' });
    assert.equal(viaQuery.status, 201);
    assert.equal(viaQuery.data.message, 'from the query');
  });

  test('mentions of known users become rich parameters', async () => {
    const room = await createGroup('Mentions');
    const r = await post(room.token, 'hi @bob and @"dave", not @nobody');
    assert.equal(r.status, 201);
    assert.equal(r.data.message, 'hi {mention-user1} and {mention-user2}, not @nobody');
    assert.deepEqual(r.data.messageParameters['mention-user1'], { type: 'user', id: 'bob', name: 'Bob Builder', 'mention-id': 'bob' });
    assert.equal(r.data.messageParameters['mention-user2'].id, 'dave');
  });

  test('refusals on sending: blank 400, too long 413 (32000 is fine), bad reply-to 400, long reference id 400', async () => {
    const room = await createGroup('Refusals');
    for (const message of ['', '   \n ']) {
      const r = await post(room.token, message);
      assert.equal(r.status, 400);
      assert.deepEqual(r.data, { error: 'message' });
    }
    assert.equal((await ocs(`${CHAT}/${room.token}`, { method: 'POST', json: {} })).status, 400);
    const long = await post(room.token, 'é'.repeat(32001));
    assert.equal(long.status, 413);
    assert.deepEqual(long.data, { error: 'message' });
    assert.deepEqual(long.meta, { status: 'failure', statuscode: 413, message: '' });
    assert.equal((await post(room.token, '€'.repeat(32000))).status, 201);
    const noParent = await post(room.token, 'x', 'tok-alice', { replyTo: 999999 });
    assert.equal(noParent.status, 400);
    assert.deepEqual(noParent.data, { error: 'reply-to' });
    const systemId = (await history(room.token, '&limit=200')).data.at(-1).id;
    assert.deepEqual((await post(room.token, 'x', 'tok-alice', { replyTo: systemId })).data, { error: 'reply-to' });
    assert.equal((await post(room.token, 'x', 'tok-alice', { referenceId: 'r'.repeat(65) })).status, 400);
  });

  test('non-participants get 404 on reading and sending; unknown tokens too', async () => {
    const room = await createGroup('Private');
    for (const r of [await history(room.token, '', 'tok-bob'), await post(room.token, 'hi', 'tok-bob'), await post('zzzz9999', 'hi')]) {
      assert.equal(r.status, 404);
      assert.deepEqual(r.meta, { status: 'failure', statuscode: 404, message: '' });
    }
  });

  test('a read-only conversation: 403 on sending for everyone, reading still works; only moderators lock', async () => {
    const room = await createGroup('Locked');
    await ocs(`${ROOM}/${room.token}/participants`, { method: 'POST', json: { newParticipant: 'bob' } });
    assert.equal((await ocs(`${ROOM}/${room.token}/read-only`, { method: 'PUT', as: 'tok-bob', json: { state: 1 } })).status, 403);
    assert.equal((await ocs(`${ROOM}/${room.token}/read-only`, { method: 'PUT', json: { state: 1 } })).status, 200);
    assert.equal((await ocs(`${ROOM}/${room.token}`)).data.readOnly, 1);
    for (const as of ['tok-alice', 'tok-bob']) {
      const r = await post(room.token, 'hi', as);
      assert.equal(r.status, 403);
      assert.deepEqual(r.meta, { status: 'failure', statuscode: 403, message: '' });
    }
    const h = await history(room.token);
    assert.equal(h.status, 200);
    assert.equal(h.data[0].systemMessage, 'read_only');
    const oneToOne = (await ocs(ROOM, { method: 'POST', json: { roomType: 1, invite: 'dave' } })).data;
    assert.equal((await ocs(`${ROOM}/${oneToOne.token}/read-only`, { method: 'PUT', json: { state: 1 } })).status, 400);
    assert.equal((await ocs(`${ROOM}/${room.token}/read-only`, { method: 'PUT', json: { state: 0 } })).status, 200);
    assert.equal((await post(room.token, 'open again')).status, 201);
  });

  test('paging through history with X-Chat-Last-Given until 304 (newest first, empty 304 body)', async () => {
    const room = await createGroup('History');
    const sent = [];
    for (let i = 1; i <= 7; i += 1) sent.push((await post(room.token, `message ${i}`)).data.id);
    const seen = [];
    let lastKnown = 0;
    let pages = 0;
    for (;;) {
      const r = await history(room.token, `&limit=3&lastKnownMessageId=${lastKnown}`);
      if (r.status === 304) {
        assert.equal(r.text, '');
        break;
      }
      assert.equal(r.status, 200);
      pages += 1;
      assert.ok(r.data.length <= 3);
      const ids = r.data.map((m) => m.id);
      assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
      assert.equal(r.headers.get('x-chat-last-given'), String(ids.at(-1)));
      seen.push(...r.data);
      lastKnown = Number(r.headers.get('x-chat-last-given'));
    }
    assert.equal(pages, 3);
    assert.equal(seen.length, 8); // the 7 messages and "You created the conversation"
    assert.deepEqual(seen.slice(0, 7).map((m) => m.id), [...sent].reverse());
    assert.equal(seen.at(-1).systemMessage, 'conversation_created');
    // includeLastKnown also gives the message at the offset
    const incl = await history(room.token, `&limit=2&lastKnownMessageId=${sent[3]}&includeLastKnown=1`);
    assert.deepEqual(incl.data.map((m) => m.id), [sent[3], sent[2]]);
  });

  test('limit is capped at 200', async () => {
    const room = await createGroup('Busy');
    for (let i = 0; i < 205; i += 1) assert.equal((await post(room.token, `m${i}`)).status, 201);
    const r = await history(room.token, '&limit=500');
    assert.equal(r.status, 200);
    assert.equal(r.data.length, 200);
    assert.equal(r.data[0].message, 'm204');
  });

  test('lookIntoFuture is required (a missing required parameter fails)', async () => {
    const room = await createGroup('Param');
    assert.equal((await ocs(`${CHAT}/${room.token}`)).status, 500);
  });
});

describe('waiting for new messages and read markers', () => {
  test('long polling answers 304 after the timeout, or as soon as a message arrives', async () => {
    const room = await createGroup('Poll');
    const last = (await post(room.token, 'before')).data.id;
    const t0 = Date.now();
    const idle = await ocs(`${CHAT}/${room.token}?lookIntoFuture=1&timeout=1&lastKnownMessageId=${last}`);
    assert.equal(idle.status, 304);
    assert.equal(idle.text, '');
    assert.ok(Date.now() - t0 >= 900, 'waited for the timeout');

    await ocs(`${ROOM}/${room.token}/participants`, { method: 'POST', json: { newParticipant: 'bob' } });
    const h = await history(room.token, '&limit=1');
    const waiting = ocs(`${CHAT}/${room.token}?lookIntoFuture=1&timeout=10&lastKnownMessageId=${h.data[0].id}`);
    await new Promise((r) => setTimeout(r, 150));
    const t1 = Date.now();
    const sent = (await post(room.token, 'news', 'tok-bob')).data;
    const got = await waiting;
    assert.ok(Date.now() - t1 < 3000);
    assert.equal(got.status, 200);
    assert.deepEqual(got.data.map((m) => m.id), [sent.id]);
    assert.equal(got.headers.get('x-chat-last-given'), String(sent.id));
  });

  test('a client that gives up on a long poll leaves the stand-in working', async () => {
    const room = await createGroup('Abandoned');
    const last = (await post(room.token, 'x')).data.id;
    const ac = new AbortController();
    const gone = fetch(`${nc.base}/ocs/v2.php${CHAT}/${room.token}?lookIntoFuture=1&timeout=30&lastKnownMessageId=${last}`, {
      headers: { authorization: 'Bearer tok-alice', 'OCS-APIRequest': 'true', accept: 'application/json' }, signal: ac.signal,
    }).catch((e) => e.name);
    await new Promise((r) => setTimeout(r, 100));
    ac.abort();
    assert.equal(await gone, 'AbortError');
    assert.equal((await post(room.token, 'after')).status, 201);
    assert.equal((await history(room.token, '&limit=1')).data[0].message, 'after');
  });

  test('unread counts: reading history does not mark read; polling with setReadMarker=1 does, =0 does not', async () => {
    const dm = (await ocs(ROOM, { method: 'POST', as: 'tok-dave', json: { roomType: 1, invite: 'bob' } })).data;
    const a = (await post(dm.token, 'one', 'tok-dave')).data;
    const b = (await post(dm.token, 'two', 'tok-dave')).data;
    const bobRoom = async () => (await ocs(ROOM, { as: 'tok-bob' })).data.find((x) => x.token === dm.token);
    let r = await bobRoom();
    assert.equal(r.unreadMessages, 2);
    assert.equal(r.lastMessage.id, b.id);
    assert.equal(r.lastMessage.message, 'two');
    assert.equal((await history(dm.token, '', 'tok-bob')).status, 200);
    assert.equal((await bobRoom()).unreadMessages, 2);
    await ocs(`${CHAT}/${dm.token}?lookIntoFuture=1&timeout=0&setReadMarker=0&lastKnownMessageId=${b.id}`, { as: 'tok-bob' });
    assert.equal((await bobRoom()).unreadMessages, 2);
    await ocs(`${CHAT}/${dm.token}?lookIntoFuture=1&timeout=0&setReadMarker=1&lastKnownMessageId=${a.id}`, { as: 'tok-bob' });
    r = await bobRoom();
    assert.equal(r.unreadMessages, 1);
    assert.equal(r.lastReadMessage, a.id);
    // Sending marks the sender's own chat read.
    await post(dm.token, 'three', 'tok-bob');
    assert.equal((await bobRoom()).unreadMessages, 0);
  });
});

describe('auth, envelope, capabilities', () => {
  test('OCS rules: 401 without credentials, 412 without OCS-APIRequest for Basic, Bearer passes without it', async () => {
    const anon = await ocs(ROOM, { as: null });
    assert.equal(anon.status, 401);
    assert.equal(anon.meta.statuscode, 997);
    const csrf = await ocs(ROOM, { as: { basic: ['carol', 'carol-app-pw'] }, headers: { 'OCS-APIRequest': 'false' } });
    assert.equal(csrf.status, 412);
    assert.deepEqual(csrf.json, { message: 'CSRF check failed' });
    assert.equal((await ocs(ROOM, { as: { basic: ['carol', 'carol-app-pw'] } })).status, 200);
    const bearer = await ocs(ROOM, { headers: { 'OCS-APIRequest': 'false' } });
    assert.equal(bearer.status, 200);
    // Chat is #[PublicPage]: without credentials it is the missing participant, 404.
    const room = await createGroup('Anon');
    assert.equal((await history(room.token, '', null)).status, 404);
  });

  test('Bearer works on a stock Nextcloud (no #[CORS] on Talk routes)', async () => {
    const room = await createGroup('Stock');
    assert.equal(room.participantType, 1);
    assert.equal((await post(room.token, 'via bearer')).status, 201);
    assert.ok(nc.state.requests.some((q) => q.path.startsWith('/ocs/v2.php/apps/spreed/') && q.auth === 'bearer' && q.status === 201));
  });

  test('v1 envelope: HTTP 200, statuscode 100 for 200; 405 for a method the route lacks; 404 for a bad token', async () => {
    const r = await ocs(ROOM, { v: 1 });
    assert.equal(r.status, 200);
    assert.equal(r.meta.statuscode, 100);
    assert.equal(r.meta.totalitems, '');
    const nf = await ocs(`${ROOM}/zzzz9999`, { v: 1 });
    assert.equal(nf.status, 200);
    assert.equal(nf.meta.statuscode, 404);
    assert.equal((await ocs(ROOM, { method: 'DELETE' })).status, 405);
    assert.equal((await ocs(`${ROOM}/NOT_A_TOKEN`)).status, 404);
  });

  test('XML when JSON is not asked for', async () => {
    const res = await fetch(`${nc.base}/ocs/v2.php${ROOM}`, { headers: { authorization: 'Bearer tok-alice', 'OCS-APIRequest': 'true' } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /^<\?xml[\s\S]*<token>[a-z0-9]{8}<\/token>/);
  });

  test('capabilities carry the spreed block', async () => {
    const caps = (await ocs('/cloud/capabilities')).data.capabilities.spreed;
    for (const f of ['chat-v2', 'chat-read-last', 'conversation-v4', 'chat-reference-id', 'silent-send']) assert.ok(caps.features.includes(f), f);
    assert.equal(caps.config.chat['max-length'], 32000);
    assert.equal(caps.config.conversations['can-create'], true);
    assert.match(caps.version, /^22\./);
    const anon = (await ocs('/cloud/capabilities', { as: null })).data.capabilities.spreed;
    assert.equal(anon.config.conversations['can-create'], false);
  });

  test('state.apps.spreed: a test posts as another participant; state.reset() clears the conversations', async () => {
    const room = await createGroup('helpers');
    const t = nc.state.apps.spreed;
    t.addParticipant(room.token, 'bob');
    const sent = t.post(room.token, 'bob', 'hello from bob');
    assert.equal(sent.actorId, 'bob');
    const got = await history(room.token, '&limit=5');
    assert.ok(got.data.some((m) => m.id === sent.id && m.message === 'hello from bob'), got.text);
    nc.state.reset();
    assert.deepEqual(t.rooms('alice'), []);
  });

  test('apps: { spreed: false } → OCS 404 and no capability', async () => {
    const off = await startNextcloud({ idpIssuer: idp.issuer, apps: { spreed: false } });
    try {
      const r = await ocs(ROOM, { server: off });
      assert.equal(r.status, 404);
      assert.equal(r.meta.statuscode, 404);
      assert.equal((await ocs(`${CHAT}/abcd1234?lookIntoFuture=0`, { server: off })).status, 404);
      const caps = (await ocs('/cloud/capabilities', { server: off })).data.capabilities;
      assert.equal(caps.spreed, undefined);
    } finally {
      await off.close();
    }
  });
});
