// The stand-in's imitation of Talk (nextcloud/spreed, Talk 22 on Nextcloud 32), written from its sources
// (none of its code is copied; read with the code index, commits noted where known):
//   - lib/Controller/ChatController.php (ecf3a714…): sendMessage (blank → 400 {"error":"message"}, unknown or
//     system parent → 400 {"error":"reply-to"}, MessageTooLongException → 413 {"error":"message"}, other
//     failures → 400 {"error":"message"}, 201 with the message and `parent`, header X-Chat-Last-Common-Read),
//     receiveMessages (lookIntoFuture required, limit ≤ 200, timeout ≤ 30, setReadMarker only moves the read
//     marker when looking into the future, includeLastKnown; prepareCommentsAsDataResponse: 304 with no body
//     when nothing, X-Chat-Last-Given = id of the last message given);
//   - lib/Chat/ChatManager.php: MAX_CHAT_LENGTH = 32000 (in code points, as mb_strlen), history newest first
//     below lastKnownMessageId, waitForNewMessages oldest first above it; the sender's read marker moves to
//     the message sent; server lib/private/Comments/Comment.php: a reference id over 64 characters is refused;
//   - lib/Model/Message.php toArray (Talk 22: id, token, actorType, actorId, actorDisplayName, timestamp,
//     message, messageParameters, systemMessage, messageType, isReplyable, referenceId, reactions {},
//     expirationTimestamp, markdown, threadId, silent when set);
//   - lib/Controller/RoomController.php createRoom (#[NoAdminRequired]: type 1 → existing one-to-one 200,
//     else 201, unknown invitee 404, oneself 403; type 2 without invite and type 3 → empty conversation named
//     roomName (trimmed, 1..255 characters, else 400); type 2 with a group invite → 404 here: the stand-in
//     knows no groups; any other type → 400), getRooms (noStatusUpdate, modifiedSince, headers
//     X-Nextcloud-Talk-Hash and X-Nextcloud-Talk-Modified-Before), getSingleRoom (#[PublicPage]; a public
//     conversation is shown to a non-participant with the defaults only), setReadOnly, addParticipantToRoom;
//   - lib/Service/RoomFormatter.php formatRoomV4 (the fields and their defaults; one-to-one: `name` is the
//     other user's id, `displayName` their display name; unreadMessages counts chat messages after the read
//     marker);
//   - lib/Middleware/InjectionMiddleware.php: room or participant not found → OCSException('', 404) (empty
//     meta.message); read-only (RequireReadWriteConversation) or not a moderator → OCSException('', 403);
//   - lib/Capabilities.php: the `spreed` block (features, features-local, config, config-local, version);
//   - server lib/private/AppFramework/OCS/V1Response.php and V2Response.php (201 is `ok` with statuscode 201
//     in v2; v1 answers HTTP 200 with statuscode 100 only for 200), SecurityMiddleware's OCS CSRF rule
//     (OCS-APIRequest: true or Bearer, else 412 {"message":"CSRF check failed"}), login required before the
//     CSRF check for methods without #[PublicPage]. No method here carries #[CORS], so Bearer works with a
//     stock Nextcloud.
// NOT imitated: calls, signaling, sessions and joining, guests, lobby (412), permissions other than the
// moderator ones, groups and circles (adding participants: users only), federation, threads, reactions, polls, shares, bots, notifications
// (markNotificationsAsRead is accepted and ignored), the user status (noStatusUpdate accepted), editing and
// deleting messages, other room routes (they answer 405 on the paths imitated, 404 elsewhere). Mentions are
// parsed for users only (`@id` and `@"id"` of users the stand-in knows). A user exists once signed in (or
// made by a test through state.createAppPassword); conversations live in memory.
import { createHash, randomInt } from 'node:crypto';

export const TALK_VERSION = '22.0.2';
const MAX_CHAT_LENGTH = 32000;
const TOKEN_CHARS = 'abcdefghijkmnopqrstuvwxyz23456789';
const TOKEN_RE = '[a-z0-9]{4,30}';
// Participant types (lib/Participant.php) and permissions (lib/Model/Attendee.php).
const OWNER = 1;
const MODERATOR = 2;
const USER = 3;
const PERMISSIONS_MAX_CUSTOM = 255;
const PERMISSIONS_USER = 254 - 8; // MAX_DEFAULT without LOBBY_IGNORE
const READ_WRITE = 0;
const READ_ONLY = 1;

