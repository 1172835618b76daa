// The stand-in's imitation of Deck (nextcloud/deck, branch stable32 = Deck 1.16.7, the version for
// Nextcloud 32), written from its sources (none of their code is copied):
//   appinfo/routes.php (REST `api/v{apiVersion}` routes and the OCS comments routes),
//   lib/Controller/BoardApiController.php, StackApiController.php, CardApiController.php,
//   LabelApiController.php (all @NoAdminRequired @CORS @NoCSRFRequired: kit.corsGate first),
//   CommentsApiController.php (an OCSController: no CORS, the OCS CSRF rule),
//   lib/Middleware/ExceptionMiddleware.php (errors → {"status","message"} JSON; DoesNotExist → 403
//   "Permission denied"; other throwables → 500 with requestId; in an OCSController a StatusException
//   becomes an OCSException),
//   lib/Service/BoardService.php, StackService.php, CardService.php, LabelService.php,
//   AssignmentService.php, CommentService.php, PermissionService.php (owner or user ACL;
//   "Permission denied" for missing AND foreign entities),
//   lib/Validators/*ServiceValidator.php and BaseValidator.php (the 400 messages),
//   lib/Db/Board.php, Stack.php, Card.php, Label.php, Acl.php, Assignment.php, RelationalEntity.php,
//   RelationalObject.php, User.php, lib/Model/CardDetails.php (JSON shapes and key order),
//   lib/Db/CardMapper.php, StackMapper.php, BoardMapper.php, ChangeHelper.php (ordering, soft
//   deletes, lastModified), lib/Capabilities.php, docs/API.md;
// and from nextcloud/server: lib/private/AppFramework/Http/Request.php (parameters: query, then URL
// placeholders, then the JSON body, which WINS over the URL; null counts as absent),
// Http/Dispatcher.php (typed controller arguments are cast; ETags are only sent, never answered
// with 304), Middleware/OCSMiddleware.php (the OCS envelope of errors).
//
// What is left out: groups and circles (ACL types 1/7), attachments, board import/export/clone,
// sessions, activity and notifications, the web UI's non-API routes, the OCS config/overview/search
// routes. Users named in ACLs are taken to exist. Dates are kept and shown in UTC ("+00:00"), as a
// read back from the database shows them. Deck keeps its data in memory, shared by all users.
import { createHash, randomBytes } from 'node:crypto';

export const DECK_VERSION = '1.16.7';
const md5 = (s) => createHash('md5').update(s).digest('hex');

/** A StatusException (or subclass) of lib/: status + message. */
class DeckError extends Error {
  constructor(status, message) { super(message); this.status = status; }
}
/** Any other throwable (TypeError, \Exception from DateTime, …): ExceptionMiddleware's 500. */
class InternalError extends Error {}
const denied = () => new DeckError(403, 'Permission denied');
const bad = (m) => new DeckError(400, m);

// ---- BaseValidator ------------------------------------------------------------------------------

const isNumeric = (v) => (typeof v === 'number' && Number.isFinite(v)) || (typeof v === 'string' && /^\s*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?\s*$/.test(v));
const phpEmpty = (v) => v === null || v === undefined || v === false || v === 0 || v === '' || v === '0'
  || (Array.isArray(v) && v.length === 0) || (typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0);
const RULES = {
  numeric: isNumeric,
  bool: (v) => typeof v === 'boolean',
  not_false: (v) => v !== false && v !== 'false',
  not_null: (v) => v !== null && v !== undefined,
  not_empty: (v) => (v === '0' ? true : typeof v === 'string' ? v.trim().length > 0 : !phpEmpty(v)),
  hex_color: (v) => /[A-Fa-f0-9]{6}/.test(String(v ?? '')),
};
const size = (v) => (Number.isInteger(v) ? v : Array.isArray(v) ? v.length : typeof v === 'boolean' ? Number(v) : [...String(v ?? '')].length);
const VALIDATORS = {
  board: { id: ['numeric'], boardId: ['numeric'], type: ['numeric'], title: ['not_empty', 'not_null', 'not_false', 'max:100'], userId: ['not_empty', 'not_null', 'not_false', 'max:64'], color: ['not_empty', 'not_null', 'not_false', 'max:6'], participant: ['not_empty', 'not_null', 'not_false', 'max:64'], edit: ['not_null'], share: ['not_null'], manage: ['not_null'], archived: ['bool'] },
  stack: { id: ['numeric'], title: ['not_empty', 'not_null', 'not_false', 'max:100'], boardId: ['numeric', 'not_null'], order: ['numeric', 'not_null'] },
  card: { id: ['numeric'], title: ['not_empty', 'not_null', 'not_false', 'max:255'], cardId: ['numeric'], stackId: ['numeric'], boardId: ['numeric'], labelId: ['numeric'], type: ['not_empty', 'not_null', 'not_false', 'max:64'], order: ['numeric'], owner: ['not_empty', 'not_null', 'not_false', 'max:64'] },
  label: { id: ['numeric'], title: ['not_empty', 'not_null', 'not_false', 'max:100'], boardId: ['numeric', 'not_null'], color: ['not_empty', 'not_null', 'not_false', 'max:6', 'hex_color'] },
  assignment: { cardId: ['numeric'], userId: ['not_empty', 'not_null', 'not_false', 'max:64'] },
};
function check(kind, data) {
  for (const [field, value] of Object.entries(data)) {
    for (const rule of VALIDATORS[kind][field] ?? []) {
      const [name, param] = rule.split(':');
      if (name === 'max') {
        if (size(value) > Number(param)) throw bad(`${field} cannot be longer than ${param} characters `);
      } else if (!RULES[name](value)) {
        throw bad(`${field} must be provided and must be ${name.replace(/_/g, ' ')}`);
      }
    }
  }
}

