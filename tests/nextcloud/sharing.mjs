// The stand-in's imitation of file sharing's OCS API (nextcloud/server apps/files_sharing), written
// from these files of nextcloud/server (none of their code is copied):
//   - apps/files_sharing/lib/Controller/ShareAPIController.php (a 2024+ version: #[NoAdminRequired]
//     OCSController methods, no #[CORS]): getShares, getShare, createShare, updateShare,
//     deleteShare, formatShare, canAccessShare/canEditShare/canDeleteShare, parseDate,
//     getLinkSharePermissions/validateLinkSharePermissions, their messages and OCS codes;
//   - apps/files_sharing/appinfo/routes.php (the /api/v1/shares routes);
//   - apps/files_sharing/lib/Capabilities.php (the `files_sharing` capability, default settings);
//   - lib/private/Share20/Manager.php: generalCreateChecks ("Cannot share with yourself", "You
//     cannot share your root folder", "Shares need at least read permissions"), userCreateChecks
//     ("Sharing %s failed, because this item is already shared with the account %s"),
//     validateExpirationDateLink/Internal ("Expiration date is in the past", HintException code
//     404), verifyPassword (policy failures wrapped as 400);
//   - ocs/v1.php and the OCS middleware for the envelopes (kit.ocsSend).
// Settings are Nextcloud's defaults: sharing on, links on, public upload on, no password or expiry
// enforcement, group sharing on (but the stand-in knows no groups), resharing on, federation
// (outgoing) on — hence PERMISSION_SHARE (16) on read link shares, as getLinkSharePermissions adds
// it — and the password_policy app's default minimum length of 10 (apps/password_policy, not
// re-read: message "Password needs to be at least 10 characters long.").
// Files and folders are REAL: the path, its type, file id, mime type, size and mtime come from the
// stand-in's sabre/dav (PROPFIND as the user through kit.state.davFetch). Shares live in memory.
// Not imitated: federated/team/room/deck shares (type 6, 7, 9, 10, 12 → "Unknown share type" is NOT
// what Nextcloud says; they answer 403 here, see createShare), mails, locking, share attributes
// beyond `hideDownload`, reshares by recipients, sharees search, inherited/pending/deleted shares,
// include_tags, custom tokens, Talk password sending.
import { createHash, randomBytes, randomInt } from 'node:crypto';

const PERM = { READ: 1, UPDATE: 2, CREATE: 4, DELETE: 8, SHARE: 16, ALL: 31 };
const TYPE = { USER: 0, GROUP: 1, LINK: 3, EMAIL: 4, REMOTE: 6, CIRCLE: 7, REMOTE_GROUP: 9, ROOM: 10, DECK: 12, SCIENCEMESH: 15 };
/** ISecureRandom::CHAR_HUMAN_READABLE, what share tokens are made of (15 characters). */
const TOKEN_CHARS = 'abcdefgijkmnopqrstwxyzABCDEFGHJKLMNPQRSTWXYZ23456789';
const MIN_PASSWORD = 10;

class OcsError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