const FEATURES = [
  'audio', 'video', 'chat-v2', 'conversation-v4', 'guest-signaling', 'empty-group-room', 'guest-display-names',
  'multi-room-users', 'favorites', 'last-room-activity', 'no-ping', 'system-messages', 'delete-messages',
  'mention-flag', 'in-call-flags', 'conversation-call-flags', 'notification-levels', 'invite-groups-and-mails',
  'locked-one-to-one-rooms', 'read-only-rooms', 'listable-rooms', 'chat-read-marker', 'chat-unread',
  'webinary-lobby', 'start-call-flag', 'chat-replies', 'circles-support', 'force-mute', 'sip-support',
  'sip-support-nopin', 'chat-read-status', 'phonebook-search', 'raise-hand', 'room-description',
  'rich-object-sharing', 'temp-user-avatar-api', 'geo-location-sharing', 'voice-message-sharing', 'signaling-v3',
  'publishing-permissions', 'clear-history', 'direct-mention-flag', 'notification-calls',
  'conversation-permissions', 'rich-object-list-media', 'rich-object-delete', 'unified-search', 'chat-permission',
  'silent-send', 'silent-call', 'send-call-notification', 'talk-polls', 'breakout-rooms-v1', 'recording-v1',
  'avatar', 'chat-get-context', 'single-conversation-status', 'chat-keep-notifications', 'typing-privacy',
  'remind-me-later', 'bots-v1', 'markdown-messages', 'media-caption', 'session-state', 'note-to-self',
  'recording-consent', 'sip-support-dialout', 'delete-messages-unlimited', 'edit-messages', 'silent-send-state',
  'chat-read-last', 'federation-v1', 'federation-v2', 'ban-v1', 'chat-reference-id', 'mention-permissions',
  'edit-messages-note-to-self', 'archived-conversations-v2', 'talk-polls-drafts', 'download-call-participants',
  'reactions',
];
const LOCAL_FEATURES = ['favorites', 'chat-read-status', 'listable-rooms', 'phonebook-search', 'temp-user-avatar-api', 'unified-search', 'avatar', 'remind-me-later', 'note-to-self', 'archived-conversations-v2', 'chat-summary-api'];
const LOCAL_CONFIGS = {
  attachments: ['allowed', 'folder'],
  call: ['predefined-backgrounds', 'can-upload-background', 'start-without-media', 'blur-virtual-background'],
  chat: ['read-privacy', 'has-translation-providers', 'typing-privacy', 'summary-threshold'],
  conversations: ['can-create'],
  federation: ['enabled', 'incoming-enabled', 'outgoing-enabled', 'only-trusted-servers'],
  previews: ['max-gif-size'],
  signaling: ['session-ping-limit', 'hello-v2-token-key'],
};
// ICommentsManager's mention pattern, users only.
const MENTION_RE = /(^|\s)(@"[a-z0-9_\-@.' ]+"|@[a-z0-9_\-@.']+)/giu;

/** `kit`: the stand-in's plumbing (see appKit in standin.mjs). */
export function talkApp(kit) {
  const rooms = new Map(); // token → room
  let nextRoomId = 1;
  let nextMessageId = 1;
  const nowSec = () => Math.floor(kit.clock() / 1000);

  // ---- model ----------------------------------------------------------------------------------

  function newToken() {
    for (;;) {
      let t = '';
      for (let i = 0; i < 8; i += 1) t += TOKEN_CHARS[randomInt(TOKEN_CHARS.length)];
      if (!rooms.has(t)) return t;
    }
  }
  const knownUser = (id) => kit.state.users().includes(id);
  const displayNameOf = (id) => (knownUser(id) ? kit.getUser(id).displayName : id);
  const lastMessageId = (room) => (room.messages.length ? room.messages[room.messages.length - 1].id : 0);

  function createRoom(type, name, owner, others = []) {
    const room = { id: nextRoomId++, token: newToken(), type, name, readOnly: READ_WRITE, created: nowSec(), lastActivity: nowSec(), messages: [], participants: new Map(), waiters: new Set() };
    rooms.set(room.token, room);
    addParticipant(room, owner, OWNER);
    for (const o of others) addParticipant(room, o, OWNER);
    postSystem(room, owner, 'conversation_created', '{actor} created the conversation', 'You created the conversation');
    for (const p of room.participants.values()) p.lastRead = lastMessageId(room);
    return room;
  }
  function addParticipant(room, userId, participantType) {
    room.participants.set(userId, { userId, participantType, attendeeId: room.id * 1000 + room.participants.size + 1, lastRead: lastMessageId(room), favorite: false });
  }
  function userParam(id) {
    return { type: 'user', id, name: displayNameOf(id) };
  }
  function postSystem(room, actorId, systemMessage, text, textForActor) {
    const m = { id: nextMessageId++, actorType: 'users', actorId, timestamp: nowSec(), raw: text, rawForActor: textForActor, systemMessage, verb: 'system', parameters: { actor: userParam(actorId) }, referenceId: '', parentId: 0, topmostParentId: 0, silent: false };
    room.messages.push(m);
    room.lastActivity = m.timestamp;
    wake(room);
    return m;
  }
  /** ChatManager::sendMessage: mentions of known users become {mention-userN}; the sender has read it. */
  function postMessage(room, actorId, text, { parent = null, referenceId = '', silent = false } = {}) {
    const parameters = {};
    let n = 0;
    const seen = new Map();
    const raw = text.replace(MENTION_RE, (all, lead, mention) => {
      const id = mention.startsWith('@"') ? mention.slice(2, -1) : mention.slice(1);
      if (!knownUser(id)) return all;
      let key = seen.get(id);
      if (!key) {
        n += 1;
        key = `mention-user${n}`;
        seen.set(id, key);
        parameters[key] = { ...userParam(id), 'mention-id': id };
      }
      return `${lead}{${key}}`;
    });
    const m = { id: nextMessageId++, actorType: 'users', actorId, timestamp: nowSec(), raw, systemMessage: '', verb: 'comment', parameters, referenceId, parentId: parent?.id ?? 0, topmostParentId: parent ? (parent.topmostParentId || parent.id) : 0, silent };
    room.messages.push(m);
    room.lastActivity = m.timestamp;
    const p = room.participants.get(actorId);
    if (p && p.lastRead < m.id) p.lastRead = m.id;
    wake(room);
    return m;
  }
  function wake(room) {
    for (const w of [...room.waiters]) w();
  }

  // ---- formatting -----------------------------------------------------------------------------

  function messageJson(room, m, viewerId) {
    const system = m.verb === 'system';
    const d = {
      id: m.id,
      token: room.token,
      actorType: m.actorType,
      actorId: m.actorId,
      actorDisplayName: displayNameOf(m.actorId),
      timestamp: m.timestamp,
      message: system && m.actorId === viewerId && m.rawForActor ? m.rawForActor : m.raw,
      messageParameters: m.parameters,
      systemMessage: system ? m.systemMessage : '',
      messageType: system ? 'system' : 'comment',
      isReplyable: !system,
      referenceId: m.referenceId,
      reactions: {},
      expirationTimestamp: 0,
      markdown: !system,
      threadId: m.topmostParentId || m.id,
    };
    if (m.silent) d.silent = true;
    return d;
  }
  function withParent(room, m, viewerId) {
    const d = messageJson(room, m, viewerId);
    if (m.parentId) {
      const parent = room.messages.find((x) => x.id === m.parentId);
      d.parent = parent ? messageJson(room, parent, viewerId) : { id: m.parentId, deleted: true };
    }
    return d;
  }
  const lastCommonRead = (room) => Math.min(...[...room.participants.values()].map((p) => p.lastRead));
  const unreadCount = (room, lastRead) => room.messages.filter((m) => m.id > lastRead && m.verb !== 'system').length;

  function roomJson(room, viewerId) {
    const p = viewerId ? room.participants.get(viewerId) : null;
    const d = {
      id: room.id, token: room.token, type: room.type, name: '', displayName: '', objectType: '', objectId: '',
      participantType: 4, participantFlags: 0, readOnly: READ_WRITE, hasPassword: false, hasCall: false,
      callStartTime: 0, callRecording: 0, canStartCall: false, lastActivity: 0, lastReadMessage: 0,
      unreadMessages: 0, unreadMention: false, unreadMentionDirect: false, isFavorite: false,
      canLeaveConversation: false, canDeleteConversation: false, notificationLevel: 0, notificationCalls: 0,
      lobbyState: 0, lobbyTimer: 0, lastPing: 0, sessionId: '0', lastMessage: [], sipEnabled: 0, actorType: '',
      actorId: '', attendeeId: 0, permissions: 1, attendeePermissions: 1, callPermissions: 1,
      defaultPermissions: 1, canEnableSIP: false, attendeePin: '', description: '', lastCommonReadMessage: 0,
      listable: 0, callFlag: 0, messageExpiration: 0, avatarVersion: createHash('md5').update(room.token).digest('hex').slice(0, 8),
      isCustomAvatar: false, breakoutRoomMode: 0, breakoutRoomStatus: 0, recordingConsent: 0, mentionPermissions: 0,
      isArchived: false,
    };
    if (!p) return d;
    const moderator = p.participantType === OWNER || p.participantType === MODERATOR;
    const other = room.type === 1 ? [...room.participants.keys()].find((id) => id !== viewerId) ?? viewerId : null;
    const last = room.messages[room.messages.length - 1];
    return Object.assign(d, {
      name: room.type === 1 ? other : room.name,
      displayName: room.type === 1 ? displayNameOf(other) : room.name,
      participantType: p.participantType,
      readOnly: room.readOnly,
      lastActivity: room.lastActivity,
      isFavorite: p.favorite,
      notificationLevel: room.type === 1 ? 1 : 2,
      actorType: 'users',
      actorId: viewerId,
      attendeeId: p.attendeeId,
      permissions: moderator ? PERMISSIONS_MAX_CUSTOM : PERMISSIONS_USER,
      attendeePermissions: 0,
      callPermissions: 0,
      defaultPermissions: 0,
      lastCommonReadMessage: lastCommonRead(room),
      canStartCall: true,
      lastReadMessage: p.lastRead,
      unreadMessages: unreadCount(room, p.lastRead),
      unreadMention: room.messages.some((m) => m.id > p.lastRead && Object.values(m.parameters).some((x) => x['mention-id'] === viewerId)),
      canDeleteConversation: room.type !== 1 && moderator,
      canLeaveConversation: true,
      lastMessage: last ? messageJson(room, last, viewerId) : [],
    });
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  /** A DataResponse through V1Response/V2Response; 304 has no body in v2. */
  function reply(ctx, v, status, data, headers = {}) {
    for (const [k, val] of Object.entries(headers)) ctx.res.setHeader(k, val);
    const ok2xx = status >= 200 && status < 300;
    if (v === 2 && status === 304) return kit.send(ctx, 304, '');
    const httpStatus = v === 1 ? (status === 401 ? 401 : 200) : status;
    const ocsStatus = v === 1 ? (status === 200 ? 100 : status) : status;
    const ok = v === 1 ? ocsStatus === 100 : ok2xx;
    const fmt = ctx.url.searchParams.get('format') ?? ((ctx.req.headers.accept ?? '').includes('application/json') ? 'json' : 'xml');
    if (fmt !== 'json') return kit.ocsSend(ctx, v, httpStatus, ok ? (v === 1 ? 100 : 200) : ocsStatus, '', data ?? []);
    const meta = { status: ok ? 'ok' : 'failure', statuscode: ocsStatus, message: ok ? 'OK' : '' };
    if (v === 1) Object.assign(meta, { totalitems: '', itemsperpage: '' });
    return kit.sendJson(ctx, httpStatus, { ocs: { meta, data: data ?? null } });
  }

  /** Request parameters as Nextcloud's Request merges them: query string, then a JSON or form body. */
  async function params(ctx) {
    const out = Object.fromEntries(ctx.url.searchParams);
    if (ctx.method === 'GET') return out;
    const body = (await kit.readBody(ctx)).toString('utf8');
    if (!body) return out;
    const type = ctx.req.headers['content-type'] ?? '';
    if (type.includes('application/json')) {
      try {
        const j = JSON.parse(body);
        if (j && typeof j === 'object' && !Array.isArray(j)) Object.assign(out, j);
      } catch { /* PHP ignores a body it cannot decode */ }
    } else {
      Object.assign(out, Object.fromEntries(new URLSearchParams(body)));
    }
    return out;
  }
  const int = (v, dflt) => {
    if (v === undefined || v === null || v === '') return dflt;
    if (typeof v === 'boolean') return v ? 1 : 0;
    const n = Number(v);
    return Number.isFinite(n) ? Math.trunc(n) : dflt;
  };
  const bool = (v, dflt = false) => (v === undefined || v === null ? dflt : v === true || v === 1 || v === '1' || v === 'true');
  const str = (v, dflt = '') => (v === undefined || v === null ? dflt : typeof v === 'string' ? v : typeof v === 'number' ? String(v) : dflt);

  function talkHashHeaders() {
    return { 'X-Nextcloud-Talk-Hash': createHash('sha1').update(`32.0.2#${TALK_VERSION}#####`).digest('hex') };
  }

  // route table: [method set, regex, handler name, public?]
  const ROUTES = [
    { re: /^\/apps\/spreed\/api\/v4\/room$/, methods: { GET: listRooms, POST: createRoomRoute }, pub: false },
    { re: new RegExp(`^/apps/spreed/api/v4/room/(${TOKEN_RE})$`), methods: { GET: getRoom }, pub: true },
    { re: new RegExp(`^/apps/spreed/api/v4/room/(${TOKEN_RE})/read-only$`), methods: { PUT: setReadOnly }, pub: true },
    { re: new RegExp(`^/apps/spreed/api/v4/room/(${TOKEN_RE})/participants$`), methods: { POST: addParticipantRoute }, pub: true },
    { re: new RegExp(`^/apps/spreed/api/v1/chat/(${TOKEN_RE})$`), methods: { GET: receiveMessages, POST: sendMessage }, pub: true },
  ];

  async function ocs(ctx, v, route) {
    let m = null;
    const r = ROUTES.find((x) => (m = x.re.exec(route)));
    if (!r) return false;
    const handler = r.methods[ctx.method];
    if (!handler) { kit.send(ctx, 405, ''); return true; }
    ctx.user = await kit.authenticate(ctx);
    if (!ctx.user && !r.pub) {
      ctx.res.setHeader('WWW-Authenticate', kit.challenge(false));
      // OCSMiddleware: NotLoggedInException → RESPOND_UNAUTHORISED (997), HTTP 401 in v1 and v2.
      kit.ocsSend(ctx, v, 401, 997, 'Current user is not logged in', []);
      return true;
    }
    if (ctx.req.headers['ocs-apirequest'] !== 'true' && ctx.authKind !== 'bearer') {
      kit.sendJson(ctx, 412, { message: 'CSRF check failed' });
      return true;
    }
    await handler(ctx, v, m[1], await params(ctx));
    return true;
  }

  /** InjectionMiddleware with RequireParticipant: the room, and the caller as a participant, or 404. */
  function participantRoom(ctx, token) {
    const room = rooms.get(token);
    const p = room && ctx.user ? room.participants.get(ctx.user.id) : null;
    return p ? { room, p } : null;
  }

  function listRooms(ctx, v, _t, q) {
    const before = nowSec();
    const since = int(q.modifiedSince, 0);
    const list = [...rooms.values()]
      .filter((room) => room.participants.has(ctx.user.id) && (!since || room.lastActivity > since))
      .map((room) => roomJson(room, ctx.user.id));
    return reply(ctx, v, 200, list, { ...talkHashHeaders(), 'X-Nextcloud-Talk-Modified-Before': String(before) });
  }

  function getRoom(ctx, v, token) {
    const room = rooms.get(token);
    // Manager::getRoomForUserByToken: a participant's room, or a public one for anyone.
    if (!room || (!(ctx.user && room.participants.has(ctx.user.id)) && room.type !== 3)) return reply(ctx, v, 404, []);
    return reply(ctx, v, 200, roomJson(room, ctx.user?.id ?? null), talkHashHeaders());
  }

  function createRoomRoute(ctx, v, _t, q) {
    const type = int(q.roomType, null);
    const invite = str(q.invite);
    const me = ctx.user.id;
    if (type === 1) {
      if (!knownUser(invite)) return reply(ctx, v, 404, []);
      if (invite === me) return reply(ctx, v, 403, []); // createOneToOneConversation: same user
      const name = JSON.stringify([me, invite].sort());
      const existing = [...rooms.values()].find((room) => room.type === 1 && room.name === name);
      if (existing) {
        // ParticipantService::ensureOneToOneRoomIsFilled: whoever left is back.
        for (const id of [me, invite]) if (!existing.participants.has(id)) addParticipant(existing, id, OWNER);
        return reply(ctx, v, 200, roomJson(existing, me));
      }
      return reply(ctx, v, 201, roomJson(createRoom(1, name, me, [invite]), me));
    }
    if (type === 2 && invite !== '') return reply(ctx, v, 404, []); // no groups (or circles) here
    if (type === 2 || type === 3) {
      const name = str(q.roomName).trim();
      if (name === '' || [...name].length > 255) return reply(ctx, v, 400, []);
      return reply(ctx, v, 201, roomJson(createRoom(type, name, me), me));
    }
    return reply(ctx, v, 400, []);
  }

  function setReadOnly(ctx, v, token, q) {
    const found = participantRoom(ctx, token);
    if (!found) return reply(ctx, v, 404, []);
    if (![OWNER, MODERATOR].includes(found.p.participantType)) return reply(ctx, v, 403, []);
    const state = int(q.state, -1);
    if (found.room.type !== 2 && found.room.type !== 3) return reply(ctx, v, 400, []);
    if (state !== READ_ONLY && state !== READ_WRITE) return reply(ctx, v, 400, []);
    if (found.room.readOnly !== state) {
      found.room.readOnly = state;
      postSystem(found.room, ctx.user.id, state === READ_ONLY ? 'read_only' : 'read_only_off',
        state === READ_ONLY ? '{actor} locked the conversation' : '{actor} unlocked the conversation',
        state === READ_ONLY ? 'You locked the conversation' : 'You unlocked the conversation');
    }
    return reply(ctx, v, 200, []);
  }

  /** RoomController::addParticipantToRoom for source `users` (moderators only; one-to-one → 400). */
  function addParticipantRoute(ctx, v, token, q) {
    const found = participantRoom(ctx, token);
    if (!found) return reply(ctx, v, 404, []);
    if (![OWNER, MODERATOR].includes(found.p.participantType)) return reply(ctx, v, 403, []);
    const { room } = found;
    if (room.type !== 2 && room.type !== 3) return reply(ctx, v, 400, []);
    const source = str(q.source, 'users') || 'users';
    const who = str(q.newParticipant);
    if (source !== 'users') return reply(ctx, v, 404, []); // no groups, circles, e-mails or federation here
    if (!knownUser(who)) return reply(ctx, v, 404, []);
    if (!room.participants.has(who)) {
      addParticipant(room, who, USER);
      const m = postSystem(room, ctx.user.id, 'user_added', '{actor} added {user}', 'You added {user}');
      m.parameters.user = userParam(who);
    }
    return reply(ctx, v, 200, []);
  }

  async function sendMessage(ctx, v, token, q) {
    const found = participantRoom(ctx, token);
    if (!found) return reply(ctx, v, 404, []);
    const { room } = found;
    if (room.readOnly === READ_ONLY) return reply(ctx, v, 403, []);
    const message = str(q.message);
    if (message.trim() === '') return reply(ctx, v, 400, { error: 'message' });
    const replyTo = int(q.replyTo, 0);
    let parent = null;
    if (replyTo !== 0) {
      parent = room.messages.find((x) => x.id === replyTo);
      if (!parent || parent.verb === 'system') return reply(ctx, v, 400, { error: 'reply-to' });
    }
    const referenceId = str(q.referenceId).trim();
    if ([...message].length > MAX_CHAT_LENGTH) return reply(ctx, v, 413, { error: 'message' });
    if (referenceId.length > 64) return reply(ctx, v, 400, { error: 'message' });
    const m = postMessage(room, ctx.user.id, message, { parent, referenceId, silent: bool(q.silent) });
    return reply(ctx, v, 201, withParent(room, m, ctx.user.id), { 'X-Chat-Last-Common-Read': String(lastCommonRead(room)) });
  }

  async function receiveMessages(ctx, v, token, q) {
    const found = participantRoom(ctx, token);
    if (!found) return reply(ctx, v, 404, []);
    const { room, p } = found;
    const lookIntoFuture = int(q.lookIntoFuture, null);
    if (lookIntoFuture === null) return reply(ctx, v, 500, []); // a required int parameter is missing
    const limit = Math.max(1, Math.min(200, int(q.limit, 100)));
    const timeout = Math.max(0, Math.min(30, int(q.timeout, 30)));
    const lastKnown = Math.max(0, int(q.lastKnownMessageId, 0));
    const includeLastKnown = int(q.includeLastKnown, 0) === 1;
    const viewer = ctx.user.id;
    let batch;
    if (lookIntoFuture) {
      if (int(q.setReadMarker, 1) === 1 && lastKnown > p.lastRead) p.lastRead = lastKnown;
      const pick = () => room.messages.filter((x) => (includeLastKnown ? x.id >= lastKnown : x.id > lastKnown)).slice(0, limit);
      batch = pick();
      if (!batch.length && timeout > 0) {
        await new Promise((resolve) => {
          let done = false;
          const finish = () => { if (done) return; done = true; clearTimeout(timer); room.waiters.delete(finish); ctx.res.off('close', finish); resolve(); };
          const timer = setTimeout(finish, timeout * 1000);
          room.waiters.add(finish);
          ctx.res.on('close', finish); // the client gave up
        });
        if (ctx.res.destroyed) return undefined;
        batch = pick();
      }
    } else {
      const older = room.messages.filter((x) => !lastKnown || (includeLastKnown ? x.id <= lastKnown : x.id < lastKnown));
      batch = older.slice(-limit).reverse();
    }
    if (!batch.length) return reply(ctx, v, 304, null);
    return reply(ctx, v, 200, batch.map((m) => withParent(room, m, viewer)), {
      'X-Chat-Last-Given': String(batch[batch.length - 1].id),
      'X-Chat-Last-Common-Read': String(lastCommonRead(room)),
    });
  }

  // ---- capabilities ---------------------------------------------------------------------------

  function capabilities(user) {
    const signedIn = Boolean(user);
    const config = {
      attachments: { allowed: signedIn, ...(signedIn ? { folder: '/Talk' } : {}) },
      call: {
        enabled: true, 'breakout-rooms': true, recording: false, 'recording-consent': 0,
        'supported-reactions': ['❤️', '🎉', '👏', '👋', '👍', '👎', '🔥', '😂', '🤩', '🤔', '😲', '😥'],
        'predefined-backgrounds': [], 'can-upload-background': signedIn, 'sip-enabled': false,
        'sip-dialout-enabled': false, 'can-enable-sip': false, 'start-without-media': false, 'max-duration': 0,
        'blur-virtual-background': false,
      },
      chat: { 'max-length': MAX_CHAT_LENGTH, 'read-privacy': 0, 'has-translation-providers': false, 'typing-privacy': 0, 'summary-threshold': 100 },
      conversations: { 'can-create': signedIn },
      federation: { enabled: false, 'incoming-enabled': false, 'outgoing-enabled': false, 'only-trusted-servers': true },
      previews: { 'max-gif-size': 3145728 },
      signaling: { 'session-ping-limit': 200 },
    };
    return { spreed: { features: [...FEATURES], 'features-local': [...LOCAL_FEATURES], config, 'config-local': LOCAL_CONFIGS, version: TALK_VERSION } };
  }

  // ---- for tests (the stand-in would have to expose these in its `state`) ---------------------

  const testing = {
    /** Conversations `userId` takes part in, as GET /room lists them for that user. */
    rooms: (userId) => [...rooms.values()].filter((r) => r.participants.has(userId)).map((r) => roomJson(r, userId)),
    /** Posts `text` into `token` as `userId` (a participant), as the chat API would; → the message. */
    post: (token, userId, text, opts = {}) => {
      const room = rooms.get(token);
      if (!room?.participants.has(userId)) throw new Error(`${userId} is not in ${token}`);
      return messageJson(room, postMessage(room, userId, text, opts), userId);
    },
    /** Adds `userId` to conversation `token` as a plain user (participantType 3). */
    addParticipant: (token, userId) => { const room = rooms.get(token); if (room && !room.participants.has(userId)) addParticipant(room, userId, USER); },
    reset: () => { for (const r of rooms.values()) wake(r); rooms.clear(); },
  };

  return { ocs, capabilities, testing };
}