/** PHP's settype($v, 'int') / 'bool' for typed controller arguments. */
const toInt = (v) => { if (typeof v === 'boolean') return v ? 1 : 0; const n = Number.parseInt(String(v).trim(), 10); return Number.isNaN(n) ? 0 : n; };
const toBool = (v) => !(v === false || v === 0 || v === '' || v === '0' || v === null || (Array.isArray(v) && !v.length));
/** new \DateTime($s) (UTC server): an ISO-8601 string or anything Date understands, else it throws. */
function parseDate(s) {
  if (typeof s !== 'string' && typeof s !== 'number') throw new InternalError('DateTime::__construct(): invalid');
  const t = Date.parse(String(s));
  if (Number.isNaN(t)) throw new InternalError(`DateTime::__construct(): Failed to parse time string (${s})`);
  return Math.floor(t / 1000);
}
/** DateTime::format('c') in UTC. */
const isoDate = (sec) => (sec === null || sec === undefined ? null : new Date(sec * 1000).toISOString().replace(/\.\d{3}Z$/, '+00:00'));

/** `kit`: the stand-in's plumbing (see appKit in standin.mjs). */
export function deckApp(kit) {
  const now = () => Math.floor(kit.clock() / 1000);
  const boards = new Map(); // id → { id, title, owner, color, archived, deletedAt, lastModified }
  const acls = new Map(); // id → { id, boardId, type, participant, permissionEdit, permissionShare, permissionManage }
  const stacks = new Map(); // id → { id, title, boardId, deletedAt, lastModified, order }
  const cards = new Map(); // id → { id, title, description, descriptionPrev, stackId, type, lastModified, lastEditor, createdAt, owner, order, archived, done, duedate, notified, deletedAt }
  const labels = new Map(); // id → { id, title, color, boardId, lastModified }
  const cardLabels = new Map(); // cardId → Set(labelId)
  const assignments = new Map(); // id → { id, participant, cardId, type }
  const comments = new Map(); // id → { id, cardId, parentId, message, actorId, created }
  let nextId = 1;
  const newId = () => nextId++;

  // ---- serialisation (RelationalEntity::jsonSerialize: declared order, resolved owner in place) --

  const knownUser = (uid) => kit.state.users().includes(uid);
  const displayName = (uid) => (knownUser(uid) ? kit.getUser(uid).displayName : uid);
  const userJson = (uid) => ({ primaryKey: uid, uid, displayname: displayName(uid), type: 0 });
  const labelJson = (l, cardId = null) => ({ id: l.id, title: l.title, color: l.color, boardId: l.boardId, cardId, lastModified: l.lastModified, ETag: md5(String(l.lastModified)) });
  const aclJson = (a) => ({ id: a.id, participant: a.type === 0 ? userJson(a.participant) : a.participant, type: a.type, boardId: a.boardId, permissionEdit: a.permissionEdit, permissionShare: a.permissionShare, permissionManage: a.permissionManage, owner: false });
  const boardAcls = (boardId) => [...acls.values()].filter((a) => a.boardId === boardId);
  const boardLabels = (boardId) => [...labels.values()].filter((l) => l.boardId === boardId);
  const liveStacks = (boardId) => [...stacks.values()].filter((s) => s.boardId === boardId && s.deletedAt === 0);
  const assignedLabels = (cardId) => [...(cardLabels.get(cardId) ?? [])].sort((a, b) => a - b).map((id) => labels.get(id)).filter(Boolean).map((l) => labelJson(l, cardId));
  const assignmentJson = (a) => ({ id: a.id, participant: a.type === 0 ? userJson(a.participant) : a.participant, cardId: a.cardId, type: a.type });
  const cardAssignments = (cardId) => [...assignments.values()].filter((a) => a.cardId === cardId);

  function boardUsers(b) {
    const users = [b.owner];
    for (const a of boardAcls(b.id)) if (a.type === 0 && !users.includes(a.participant)) users.push(a.participant);
    return users;
  }
  /** PermissionService::matchPermissions (owner, else the user's ACL). */
  function permissions(b, uid) {
    const owner = b.owner === uid;
    const acl = boardAcls(b.id).find((a) => a.type === 0 && a.participant === uid);
    return {
      PERMISSION_READ: owner || Boolean(acl),
      PERMISSION_EDIT: owner || Boolean(acl?.permissionEdit),
      PERMISSION_MANAGE: owner || Boolean(acl?.permissionManage),
      PERMISSION_SHARE: owner || Boolean(acl?.permissionShare),
    };
  }
  const stackJson = (s, cardList = []) => {
    const j = { id: s.id, title: s.title, boardId: s.boardId, deletedAt: s.deletedAt, lastModified: s.lastModified };
    if (cardList.length) j.cards = cardList;
    return Object.assign(j, { order: s.order, ETag: md5(String(s.lastModified)) });
  };
  function boardJson(b, uid, full) {
    const j = { id: b.id, title: b.title, owner: userJson(b.owner), color: b.color, archived: b.archived, labels: [], acl: boardAcls(b.id).map(aclJson), permissions: permissions(b, uid), users: [], stacks: [], activeSessions: [], deletedAt: b.deletedAt, lastModified: b.lastModified, settings: [] };
    if (full) {
      j.labels = boardLabels(b.id).map((l) => labelJson(l));
      j.stacks = liveStacks(b.id).map((s) => stackJson(s));
      j.users = boardUsers(b).map(userJson);
      j.settings = { 'notify-due': 'assigned', calendar: true };
    }
    j.ETag = md5(String(b.lastModified));
    return j;
  }
  /**
   * Card::jsonSerialize (declared order; owner resolved in place). `o.details`: CardDetails (no
   * descriptionPrev/notified/relatedStack/relatedBoard; overdue, referenceData); `o.enhanced`:
   * labels and owner mapped (CardMapper::find); `o.assigned`: assignedUsers filled;
   * `o.counts`: attachmentCount and commentsCount filled (CardService::enrichCards).
   */
  function cardJson(c, o = {}) {
    const j = { id: c.id, title: c.title, description: c.description };
    if (!o.details) j.descriptionPrev = c.descriptionPrev;
    Object.assign(j, {
      stackId: c.stackId, type: c.type, lastModified: c.lastModified, lastEditor: c.lastEditor, createdAt: c.createdAt,
      labels: o.enhanced ? assignedLabels(c.id) : o.labels ?? null,
      assignedUsers: o.assigned ? cardAssignments(c.id).map(assignmentJson) : null,
      attachments: o.attachments ?? null,
      attachmentCount: o.counts || o.attachmentCount ? 0 : null,
      owner: o.enhanced ? userJson(c.owner) : c.owner,
      order: c.order, archived: c.archived, done: isoDate(c.done), duedate: isoDate(c.duedate),
    });
    if (!o.details) j.notified = c.notified;
    const count = o.counts ? [...comments.values()].filter((m) => m.cardId === c.id).length : 0;
    Object.assign(j, { deletedAt: c.deletedAt, commentsUnread: 0, commentsCount: count });
    if (!o.details) Object.assign(j, { relatedStack: null, relatedBoard: null });
    j.ETag = md5(String(c.lastModified));
    if (o.details) {
      j.overdue = dueStatus(c.duedate);
      j.referenceData = null;
    }
    return j;
  }
  const ENRICHED = { details: true, enhanced: true, assigned: true, counts: true };
  const MAPPED = { enhanced: true };
  function dueStatus(due) {
    if (due === null) return 0;
    const day = (sec) => { const d = new Date(sec * 1000); return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()) / 86400000; };
    const diff = day(due) - day(now());
    if (diff > 1) return 0;
    if (diff === 1) return 1;
    if (diff === 0) return 2;
    return 3;
  }

  // ---- lookups and permission checks (PermissionService::checkPermission) ------------------------

  const liveBoard = (id) => { const b = boards.get(Number(id)); return b && b.deletedAt === 0 ? b : null; };
  const boardIdOfStack = (id) => stacks.get(Number(id))?.boardId ?? null;
  const boardIdOfCard = (id) => { const c = cards.get(Number(id)); return c ? boardIdOfStack(c.stackId) : null; };
  const boardIdOfLabel = (id) => labels.get(Number(id))?.boardId ?? null;
  /** `kind`: 'board' | 'stack' | 'card' | 'label'; `perm`: READ/EDIT/MANAGE/SHARE. */
  function checkPermission(uid, kind, id, perm, { allowDeletedCard = false } = {}) {
    if (kind !== 'board' && !isNumeric(id)) throw denied();
    const boardId = kind === 'board' ? Math.trunc(Number(id)) : { stack: boardIdOfStack, card: boardIdOfCard, label: boardIdOfLabel }[kind](id);
    if (boardId === null || Number.isNaN(boardId)) throw denied();
    // getPermissions reads the board through BoardMapper::find without allowDeleted: a deleted board
    // grants nothing, not even to its owner.
    const b = liveBoard(boardId);
    if (!b || !permissions(b, uid)[`PERMISSION_${perm}`]) throw denied();
    if (kind === 'card' && !allowDeletedCard) {
      const c = cards.get(Number(id));
      if (!c) throw denied();
      if (c.deletedAt > 0) throw new DeckError(403, 'Card is deleted');
    }
    return b;
  }
  /** A mapper's find() that misses: DoesNotExistException → 403 "Permission denied". */
  const must = (x) => { if (!x) throw denied(); return x; };
  const archivedGuard = (boardId) => { if (boards.get(boardId)?.archived) throw new DeckError(500, 'Operation not allowed. This board is archived.'); };
  function touchBoard(boardId) { const b = boards.get(boardId); if (b) b.lastModified = now(); }
  function touchCard(c) { c.lastModified = now(); const s = stacks.get(c.stackId); if (s) { s.lastModified = now(); touchBoard(s.boardId); } }

  // ---- services ---------------------------------------------------------------------------------

  function createBoard(uid, title, color) {
    check('board', { title, userId: uid, color });
    const t = now();
    const b = { id: newId(), title, owner: uid, color, archived: false, deletedAt: 0, lastModified: t };
    boards.set(b.id, b);
    for (const [c, name] of [['31CC7C', 'Finished'], ['317CCC', 'To review'], ['FF7A66', 'Action needed'], ['F1DB50', 'Later']]) {
      const l = { id: newId(), title: name, color: c, boardId: b.id, lastModified: t };
      labels.set(l.id, l);
    }
    const j = boardJson(b, uid, false);
    j.labels = boardLabels(b.id).map((l) => labelJson(l));
    return j;
  }

  function stacksWithCards(boardId, since) {
    return liveStacks(boardId).map((s) => stackJson(s, liveCards(s.id).filter((c) => c.lastModified > since).map((c) => cardJson(c, ENRICHED))));
  }
  /** CardMapper::findAll: not archived, not deleted, by order then id. */
  const liveCards = (stackId) => [...cards.values()].filter((c) => c.stackId === stackId && !c.archived && c.deletedAt === 0).sort((a, b) => a.order - b.order || a.id - b.id);

  function assignLabel(uid, cardId, labelId) {
    check('card', { cardId, labelId });
    checkPermission(uid, 'card', cardId, 'EDIT');
    checkPermission(uid, 'label', labelId, 'READ');
    const c = cards.get(Number(cardId));
    archivedGuard(boardIdOfCard(c.id));
    if (c.archived) throw new DeckError(500, 'Operation not allowed. This card is archived.');
    const l = labels.get(Number(labelId));
    if (l.boardId !== boardIdOfCard(c.id)) throw new DeckError(500, 'Operation not allowed. Label does not exist.');
    if (!cardLabels.has(c.id)) cardLabels.set(c.id, new Set());
    cardLabels.get(c.id).add(l.id);
    touchCard(c);
  }

  function assignUser(uid, cardId, userId, type) {
    check('assignment', { cardId, userId });
    if (![0, 1, 7].includes(type)) throw bad('Invalid type provided for assignemnt');
    checkPermission(uid, 'card', cardId, 'EDIT');
    const id = Number(cardId);
    if (cardAssignments(id).some((a) => a.participant === userId && a.type === type)) throw bad('The user is already assigned to the card');
    const b = boards.get(boardIdOfCard(id));
    const groupOrTeam = boardAcls(b.id).filter((a) => (a.type === 1 || a.type === 7) && a.participant === userId).length === 1;
    if (!boardUsers(b).includes(String(userId)) && !groupOrTeam) throw bad('The user is not part of the board');
    const a = { id: newId(), participant: String(userId), cardId: id, type };
    assignments.set(a.id, a);
    touchCard(cards.get(id));
    return assignmentJson(a);
  }

  // ---- the REST API -----------------------------------------------------------------------------

  const requestId = () => randomBytes(10).toString('base64url');
  function sendError(ctx, e, headers = {}) {
    if (e instanceof DeckError) return kit.sendJson(ctx, e.status, { status: e.status, message: e.message }, headers);
    const id = requestId();
    kit.log(`deck: internal error ${id}: ${e.message}`);
    return kit.sendJson(ctx, 500, { status: 500, message: `Internal server error: Please contact the server administrator if this error reappears multiple times, please include the request ID "${id}" below in your report.`, requestId: id }, headers);
  }

  /** Request::getParams: query < form POST < URL placeholders < JSON body (a broken JSON body is ignored). */
  async function readParams(ctx, urlParams) {
    let params = { ...Object.fromEntries(ctx.url.searchParams) };
    const ct = (ctx.req.headers['content-type'] ?? '').toLowerCase();
    const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(ctx.method) ? (await kit.readBody(ctx)).toString('utf8') : '';
    let json = null;
    if (/application\/(?:[a-z0-9.+-]*\+)?json/.test(ct)) {
      try { json = JSON.parse(body); } catch { json = null; }
      if (!json || typeof json !== 'object' || Array.isArray(json) || !Object.keys(json).length) json = null;
    }
    if (ct.includes('application/x-www-form-urlencoded') && body) {
      const form = Object.fromEntries(new URLSearchParams(body));
      if (ctx.method === 'POST') params = { ...params, ...form, ...urlParams };
      else params = { ...params, ...urlParams, ...form };
    } else {
      params = { ...params, ...urlParams, ...(json ?? {}) };
    }
    const get = (k, def = null) => (params[k] === null || params[k] === undefined ? def : params[k]);
    return { params, get };
  }

  const API_ROUTES = [
    [/^\/boards$/, [], { GET: 'boardIndex', POST: 'boardCreate' }],
    [/^\/boards\/([^/]+)$/, ['boardId'], { GET: 'boardGet', PUT: 'boardUpdate', DELETE: 'boardDelete' }],
    [/^\/boards\/([^/]+)\/undo_delete$/, ['boardId'], { POST: 'boardUndoDelete' }],
    [/^\/boards\/([^/]+)\/acl$/, ['boardId'], { POST: 'aclAdd' }],
    [/^\/boards\/([^/]+)\/acl\/([^/]+)$/, ['boardId', 'aclId'], { DELETE: 'aclDelete', PUT: 'aclUpdate' }],
    [/^\/boards\/([^/]+)\/stacks$/, ['boardId'], { GET: 'stackIndex', POST: 'stackCreate' }],
    [/^\/boards\/([^/]+)\/stacks\/archived$/, ['boardId'], { GET: 'stackArchived' }],
    [/^\/boards\/([^/]+)\/stacks\/([^/]+)$/, ['boardId', 'stackId'], { GET: 'stackGet', PUT: 'stackUpdate', DELETE: 'stackDelete' }],
    [/^\/boards\/([^/]+)\/stacks\/([^/]+)\/cards$/, ['boardId', 'stackId'], { POST: 'cardCreate' }],
    [/^\/boards\/([^/]+)\/stacks\/([^/]+)\/cards\/([^/]+)$/, ['boardId', 'stackId', 'cardId'], { GET: 'cardGet', PUT: 'cardUpdate', DELETE: 'cardDelete' }],
    [/^\/boards\/([^/]+)\/stacks\/([^/]+)\/cards\/([^/]+)\/(assignLabel|removeLabel|assignUser|unassignUser|reorder|archive|unarchive)$/, ['boardId', 'stackId', 'cardId', '_action'], { PUT: 'card_' }],
    [/^\/boards\/([^/]+)\/labels$/, ['boardId'], { POST: 'labelCreate' }],
    [/^\/boards\/([^/]+)\/labels\/([^/]+)$/, ['boardId', 'labelId'], { GET: 'labelGet', PUT: 'labelUpdate', DELETE: 'labelDelete' }],
  ];

  async function route(ctx, path) {
    const m = /^(?:\/index\.php)?\/apps\/deck\/api\/v([^/]+)(\/.*)$/.exec(path);
    if (!m) return false;
    const [, apiVersion, sub] = m;
    if (ctx.method === 'OPTIONS') { // board_api#preflighted_cors (ApiController::preflightedCors, @PublicPage)
      kit.send(ctx, 200, '', {
        'Access-Control-Allow-Origin': ctx.req.headers.origin ?? '*',
        'Access-Control-Allow-Methods': 'PUT, POST, GET, DELETE, PATCH',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept',
        'Access-Control-Max-Age': '1728000',
      });
      return true;
    }
    let action = null;
    let urlParams = null;
    for (const [re, names, methods] of API_ROUTES) {
      const mm = re.exec(sub);
      if (!mm) continue;
      const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
      if (!methods[method]) { kit.send(ctx, 405, ''); return true; }
      urlParams = { apiVersion };
      names.forEach((n, i) => { urlParams[n] = decodeURIComponent(mm[i + 1]); });
      action = methods[method] === 'card_' ? `card_${urlParams._action}` : methods[method];
      delete urlParams._action;
      break;
    }
    if (!action) return false;
    if (!(await kit.corsGate(ctx))) return true;
    ctx.user = ctx.user ?? await kit.authenticate(ctx);
    if (!ctx.user) { kit.sendJson(ctx, 401, { message: 'Current user is not logged in' }, { 'WWW-Authenticate': kit.challenge(false) }); return true; }
    const { params, get } = await readParams(ctx, urlParams);
    const headers = ctx.req.headers.origin ? { 'Access-Control-Allow-Origin': ctx.req.headers.origin } : {};
    try {
      const [status, data, etag] = api(action, ctx.user.id, get, params, ctx);
      kit.sendJson(ctx, status, data, { ...headers, ...(etag ? { ETag: `"${etag}"` } : {}) });
    } catch (e) {
      if (!(e instanceof DeckError) && !(e instanceof InternalError)) throw e;
      sendError(ctx, e, headers);
    }
    return true;
  }

  /** → [status, data, etag?]; throws DeckError / InternalError. */
  function api(action, uid, get, params, ctx) {
    const ok = (data, etag) => [200, data, etag];
    switch (action) {
      case 'boardIndex': {
        const details = toBool(get('details', false)) && get('details') !== 'false';
        const ims = ctx.req.headers['if-modified-since'] ?? '';
        let since = 0;
        if (ims !== '') {
          const t = Date.parse(ims);
          if (Number.isNaN(t)) throw new DeckError(500, 'Invalid If-Modified-Since header provided.');
          since = Math.floor(t / 1000);
        }
        const list = [...boards.values()].filter((b) => permissions(b, uid).PERMISSION_READ && b.lastModified > since).sort((a, b) => a.id - b.id);
        const data = list.map((b) => boardJson(b, uid, details));
        return ok(data, md5(JSON.stringify(list.map((b) => `${b.id}-${md5(String(b.lastModified))}`))));
      }
      case 'boardGet': {
        const id = get('boardId');
        if (!isNumeric(id)) throw new InternalError('BoardService::find(): Argument #1 ($boardId) must be of type int');
        checkPermission(uid, 'board', id, 'READ');
        const b = must(liveBoard(id));
        return ok(boardJson(b, uid, true), md5(String(b.lastModified)));
      }
      case 'boardCreate':
        return ok(createBoard(uid, get('title'), get('color')));
      case 'boardUpdate': {
        const id = get('boardId');
        const title = get('title');
        const color = get('color');
        const archived = get('archived', false);
        check('board', { id, title, color, archived });
        checkPermission(uid, 'board', id, 'MANAGE');
        const b = must(liveBoard(id));
        Object.assign(b, { title, color, archived });
        touchBoard(b.id);
        const j = boardJson(b, uid, true);
        return ok(j);
      }
      case 'boardDelete': {
        const id = get('boardId');
        check('board', { id });
        checkPermission(uid, 'board', id, 'MANAGE');
        const b = must(liveBoard(id));
        b.deletedAt = now();
        touchBoard(b.id);
        return ok(boardJson(b, uid, true));
      }
      case 'boardUndoDelete': {
        const id = get('boardId');
        check('board', { id });
        checkPermission(uid, 'board', id, 'MANAGE'); // a deleted board fails here (see checkPermission)
        const b = must(boards.get(Number(id)));
        b.deletedAt = 0;
        touchBoard(b.id);
        return ok(boardJson(b, uid, true));
      }
      case 'aclAdd': {
        const boardId = get('boardId');
        const type = get('type');
        const participant = get('participant');
        const [edit, share, manage] = [get('permissionEdit'), get('permissionShare'), get('permissionManage')];
        check('board', { boardId, type, participant, edit, share, manage });
        checkPermission(uid, 'board', boardId, 'SHARE');
        const b = boards.get(Number(boardId));
        const own = permissions(b, uid);
        const a = {
          id: newId(), boardId: b.id, type: toInt(type), participant: String(participant),
          permissionEdit: own.PERMISSION_MANAGE || own.PERMISSION_EDIT ? toBool(edit) : false,
          permissionShare: own.PERMISSION_MANAGE || own.PERMISSION_SHARE ? toBool(share) : false,
          permissionManage: own.PERMISSION_MANAGE ? toBool(manage) : false,
        };
        acls.set(a.id, a);
        touchBoard(b.id);
        return ok(aclJson(a));
      }
      case 'aclUpdate': {
        const id = get('aclId');
        const a = acls.get(Number(id));
        if (!a) throw denied();
        checkPermission(uid, 'board', a.boardId, 'SHARE');
        const own = permissions(boards.get(a.boardId), uid);
        if (own.PERMISSION_MANAGE || own.PERMISSION_EDIT) a.permissionEdit = toBool(get('permissionEdit'));
        if (own.PERMISSION_MANAGE || own.PERMISSION_SHARE) a.permissionShare = toBool(get('permissionShare'));
        if (own.PERMISSION_MANAGE) a.permissionManage = toBool(get('permissionManage'));
        touchBoard(a.boardId);
        return ok(aclJson(a));
      }
      case 'aclDelete': {
        const a = acls.get(Number(get('aclId')));
        if (!a) throw denied();
        checkPermission(uid, 'board', a.boardId, 'MANAGE');
        if (a.type === 0) {
          for (const [k, x] of assignments) if (x.participant === a.participant && x.type === 0 && boardIdOfCard(x.cardId) === a.boardId) assignments.delete(k);
        }
        acls.delete(a.id);
        touchBoard(a.boardId);
        return ok(aclJson(a));
      }
      case 'stackIndex': {
        const boardId = get('boardId');
        const ims = ctx.req.headers['if-modified-since'] ?? '';
        let since = 0;
        if (ims !== '') {
          const t = Date.parse(ims);
          if (Number.isNaN(t)) throw new DeckError(500, 'Invalid If-Modified-Since header provided.');
          since = Math.floor(t / 1000);
        }
        if (!isNumeric(boardId)) throw bad('boardId must be a number');
        checkPermission(uid, 'board', boardId, 'READ');
        return ok(stacksWithCards(Number(boardId), since));
      }
      case 'stackArchived': {
        const boardId = get('boardId');
        if (!isNumeric(boardId)) throw bad('board id must be a number');
        checkPermission(uid, 'board', boardId, 'READ');
        return ok(liveStacks(Number(boardId)).map((s) => stackJson(s, [...cards.values()]
          .filter((c) => c.stackId === s.id && c.archived && c.deletedAt === 0).sort((a, b) => a.order - b.order || a.id - b.id)
          .map((c) => { const l = assignedLabels(c.id); return cardJson(c, { labels: l.length ? l : null, attachmentCount: true }); }))));
      }
      case 'stackGet': {
        const id = get('stackId');
        if (!isNumeric(id)) throw bad('stack id must be a number');
        checkPermission(uid, 'stack', id, 'READ');
        const s = must(stacks.get(Number(id)));
        const list = liveCards(s.id).map((c) => cardJson(c, { details: true, assigned: true, attachmentCount: true }));
        return ok(stackJson(s, list), md5(String(s.lastModified)));
      }
      case 'stackCreate': {
        const title = get('title');
        const boardId = get('boardId');
        const order = get('order');
        check('stack', { title, boardId, order });
        checkPermission(uid, 'board', boardId, 'MANAGE');
        archivedGuard(Number(boardId));
        const s = { id: newId(), title, boardId: Number(boardId), deletedAt: 0, lastModified: now(), order: toInt(order) };
        stacks.set(s.id, s);
        touchBoard(s.boardId);
        return ok(stackJson(s));
      }
      case 'stackUpdate': {
        const id = get('stackId');
        const title = get('title');
        const boardId = get('boardId');
        const order = get('order');
        check('stack', { id, title, boardId, order });
        checkPermission(uid, 'stack', id, 'MANAGE');
        checkPermission(uid, 'board', boardId, 'MANAGE');
        archivedGuard(boardIdOfStack(id));
        const s = must(stacks.get(Number(id)));
        Object.assign(s, { title, boardId: Number(boardId), order: toInt(order), deletedAt: 0, lastModified: now() });
        touchBoard(s.boardId);
        return ok(stackJson(s));
      }
      case 'stackDelete': {
        const id = get('stackId');
        if (!isNumeric(id)) throw bad('stack id must be a number');
        checkPermission(uid, 'stack', id, 'MANAGE');
        const s = must(stacks.get(Number(id)));
        s.deletedAt = now();
        s.lastModified = now();
        touchBoard(s.boardId);
        return ok(stackJson(s, liveCards(s.id).map((c) => cardJson(c, ENRICHED))));
      }
      case 'cardGet': {
        const id = get('cardId');
        if (!isNumeric(id)) throw new InternalError('CardService::find(): Argument #1 ($cardId) must be of type int');
        checkPermission(uid, 'card', id, 'READ');
        const c = must(cards.get(Math.trunc(Number(id))));
        return ok(cardJson(c, { ...ENRICHED, attachments: [] }), md5(String(c.lastModified)));
      }
      case 'cardCreate': {
        const title = get('title');
        const stackId = get('stackId');
        const type = get('type', 'plain');
        const order = get('order', 999);
        const description = get('description', '');
        const duedate = get('duedate');
        check('card', { title, stackId, type, order, owner: uid });
        checkPermission(uid, 'stack', stackId, 'EDIT');
        archivedGuard(boardIdOfStack(stackId));
        const t = now();
        const c = {
          id: newId(), title: String(title), description: description === null ? null : String(description), descriptionPrev: null,
          stackId: Number(stackId), type: String(type), lastModified: t, lastEditor: null, createdAt: t, owner: uid,
          order: toInt(order), archived: false, done: null, duedate: duedate ? parseDate(duedate) : null, notified: false, deletedAt: 0,
        };
        cards.set(c.id, c);
        touchCard(c);
        const result = cardJson(c, ENRICHED);
        for (const labelId of Array.isArray(get('labels', [])) ? get('labels', []) : []) assignLabel(uid, c.id, labelId);
        for (const u of Array.isArray(get('users', [])) ? get('users', []) : []) assignUser(uid, c.id, u?.id, toInt(u?.type ?? 0));
        return ok(result);
      }
      case 'cardUpdate': {
        const id = get('cardId');
        const title = get('title');
        const stackId = get('stackId');
        const type = get('type');
        const owner = get('owner');
        const description = get('description', '');
        const order = get('order', 0);
        const duedate = get('duedate');
        const archived = get('archived');
        const hasDone = Object.prototype.hasOwnProperty.call(params, 'done');
        check('card', { id, title, stackId, type, owner, order });
        checkPermission(uid, 'card', id, 'EDIT', { allowDeletedCard: true });
        checkPermission(uid, 'stack', stackId, 'EDIT');
        archivedGuard(boardIdOfCard(id));
        const c = must(cards.get(Number(id)));
        if (archived !== null && c.archived && archived === true) throw new DeckError(500, 'Operation not allowed. This card is archived.');
        const oldBoard = boardIdOfCard(c.id);
        const due = duedate ? parseDate(duedate) : null;
        if (c.lastEditor !== uid && c.lastEditor !== null) { c.descriptionPrev = c.description; c.lastEditor = uid; }
        Object.assign(c, { title: String(title), stackId: Number(stackId), type: String(type), order: toInt(order) });
        if (due === null || due !== c.duedate) c.notified = false;
        c.duedate = due;
        c.deletedAt = 0;
        if (archived !== null) c.archived = Boolean(archived);
        c.done = hasDone && params.done !== null && params.done !== undefined && params.done !== '' ? parseDate(params.done) : null;
        if (c.descriptionPrev === null) c.descriptionPrev = c.description;
        c.description = description === null ? null : String(description);
        touchCard(c);
        const newBoard = boardIdOfCard(c.id);
        if (newBoard !== oldBoard) { // labels follow by title into the new board, else are copied (if allowed)
          const moved = [...(cardLabels.get(c.id) ?? [])].map((l) => labels.get(l)).filter(Boolean);
          cardLabels.delete(c.id);
          for (const l of moved) {
            let target = boardLabels(newBoard).find((x) => x.title === l.title);
            if (!target && permissions(boards.get(newBoard), uid).PERMISSION_MANAGE) {
              target = { id: newId(), title: l.title, color: l.color, boardId: newBoard, lastModified: now() };
              labels.set(target.id, target);
            }
            if (target) { if (!cardLabels.has(c.id)) cardLabels.set(c.id, new Set()); cardLabels.get(c.id).add(target.id); }
          }
        }
        const result = cardJson(c, ENRICHED);
        c.lastEditor = uid; // ChangeHelper::cardChanged, after the answer was built
        return ok(result);
      }
      case 'cardDelete': {
        const id = get('cardId');
        if (!isNumeric(id)) throw bad('card id must be a number');
        checkPermission(uid, 'card', id, 'EDIT');
        archivedGuard(boardIdOfCard(id));
        const c = must(cards.get(Number(id)));
        c.deletedAt = now();
        touchCard(c);
        return ok(cardJson(c, MAPPED));
      }
      case 'card_assignLabel':
        assignLabel(uid, get('cardId'), get('labelId'));
        return ok(null);
      case 'card_removeLabel': {
        const cardId = get('cardId');
        const labelId = get('labelId');
        check('card', { cardId, labelId });
        checkPermission(uid, 'card', cardId, 'EDIT');
        checkPermission(uid, 'label', labelId, 'READ');
        archivedGuard(boardIdOfCard(cardId));
        const c = cards.get(Number(cardId));
        if (c.archived) throw new DeckError(500, 'Operation not allowed. This card is archived.');
        cardLabels.get(c.id)?.delete(Number(labelId));
        touchCard(c);
        return ok(null);
      }
      case 'card_assignUser':
        return ok(assignUser(uid, get('cardId'), get('userId'), toInt(get('type', 0))));
      case 'card_unassignUser': {
        const cardId = get('cardId');
        const userId = get('userId');
        const type = toInt(get('type', 0));
        check('assignment', { cardId, userId });
        checkPermission(uid, 'card', cardId, 'EDIT');
        const a = cardAssignments(Number(cardId)).find((x) => x.participant === userId && x.type === type);
        if (!a) throw new DeckError(404, `No assignment for ${userId}found.`);
        assignments.delete(a.id);
        touchCard(cards.get(Number(cardId)));
        return ok(assignmentJson(a));
      }
      case 'card_reorder': {
        const id = toInt(get('cardId'));
        const stackId = toInt(get('stackId'));
        const order = toInt(get('order'));
        checkPermission(uid, 'card', id, 'EDIT');
        checkPermission(uid, 'stack', stackId, 'EDIT');
        archivedGuard(boardIdOfCard(id));
        const c = must(cards.get(id));
        if (c.archived) throw new DeckError(500, 'Operation not allowed. This card is archived.');
        c.stackId = stackId;
        touchCard(c);
        const result = new Map();
        let i = 0;
        for (const x of liveCards(stackId)) {
          if (x.id === id) { x.order = order; x.lastModified = now(); }
          if (i === order) i += 1;
          if (x.id !== id) x.order = i++;
          result.set(x.order, x);
        }
        return ok([...result.values()].map((x) => cardJson(x)));
      }
      case 'card_archive':
      case 'card_unarchive': {
        const id = get('cardId');
        check('card', { id });
        checkPermission(uid, 'card', id, 'EDIT');
        archivedGuard(boardIdOfCard(id));
        const c = must(cards.get(Number(id)));
        c.archived = action === 'card_archive';
        touchCard(c);
        return ok(cardJson(c, MAPPED));
      }
      case 'labelGet': {
        const id = get('labelId');
        if (!isNumeric(id)) throw bad('label id must be a number');
        checkPermission(uid, 'label', id, 'READ');
        return ok(labelJson(must(labels.get(Number(id)))));
      }
      case 'labelCreate': {
        const title = get('title');
        const color = get('color');
        const boardId = get('boardId');
        check('label', { title, color, boardId });
        checkPermission(uid, 'board', boardId, 'MANAGE');
        if (boardLabels(Number(boardId)).some((l) => l.title === title)) throw bad('title must be unique');
        archivedGuard(Number(boardId));
        const l = { id: newId(), title, color, boardId: Number(boardId), lastModified: now() };
        labels.set(l.id, l);
        touchBoard(l.boardId);
        return ok(labelJson(l));
      }
      case 'labelUpdate': {
        const id = get('labelId');
        const title = get('title');
        const color = get('color');
        check('label', { title, color, id });
        checkPermission(uid, 'label', id, 'MANAGE');
        const l = must(labels.get(Number(id)));
        if (boardLabels(l.boardId).some((x) => x.id !== l.id && x.title === title)) throw bad('title must be unique');
        archivedGuard(l.boardId);
        Object.assign(l, { title, color, lastModified: now() });
        touchBoard(l.boardId);
        return ok(labelJson(l));
      }
      case 'labelDelete': {
        const id = get('labelId');
        check('label', { id });
        checkPermission(uid, 'label', id, 'MANAGE');
        const l = must(labels.get(Number(id)));
        archivedGuard(l.boardId);
        labels.delete(l.id);
        for (const set of cardLabels.values()) set.delete(l.id);
        touchBoard(l.boardId);
        return ok(labelJson(l));
      }
      default:
        throw new InternalError(`no action ${action}`);
    }
  }

  // ---- OCS: comments (CommentsApiController → CommentService) -------------------------------------

  const MAX_MESSAGE_LENGTH = 1000; // IComment::MAX_MESSAGE_LENGTH
  function mentionsOf(message) {
    const out = [];
    const re = /(^|\s)@(?:"([^"]+)"|([a-z0-9_\-@.']+))/gi;
    let m;
    while ((m = re.exec(message))) {
      const id = (m[2] ?? m[3]).replace(/^user\//, '');
      if (!out.some((x) => x.mentionId === id)) out.push({ mentionId: id, mentionType: 'user', mentionDisplayName: displayName(id) });
    }
    return out;
  }
  function commentJson(c, withReply) {
    const j = { id: c.id, objectId: c.cardId, message: c.message, actorId: c.actorId, actorType: 'users', actorDisplayName: displayName(c.actorId), creationDateTime: isoDate(c.created), mentions: mentionsOf(c.message) };
    const parent = c.parentId ? comments.get(c.parentId) : null;
    if (withReply && parent) j.replyTo = commentJson(parent, false);
    return j;
  }

  async function ocs(ctx, v, ocsRoute) {
    const m = /^\/apps\/deck\/api\/v([^/]+)\/cards\/([^/]+)\/comments(?:\/([^/]+))?$/.exec(ocsRoute);
    if (!m) return false;
    const action = m[3] === undefined ? { GET: 'list', POST: 'create' }[ctx.method] : { PUT: 'update', DELETE: 'delete' }[ctx.method];
    if (!action) return false;
    ctx.user = await kit.authenticate(ctx);
    if (!ctx.user) {
      ctx.res.setHeader('WWW-Authenticate', kit.challenge(false));
      kit.ocsSend(ctx, v, 401, 997, 'Current user is not logged in', []);
      return true;
    }
    if (ctx.req.headers['ocs-apirequest'] !== 'true' && ctx.authKind !== 'bearer') { kit.sendJson(ctx, 412, { message: 'CSRF check failed' }); return true; }
    const { get } = await readParams(ctx, { apiVersion: m[1], cardId: decodeURIComponent(m[2]), ...(m[3] !== undefined ? { commentId: decodeURIComponent(m[3]) } : {}) });
    const uid = ctx.user.id;
    const okCode = v === 1 ? 100 : 200;
    try {
      let data;
      switch (action) {
        case 'list': {
          const cardId = String(get('cardId'));
          if (!isNumeric(cardId)) throw bad('A valid card id must be provided');
          const limit = Math.min(200, toInt(get('limit', 20)));
          const offset = toInt(get('offset', 0));
          checkPermission(uid, 'card', cardId, 'READ');
          data = [...comments.values()].filter((c) => c.cardId === Number(cardId))
            .sort((a, b) => b.created - a.created || b.id - a.id).slice(offset, offset + Math.max(0, limit)).map((c) => commentJson(c, true));
          break;
        }
        case 'create': {
          const cardId = toInt(get('cardId'));
          const message = get('message');
          if (typeof message !== 'string' && typeof message !== 'number') throw new InternalError('CommentsApiController::create(): Argument #2 ($message) must be of type string, null given');
          const parentId = toInt(get('parentId', 0));
          checkPermission(uid, 'card', cardId, 'READ');
          if (parentId !== 0) {
            const p = comments.get(parentId);
            if (!p || p.cardId !== cardId) throw bad('Invalid parent id: The parent comment was not found or belongs to a different card');
          }
          const text = String(message).trim();
          if ([...text].length > MAX_MESSAGE_LENGTH) throw bad(`Message exceeds allowed character limit of ${MAX_MESSAGE_LENGTH}`);
          const c = { id: newId(), cardId, parentId, message: text, actorId: uid, created: now() };
          comments.set(c.id, c);
          data = commentJson(c, true);
          break;
        }
        case 'update':
        case 'delete': {
          const cardId = String(toInt(get('cardId')));
          const commentId = String(toInt(get('commentId')));
          checkPermission(uid, 'card', cardId, 'READ');
          const c = comments.get(Number(commentId));
          if (!c || c.cardId !== Number(cardId)) throw new DeckError(404, 'No comment found.');
          if (action === 'update' && c.parentId) checkPermission(uid, 'card', c.parentId, 'READ');
          if (c.actorId !== uid) throw new DeckError(403, 'Only authors are allowed to edit their comment.');
          if (action === 'delete') { comments.delete(c.id); data = []; break; }
          const message = get('message');
          if (typeof message !== 'string' && typeof message !== 'number') throw new InternalError('CommentsApiController::update(): Argument #3 ($message) must be of type string, null given');
          const text = String(message).trim();
          if ([...text].length > MAX_MESSAGE_LENGTH) throw new InternalError('MessageTooLongException');
          c.message = text;
          data = commentJson(c, false);
          break;
        }
        default:
          return false;
      }
      kit.ocsSend(ctx, v, 200, okCode, 'OK', data);
    } catch (e) {
      if (e instanceof DeckError) {
        // ExceptionMiddleware → OCSException(message, status) → OCSMiddleware: V2 answers with that
        // HTTP status, V1 with 200 (401 excepted); statuscode = status either way.
        kit.ocsSend(ctx, v, v === 1 && e.status !== 401 ? 200 : e.status, e.status, e.message, []);
      } else if (e instanceof InternalError) {
        sendError(ctx, e); // a plain JSON 500 (OCSMiddleware converts only 401/403 responses)
      } else {
        throw e;
      }
    }
    return true;
  }

  return {
    route,
    ocs,
    // lib/Capabilities.php (PermissionService::canCreate: false without a user; no group limit here).
    capabilities: (user) => ({ deck: { version: DECK_VERSION, canCreateBoards: Boolean(user), apiVersions: ['1.0', '1.1'] } }),
  };
}
