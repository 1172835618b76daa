// The Notes app's API v1 for the Nextcloud stand-in (an imitation written from nextcloud/notes:
// docs/api/v1.md, lib/Controller/NotesApiController.php, lib/Service/NoteUtil.php, Note.php and
// MetaService.php; none of its code is copied): ETag/If-Match with quoted tags, 412 with the
// current note, "New note" for an empty title, " (2)" suffixes, X-Notes-API-Versions, chunked
// listing with pruneBefore. Notes live in memory, per user.
import { createHash } from 'node:crypto';

const NOTES_API_VERSIONS = '0.2, 1.3, 1.4';
const md5 = (s) => createHash('md5').update(s).digest('hex');
const nowSec = () => Math.floor(Date.now() / 1000);
const httpDate = (sec) => new Date(sec * 1000).toUTCString();

// NoteUtil's sanitising of titles and categories.

function sanitisePath(str) {
  return str.replace(/[*|/\\:"<>?]/g, '').replace(/^[.\s]+/gmu, '').trim();
}
function safeTitle(s) {
  let t = sanitisePath(s).split(/\r\n|\r|\n/, 1)[0].trim().replace(/\s/gu, ' ');
  t = [...t].slice(0, 100).join('');
  return t || 'New note';
}
function safeCategory(c) {
  return c.split('/').map((seg) => seg.replace(/[*|\\:"<>?]/g, '').replace(/^[.\s]+/u, '').trim()).filter(Boolean).join('/');
}


/**
 * The Notes API over the stand-in's plumbing: `send`, `sendJson`, `readBody`, `authenticate`
 * (→ user record with `notes` and `notesSettings`) and `challenge`. Returns `handle(ctx, sub)` for
 * /index.php/apps/notes<sub>, plus `publicNote` and `createNote` for the test state. `corsGate(ctx)`
 * (→ false when it has answered) runs first for the API methods that carry #[CORS] in
 * lib/Controller/NotesApiController.php, i.e. all but fail() (the stand-in's stock mode).
 */
export function notesApp({ send, sendJson, readBody, authenticate, challenge, corsGate = null }) {
  let nextNoteId = 1;

  const publicNote = (u, n, exclude = new Set()) => {
    const d = {};
    if (!exclude.has('id')) d.id = n.id;
    if (!exclude.has('title')) d.title = n.title;
    if (!exclude.has('modified')) d.modified = n.modified;
    if (!exclude.has('category')) d.category = n.category;
    if (!exclude.has('favorite')) d.favorite = n.favorite;
    if (!exclude.has('readonly')) d.readonly = false;
    d.internalPath = `/${u.notesSettings.notesPath}/${n.category ? `${n.category}/` : ''}${n.title}${n.suffix}`;
    d.shareTypes = [];
    d.isShared = false;
    d.error = false;
    d.errorType = '';
    if (!exclude.has('content')) d.content = n.content;
    d.etag = n.etag;
    return d;
  };

  function computeNoteMeta(n) {
    const etag = md5(JSON.stringify([n.id, n.title, n.modified, n.category, n.favorite, false, md5(n.content)]));
    if (etag !== n.etag) { n.etag = etag; n.lastUpdate = nowSec(); }
  }
  function uniqueTitle(u, title, category, id) {
    const taken = (t) => [...u.notes.values()].some((o) => o.id !== id && o.category === category && o.title === t);
    let t = safeTitle(title);
    while (taken(t)) {
      const m = /\s\((\d+)\)$/u.exec(t);
      const base = m ? t.replace(/\s\(\d+\)$/u, '') : t;
      const suffix = ` (${m ? Number(m[1]) + 1 : 2})`;
      t = [...base].slice(0, 100 - suffix.length).join('') + suffix;
    }
    return t;
  }
  function createNote(u, { title = '', content = '', category = '', favorite = false, modified = 0 } = {}) {
    const n = { id: nextNoteId++, suffix: u.notesSettings.fileSuffix, content: String(content), favorite: !!favorite, modified: modified || nowSec(), etag: null, lastUpdate: 0 };
    n.category = safeCategory(String(category));
    n.title = uniqueTitle(u, String(title), n.category, n.id);
    u.notes.set(n.id, n);
    computeNoteMeta(n);
    return n;
  }

  async function handleNotes(ctx, sub) {
    const jsonHeaders = { 'X-Notes-API-Versions': NOTES_API_VERSIONS };
    const m = /^\/api\/(.*)$/.exec(sub);
    if (!m) return send(ctx, 404, 'Not Found\n', { 'Content-Type': 'text/plain; charset=utf-8' });
    const rest = m[1];
    const method = ctx.method === 'HEAD' ? 'GET' : ctx.method;
    let action = null;
    let id = null;
    let mm;
    if (method === 'OPTIONS' && /^(v0\.2|v1)\/.+/.test(rest)) action = 'preflight';
    else if (rest === 'v1/notes') action = { GET: 'index', POST: 'create' }[method] ?? 405;
    else if ((mm = /^v1\/notes\/(\d+)$/.exec(rest))) { id = Number(mm[1]); action = { GET: 'get', PUT: 'update', DELETE: 'destroy' }[method] ?? 405; }
    else if (rest === 'v1/settings') action = { GET: 'getSettings', PUT: 'setSettings' }[method] ?? 405;
    else if (rest === 'v1.4/settings') action = method === 'GET' ? 'getSettings' : 405;
    else action = method === 'GET' ? 'fail' : 405; // the app's GET /api/{catchAll} route
    if (action === 405) return send(ctx, 405, 'Method Not Allowed\n', { 'Content-Type': 'text/plain; charset=utf-8' });
    if (action === 'preflight') {
      return send(ctx, 200, '', {
        'Access-Control-Allow-Origin': ctx.req.headers.origin ?? '*',
        'Access-Control-Allow-Methods': 'PUT, POST, GET, DELETE, PATCH',
        'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept',
        'Access-Control-Max-Age': '1728000',
      });
    }
    if (corsGate && action !== 'fail' && !(await corsGate(ctx))) return undefined; // fail() has no #[CORS]
    ctx.user = ctx.user ?? await authenticate(ctx);
    if (!ctx.user) return sendJson(ctx, 401, { message: 'Current user is not logged in' }, { 'WWW-Authenticate': challenge(false) });
    const u = ctx.user;
    if (action === 'fail') return sendJson(ctx, 400, [], jsonHeaders);

    const body = await readBody(ctx);
    let params = Object.fromEntries(ctx.url.searchParams);
    if (['POST', 'PUT'].includes(method) && body.length) {
      const ct = (ctx.req.headers['content-type'] ?? '').toLowerCase();
      if (/^application\/(?:[a-z.+-]*\+)?json\b/.test(ct)) {
        let parsed;
        try { parsed = JSON.parse(body.toString('utf8')); } catch { parsed = undefined; }
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return sendJson(ctx, 400, { message: 'Request body is not a JSON object' }, jsonHeaders);
        params = { ...params, ...parsed };
      } else if (ct.startsWith('application/x-www-form-urlencoded')) {
        params = { ...params, ...Object.fromEntries(new URLSearchParams(body.toString('utf8'))) };
      } // any other body is ignored, as Nextcloud's Request does
    }
    const typed = (name, type) => {
      const v = params[name];
      if (v === undefined || v === null) return undefined;
      if (type === 'string') { if (typeof v === 'string') return v; if (typeof v === 'number') return String(v); throw new TypeError(name); }
      if (type === 'int') { if (Number.isInteger(v)) return v; if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v); throw new TypeError(name); }
      if (type === 'bool') {
        if (typeof v === 'boolean') return v;
        if (v === 1 || v === '1' || v === 'true') return true;
        if (v === 0 || v === '0' || v === 'false' || v === '') return false;
        throw new TypeError(name);
      }
      return v;
    };
    let f;
    try {
      f = { title: typed('title', 'string'), content: typed('content', 'string'), category: typed('category', 'string'), favorite: typed('favorite', 'bool'), modified: typed('modified', 'int') };
    } catch (e) {
      return sendJson(ctx, 400, { message: `Invalid value for parameter ${e.message}` }, jsonHeaders);
    }
    const notFoundJson = () => sendJson(ctx, 404, { errorType: 'Exception' }, jsonHeaders);
    const ifNoneMatch = (ctx.req.headers['if-none-match'] ?? '').trim();

    switch (action) {
      case 'index': {
        const exclude = new Set(String(params.exclude ?? '').split(','));
        const pruneBefore = Number.parseInt(params.pruneBefore ?? '0', 10) || 0;
        const chunkSize = Number.parseInt(params.chunkSize ?? '0', 10) || 0;
        const cm = /^(\d+)-(\d+)-(\d+)$/.exec(String(params.chunkCursor ?? ''));
        const cursor = cm ? { timeStart: Number(cm[1]), lastUpdate: Number(cm[2]), id: Number(cm[3]) } : null;
        const timeStart = cursor?.timeStart ?? nowSec();
        let all = [...u.notes.values()];
        if (params.category !== undefined) all = all.filter((n) => n.category === String(params.category));
        let full = all.filter((n) => !(pruneBefore && n.lastUpdate < pruneBefore)
          && !(cursor && (n.lastUpdate < cursor.lastUpdate || (n.lastUpdate === cursor.lastUpdate && n.id <= cursor.id))));
        full.sort((a, b) => a.lastUpdate - b.lastUpdate || a.id - b.id);
        const chunk = chunkSize ? full.slice(0, chunkSize) : full;
        const pending = full.length - chunk.length;
        const data = chunk.map((n) => publicNote(u, n, exclude));
        if (!pending) { const have = new Set(chunk.map((n) => n.id)); for (const n of all) if (!have.has(n.id)) data.push({ id: n.id }); }
        const etag = md5(JSON.stringify(data));
        const headers = { ...jsonHeaders, ETag: `"${etag}"`, 'Last-Modified': httpDate(timeStart) };
        if (pending) { headers['X-Notes-Chunk-Cursor'] = `${timeStart}-${chunk[chunk.length - 1].lastUpdate}-${chunk[chunk.length - 1].id}`; headers['X-Notes-Chunk-Pending'] = String(pending); }
        if (ifNoneMatch && ifNoneMatch === `"${etag}"`) return send(ctx, 304, '', headers);
        return sendJson(ctx, 200, data, headers);
      }
      case 'get': {
        const n = u.notes.get(id);
        if (!n) return notFoundJson();
        const data = publicNote(u, n, new Set(String(params.exclude ?? '').split(',')));
        const headers = { ...jsonHeaders, ETag: `"${n.etag}"` };
        if (ifNoneMatch && ifNoneMatch === `"${n.etag}"`) return send(ctx, 304, '', headers);
        return sendJson(ctx, 200, data, headers);
      }
      case 'create': {
        const n = createNote(u, { title: f.title ?? '', content: f.content ?? '', category: f.category ?? '', favorite: f.favorite ?? false, modified: f.modified ?? 0 });
        return sendJson(ctx, 200, publicNote(u, n), jsonHeaders);
      }
      case 'update': {
        const n = u.notes.get(id);
        if (!n) return notFoundJson();
        const ifMatch = ctx.req.headers['if-match'];
        if (ifMatch && !ifMatch.split(/,\s*/).includes(`"${n.etag}"`)) return sendJson(ctx, 412, publicNote(u, n), jsonHeaders);
        if (f.content !== undefined && f.content !== n.content) { n.content = f.content; n.modified = nowSec(); }
        if (f.modified !== undefined && f.modified !== n.modified) n.modified = f.modified;
        if (f.title !== undefined && f.title !== n.title) {
          n.category = f.category !== undefined ? safeCategory(f.category) : n.category;
          n.title = uniqueTitle(u, f.title, n.category, n.id);
        } else if (f.category !== undefined && f.category !== n.category) {
          n.category = safeCategory(f.category);
          n.title = uniqueTitle(u, n.title, n.category, n.id);
        }
        if (f.favorite !== undefined) n.favorite = f.favorite;
        computeNoteMeta(n);
        return sendJson(ctx, 200, publicNote(u, n), jsonHeaders);
      }
      case 'destroy': {
        if (!u.notes.delete(id)) return notFoundJson();
        return sendJson(ctx, 200, [], jsonHeaders);
      }
      case 'getSettings':
        return sendJson(ctx, 200, { ...u.notesSettings }, jsonHeaders);
      case 'setSettings': {
        if (params.fileSuffix !== undefined) u.notesSettings.fileSuffix = ['.md', '.txt'].includes(params.fileSuffix) ? params.fileSuffix : '.md';
        if (params.notesPath !== undefined) u.notesSettings.notesPath = String(params.notesPath).split(/[\\/]/).filter((s) => s && s !== '..' && s !== '.').join('/') || 'Notes';
        if (params.noteMode !== undefined) u.notesSettings.noteMode = ['edit', 'preview', 'rich'].includes(params.noteMode) ? params.noteMode : 'edit';
        return sendJson(ctx, 200, { ...u.notesSettings }, jsonHeaders);
      }
      default:
        return send(ctx, 500, '');
    }
  }

  return { handle: handleNotes, publicNote, createNote };
}