/** PHP's settype($v, 'int') for a request value: leading integer digits, else 0. */
function phpInt(v) {
  if (typeof v === 'number') return Math.trunc(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  const m = /^\s*([+-]?\d+)/.exec(String(v));
  return m ? Number(m[1]) : 0;
}
/** PHP's settype($v, 'string'): true → "1", false → "". */
function phpString(v) {
  if (v === true) return '1';
  if (v === false) return '';
  if (typeof v === 'object') return 'Array';
  return String(v);
}

/** The user-folder-relative path Nextcloud uses: leading slash, no trailing one, '' for the root. */
function normalisePath(p) {
  const parts = String(p).split('/').filter((s) => s && s !== '.');
  return parts.length ? `/${parts.join('/')}` : '';
}
const encPath = (p) => p.split('/').map(encodeURIComponent).join('/');

/** DAV permission letters (apps/dav Node::getDavPermissions) → OCP\Constants bits. */
function davPermissionsToInt(s, isFolder) {
  let p = 0;
  if (s.includes('G')) p |= PERM.READ;
  if (s.includes('W') || s.includes('N') || s.includes('V')) p |= PERM.UPDATE;
  if (isFolder && (s.includes('C') || s.includes('K'))) p |= PERM.CREATE;
  if (s.includes('D')) p |= PERM.DELETE;
  if (s.includes('R')) p |= PERM.SHARE;
  return p;
}

const PROPFIND_BODY = '<?xml version="1.0"?><d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop>'
  + '<d:resourcetype/><d:getcontenttype/><d:getlastmodified/><oc:fileid/><oc:size/><oc:permissions/></d:prop></d:propfind>';

function xmlProp(xml, local) {
  const m = new RegExp(`<[a-zA-Z0-9]+:${local}(?:\\s[^>]*)?>([\\s\\S]*?)</[a-zA-Z0-9]+:${local}>`).exec(xml);
  return m ? m[1].replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&') : null;
}

/**
 * `kit`: the stand-in's plumbing (see appKit in standin.mjs). Answers /ocs/v{1,2}.php/apps/
 * files_sharing/api/v1/shares[/{id}] and gives the `files_sharing` capability.
 */
export function sharingApp(kit) {
  const shares = new Map(); // id (number) → share
  let nextId = 1;

  /** The node at `path` in `user`'s files (real sabre/dav), or null. */
  async function node(user, path) {
    const p = normalisePath(path);
    let r;
    try {
      r = await kit.state.davFetch(user, `files/${encodeURIComponent(user)}${encPath(p)}${p ? '' : '/'}`, { method: 'PROPFIND', headers: { depth: '0', 'content-type': 'application/xml' }, body: PROPFIND_BODY });
    } catch (e) {
      kit.log(`files_sharing: sabre/dav unreachable: ${e.message}`);
      return null;
    }
    const xml = await r.text();
    if (r.status !== 207) return null;
    const isFolder = /<d:collection\s*\/>/.test(xmlProp(xml, 'resourcetype') ?? '');
    const mtime = Date.parse(xmlProp(xml, 'getlastmodified') ?? '');
    return {
      path: p,
      name: p.split('/').pop() ?? '',
      isFolder,
      fileId: Number(xmlProp(xml, 'fileid')),
      mimetype: isFolder ? 'httpd/unix-directory' : (xmlProp(xml, 'getcontenttype') ?? 'application/octet-stream'),
      size: Number(xmlProp(xml, 'size') ?? 0),
      mtime: Number.isFinite(mtime) ? Math.floor(mtime / 1000) : 0,
      permissions: davPermissionsToInt(xmlProp(xml, 'permissions') ?? '', isFolder),
    };
  }

  /** IUserManager::userExists, for the users this stand-in knows (seen, or with an app password). */
  const userExists = (id) => kit.userExists(id);
  const displayName = (id) => (kit.state.users().includes(id) ? kit.getUser(id).displayName : id);

  function hashPassword(pw) {
    const salt = randomBytes(16).toString('base64').replace(/=+$/, '');
    return `3|$argon2id$v=19$m=65536,t=4,p=1$${salt}$${createHash('sha256').update(salt + pw).digest('base64').replace(/=+$/, '')}`;
  }
  const token = () => Array.from({ length: 15 }, () => TOKEN_CHARS[randomInt(TOKEN_CHARS.length)]).join('');

  /** ShareAPIController::parseDate: YYYY-MM-DD (PHP DateTime also takes a time part), midnight. */
  function parseDate(s) {
    const m = /^(\d{4})-(\d{2})-(\d{2})(?:[T ][0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.exec(String(s).replace(/^"+|"+$/g, '').trim());
    const d = m && new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
    if (!d || d.getUTCMonth() !== Number(m[2]) - 1 || d.getUTCDate() !== Number(m[3])) throw new OcsError(404, 'Invalid date. Format must be YYYY-MM-DD');
    return `${m[1]}-${m[2]}-${m[3]}`;
  }
  function todayUtc() {
    const d = new Date(kit.clock());
    return d.toISOString().slice(0, 10);
  }
  /** Manager::validateExpirationDate*: a date must be after today (server timezone UTC). */
  function checkExpiration(date) {
    if (date !== null && date <= todayUtc()) throw new OcsError(404, 'Expiration date is in the past');
  }
  function verifyPassword(pw) {
    if ([...pw].length < MIN_PASSWORD) throw new OcsError(400, `Password needs to be at least ${MIN_PASSWORD} characters long.`);
  }

  /** formatShare for `viewer` (the owner sees their path, a recipient the share's target). */
  async function formatShare(share, viewer) {
    const own = share.owner === viewer;
    const n = await node(share.owner, share.path);
    if (!n || n.fileId !== share.fileId) return null; // the node is gone: the share is ignored
    const parent = n.path ? await node(share.owner, n.path.split('/').slice(0, -1).join('/')) : null;
    const ownerName = displayName(share.owner);
    const r = {
      id: String(share.id),
      share_type: share.type,
      uid_owner: share.owner,
      displayname_owner: ownerName,
      permissions: share.permissions,
      can_edit: own,
      can_delete: own || (share.type === TYPE.USER && share.shareWith === viewer),
      stime: share.stime,
      parent: null,
      expiration: null,
      token: null,
      uid_file_owner: share.owner,
      note: share.note,
      label: share.label,
      displayname_file_owner: ownerName,
      path: own ? n.path : share.target,
      item_type: n.isFolder ? 'folder' : 'file',
      item_permissions: own ? n.permissions : share.permissions | (share.type === TYPE.USER ? PERM.DELETE : 0),
      'is-mount-root': !own,
      'mount-type': own ? '' : 'shared',
      mimetype: n.mimetype,
      has_preview: false,
      storage_id: `home::${share.owner}`,
      storage: 1,
      item_source: n.fileId,
      file_source: n.fileId,
      file_parent: parent?.fileId ?? null,
      file_target: share.target,
      item_size: n.size,
      item_mtime: n.mtime,
    };
    if (share.expiration) r.expiration = `${share.expiration} 00:00:00`;
    if (share.type === TYPE.USER) {
      r.share_with = share.shareWith;
      r.share_with_displayname = displayName(share.shareWith);
      r.share_with_displayname_unique = (kit.state.users().includes(share.shareWith) && kit.getUser(share.shareWith).email) || share.shareWith;
    } else if (share.type === TYPE.LINK) {
      r.share_with = share.password;
      r.share_with_displayname = '(Shared link)';
      r.password = share.password;
      r.send_password_by_talk = false;
      r.token = share.token;
      r.url = `${kit.base()}/s/${share.token}`;
    } else if (share.type === TYPE.EMAIL) {
      r.share_with = share.shareWith;
      r.password = share.password;
      r.password_expiration_time = null;
      r.send_password_by_talk = false;
      r.share_with_displayname = share.shareWith;
      r.token = share.token;
    }
    r.mail_send = share.mailSend ? 1 : 0;
    r.hide_download = share.hideDownload ? 1 : 0;
    r.attributes = share.hideDownload !== null ? JSON.stringify([{ scope: 'permissions', key: 'download', value: !share.hideDownload }]) : null;
    return r;
  }

  const canAccess = (s, viewer) => s.permissions !== 0 && (s.owner === viewer || (s.type === TYPE.USER && s.shareWith === viewer));

  async function formatAll(list, viewer) {
    const out = [];
    for (const s of list) {
      const f = await formatShare(s, viewer);
      if (f) out.push(f);
    }
    return out;
  }

  // ---- the controller methods ---------------------------------------------------------------

  async function getShares(u, p) {
    const str = (k, d) => (p[k] === undefined || p[k] === null ? d : phpString(p[k]));
    const path = str('path', '');
    let n = null;
    if (path !== '') {
      n = await node(u.id, path);
      if (!n) throw new OcsError(404, 'Wrong path, file/folder does not exist');
    }
    if (str('shared_with_me', 'false') === 'true') {
      const list = [...shares.values()].filter((s) => s.type === TYPE.USER && s.shareWith === u.id && s.owner !== u.id && (!n || s.target === n.path));
      return formatAll(list, u.id);
    }
    if (str('subfiles', 'false') === 'true') {
      if (!n || !n.isFolder) throw new OcsError(400, 'Not a directory');
      const prefix = `${n.path}/`;
      const list = [...shares.values()].filter((s) => s.owner === u.id && s.path.startsWith(prefix) && !s.path.slice(prefix.length).includes('/'));
      return formatAll(list, u.id);
    }
    // getSharesBy(viewer, type, node, reshares): the viewer's own shares (this stand-in has no
    // reshares, so `reshares` changes nothing), of one node when a path is given.
    const list = [...shares.values()].filter((s) => s.owner === u.id && (!n || s.fileId === n.fileId));
    return formatAll(list, u.id);
  }

  async function getOne(u, id) {
    const s = shares.get(Number(id));
    if (!s || !/^\d+$/.test(id) || !canAccess(s, u.id)) throw new OcsError(404, 'Wrong share ID, share does not exist');
    const f = await formatShare(s, u.id);
    if (!f) throw new OcsError(404, 'Wrong share ID, share does not exist');
    return [f];
  }

  async function createShare(u, p) {
    const has = (k) => p[k] !== undefined && p[k] !== null;
    const path = has('path') ? phpString(p.path) : null;
    let permissions = has('permissions') ? phpInt(p.permissions) : null;
    const shareType = has('shareType') ? phpInt(p.shareType) : -1;
    const shareWith = has('shareWith') ? phpString(p.shareWith) : null;
    const publicUpload = has('publicUpload') ? phpString(p.publicUpload) : null;
    const password = has('password') ? phpString(p.password) : '';
    const expireDate = has('expireDate') ? phpString(p.expireDate) : null;
    const note = has('note') ? phpString(p.note) : '';
    const label = has('label') ? phpString(p.label) : '';
    const sendMail = has('sendMail') ? phpString(p.sendMail) : null;
    const legacyUpload = publicUpload === 'true' ? true : publicUpload === 'false' ? false : null;

    if (path === null) throw new OcsError(404, 'Please specify a file or folder path');
    const n = await node(u.id, path);
    if (!n) throw new OcsError(404, 'Wrong path, file/folder does not exist');

    const isLinkLike = shareType === TYPE.LINK || shareType === TYPE.EMAIL;
    if (isLinkLike) {
      permissions = permissions ?? PERM.READ;
      if (legacyUpload !== null) permissions = legacyUpload ? PERM.READ | PERM.CREATE | PERM.UPDATE | PERM.DELETE : PERM.READ;
      if ((permissions & PERM.READ) === PERM.READ) permissions |= PERM.SHARE; // federation's outgoing sharing is on
      validateLinkPermissions(n, permissions, legacyUpload);
    } else {
      permissions = (permissions ?? PERM.ALL) | PERM.READ;
    }
    if (!n.isFolder) permissions &= ~(PERM.DELETE | PERM.CREATE);

    let expiration = null;
    if (expireDate !== null && expireDate !== '') expiration = parseDate(expireDate);
    const mailSend = sendMail === null ? (shareType === TYPE.EMAIL && shareWith !== null && shareWith !== '') : sendMail === 'true';
    const share = {
      id: 0, type: shareType, owner: u.id, path: n.path, fileId: n.fileId, target: `/${n.name}`, permissions,
      shareWith: null, password: null, token: null, expiration, note, label: '', hideDownload: null, mailSend, stime: Math.floor(kit.clock() / 1000),
    };
    if (shareType === TYPE.USER) {
      if (shareWith === null || !userExists(shareWith)) throw new OcsError(404, 'Please specify a valid account to share with');
      share.shareWith = shareWith;
    } else if (shareType === TYPE.GROUP) {
      throw new OcsError(404, 'Please specify a valid group'); // the stand-in has no groups
    } else if (isLinkLike) {
      if (password !== '') share.password = password;
      if (typeof shareWith === 'string' && shareType === TYPE.EMAIL) {
        if (mailSend && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(shareWith)) throw new OcsError(404, 'Please specify a valid email address');
        share.shareWith = shareWith;
      }
      if (label !== '') {
        if (Buffer.byteLength(label) > 255) throw new OcsError(400, 'Maximum label length is 255');
        share.label = label;
      }
    } else if ([TYPE.REMOTE, TYPE.REMOTE_GROUP, TYPE.CIRCLE, TYPE.ROOM, TYPE.DECK, TYPE.SCIENCEMESH].includes(shareType)) {
      throw new OcsError(403, `Sharing ${n.name} failed because the back end does not support this share type in the stand-in`);
    } else {
      throw new OcsError(400, 'Unknown share type');
    }

    // Manager::createShare: generalCreateChecks, type checks, expiration, password.
    if (shareType === TYPE.USER && shareWith === u.id) throw new OcsError(403, 'Cannot share with yourself');
    if (n.path === '') throw new OcsError(403, 'You cannot share your root folder');
    if (permissions < 0 || permissions > PERM.ALL) throw new OcsError(403, 'Valid permissions are required for sharing');
    if (permissions & ~n.permissions) throw new OcsError(404, `Cannot increase permissions of ${n.path}`);
    if (!isLinkLike && (permissions & PERM.READ) === 0) throw new OcsError(403, 'Shares need at least read permissions');
    if (shareType === TYPE.EMAIL && share.shareWith === null) throw new OcsError(403, 'Share recipient should not be empty');
    if (shareType === TYPE.USER) {
      const dup = [...shares.values()].some((s) => s.type === TYPE.USER && s.fileId === n.fileId && s.shareWith === shareWith);
      if (dup) throw new OcsError(403, `Sharing ${n.name} failed, because this item is already shared with the account ${displayName(shareWith)}`);
    }
    checkExpiration(share.expiration);
    if (isLinkLike && share.password !== null) {
      verifyPassword(share.password);
      share.password = hashPassword(share.password);
    }
    if (isLinkLike) share.token = token();
    if (note !== '') share.note = note;
    share.id = nextId++;
    shares.set(share.id, share);
    kit.log(`files_sharing: ${u.id} shared ${n.path} (type ${shareType}) as ${share.id}`);
    return formatShare(share, u.id);
  }

  function validateLinkPermissions(n, permissions, legacyUpload) {
    if (legacyUpload && !n.isFolder) throw new OcsError(400, 'Public upload is only possible for publicly shared folders');
    if ((permissions & PERM.READ) === 0 && (permissions & PERM.CREATE) === 0) throw new OcsError(400, 'Share must at least have READ or CREATE permissions');
    if ((permissions & PERM.READ) === 0 && (permissions & (PERM.UPDATE | PERM.DELETE))) throw new OcsError(400, 'Share must have READ permission if UPDATE or DELETE permission is set');
  }

  async function updateShare(u, id, p) {
    const s = /^\d+$/.test(id) ? shares.get(Number(id)) : undefined;
    if (!s || !canAccess(s, u.id)) throw new OcsError(404, 'Wrong share ID, share does not exist');
    if (s.owner !== u.id) throw new OcsError(403, 'You are not allowed to edit incoming shares');
    const get = (k) => (p[k] === undefined || p[k] === null ? null : phpString(p[k]));
    const permissionsRaw = p.permissions === undefined || p.permissions === null ? null : phpInt(p.permissions);
    const f = {
      password: get('password'), sendPasswordByTalk: get('sendPasswordByTalk'), publicUpload: get('publicUpload'), expireDate: get('expireDate'),
      note: get('note'), label: get('label'), hideDownload: get('hideDownload'), attributes: get('attributes'), sendMail: get('sendMail'), token: get('token'),
    };
    if (permissionsRaw === null && Object.values(f).every((v) => v === null)) throw new OcsError(400, 'Wrong or no update parameter given');
    const n = await node(s.owner, s.path);
    if (!n || n.fileId !== s.fileId) throw new OcsError(404, 'Wrong share ID, share does not exist');
    const next = { ...s };
    if (f.note !== null) next.note = f.note;
    if (f.sendMail === 'true' || f.sendMail === 'false') next.mailSend = f.sendMail === 'true';
    let newPassword = null;
    if (s.type === TYPE.LINK || s.type === TYPE.EMAIL) {
      if (f.hideDownload === 'true') next.hideDownload = true;
      else if (f.hideDownload === 'false') next.hideDownload = false;
      else if (next.hideDownload === null) next.hideDownload = false; // setAttributes(getAttributes() ?? newAttributes())
      if (permissionsRaw !== null || f.publicUpload !== null) {
        const legacy = f.publicUpload === 'true' ? true : f.publicUpload === 'false' ? false : null;
        let perms = permissionsRaw ?? PERM.READ;
        if (legacy !== null) perms = legacy ? PERM.READ | PERM.CREATE | PERM.UPDATE | PERM.DELETE : PERM.READ;
        if ((perms & PERM.READ) === PERM.READ) perms |= PERM.SHARE;
        validateLinkPermissions(n, perms, legacy);
        next.permissions = perms;
      }
      if (f.password === '') next.password = null;
      else if (f.password !== null) newPassword = f.password;
      if (f.label !== null) {
        if (Buffer.byteLength(f.label) > 255) throw new OcsError(400, 'Maximum label length is 255');
        next.label = f.label;
      }
      if (f.token !== null) {
        // Manager::allowCustomTokens: off by default.
        throw new OcsError(403, 'Custom share link tokens have been disabled by the administrator');
      }
    } else if (permissionsRaw !== null) {
      next.permissions = permissionsRaw;
    }
    if (f.expireDate === '') next.expiration = null;
    else if (f.expireDate !== null) {
      try { next.expiration = parseDate(f.expireDate); } catch (e) { throw new OcsError(400, e.message); }
    }
    // Manager::updateShare → generalCreateChecks(isUpdate): InvalidArgumentException is not a
    // HintException, so the controller turns it into 400 "Failed to update share.".
    if (next.permissions < 0 || next.permissions > PERM.ALL || (!n.isFolder && next.permissions & (PERM.CREATE | PERM.DELETE))) throw new OcsError(400, 'Failed to update share.');
    if (next.permissions & ~n.permissions) throw new OcsError(404, `Cannot increase permissions of ${n.path}`);
    if (s.type !== TYPE.LINK && s.type !== TYPE.EMAIL && (next.permissions & PERM.READ) === 0) throw new OcsError(400, 'Failed to update share.');
    if (next.expiration !== s.expiration) checkExpiration(next.expiration);
    if (newPassword !== null) {
      verifyPassword(newPassword);
      next.password = hashPassword(newPassword);
    }
    Object.assign(s, next);
    return formatShare(s, u.id);
  }

  function deleteShare(u, id) {
    const s = /^\d+$/.test(id) ? shares.get(Number(id)) : undefined;
    if (!s || !canAccess(s, u.id)) throw new OcsError(404, 'Wrong share ID, share does not exist');
    const canDelete = s.owner === u.id || (s.type === TYPE.USER && s.shareWith === u.id);
    if (!canDelete) throw new OcsError(403, 'Could not delete share');
    shares.delete(s.id);
    return [];
  }

  // ---- request plumbing ---------------------------------------------------------------------

  /** IRequest's parameters: the query string, then a form or JSON body (POST/PUT/PATCH). */
  async function params(ctx) {
    const p = Object.fromEntries(ctx.url.searchParams);
    if (!['POST', 'PUT', 'PATCH', 'DELETE'].includes(ctx.method)) return p;
    const body = await kit.readBody(ctx);
    if (!body.length) return p;
    const ct = (ctx.req.headers['content-type'] ?? '').toLowerCase();
    if (/^application\/(?:[a-z.+-]*\+)?json\b/.test(ct)) {
      try {
        const parsed = JSON.parse(body.toString('utf8'));
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(p, parsed);
      } catch { /* Nextcloud's Request ignores a body it cannot decode */ }
    } else if (ct.startsWith('application/x-www-form-urlencoded')) {
      Object.assign(p, Object.fromEntries(new URLSearchParams(body.toString('utf8'))));
    }
    return p;
  }

  async function ocs(ctx, v, route) {
    const m = /^\/apps\/files_sharing\/api\/v1\/shares(?:\/([^/]+))?$/.exec(route);
    if (!m) return false;
    const id = m[1] === undefined ? null : decodeURIComponent(m[1]);
    const action = id === null ? { GET: 'list', POST: 'create' }[ctx.method] : { GET: 'get', PUT: 'update', DELETE: 'delete' }[ctx.method];
    if (!action) { kit.send(ctx, 405, ''); return true; }
    ctx.user = await kit.authenticate(ctx);
    if (!ctx.user) {
      ctx.res.setHeader('WWW-Authenticate', kit.challenge(false));
      kit.ocsSend(ctx, v, 401, 997, 'Current user is not logged in', []);
      return true;
    }
    // SecurityMiddleware: OCS controllers pass the CSRF check with OCS-APIRequest: true or Bearer.
    if (ctx.req.headers['ocs-apirequest'] !== 'true' && ctx.authKind !== 'bearer') { kit.sendJson(ctx, 412, { message: 'CSRF check failed' }); return true; }
    const p = await params(ctx);
    try {
      let data;
      if (action === 'list') data = await getShares(ctx.user, p);
      else if (action === 'get') data = await getOne(ctx.user, id);
      else if (action === 'create') data = await createShare(ctx.user, p);
      else if (action === 'update') data = await updateShare(ctx.user, id, p);
      else data = deleteShare(ctx.user, id);
      kit.ocsSend(ctx, v, 200, v === 1 ? 100 : 200, 'OK', data);
    } catch (e) {
      if (!(e instanceof OcsError)) throw e;
      // OCSMiddleware: v2 answers with the exception's code as HTTP status, v1 with 200.
      kit.ocsSend(ctx, v, v === 1 ? 200 : e.code, e.code, e.message, []);
    }
    return true;
  }

  /** Capabilities::getCapabilities with Nextcloud's default settings. */
  function capabilities() {
    return {
      files_sharing: {
        api_enabled: true,
        public: {
          enabled: true,
          password: { enforced: false, askForOptionalPassword: false },
          expire_date: { enabled: false },
          multiple_links: true,
          expire_date_internal: { enabled: false },
          expire_date_remote: { enabled: false },
          send_mail: false,
          upload: true,
          upload_files_drop: true,
          custom_tokens: false,
        },
        resharing: true,
        user: { send_mail: false, expire_date: { enabled: true } },
        group_sharing: true,
        group: { enabled: true, expire_date: { enabled: true } },
        default_permissions: PERM.ALL,
        exclude_reshare_from_edit: false,
        federation: { outgoing: true, incoming: true, expire_date: { enabled: true }, expire_date_supported: { enabled: true } },
        sharee: { minSearchStringLength: 0, query_lookup_default: false, always_show_unique: true },
      },
    };
  }

  return { ocs, capabilities };
}
