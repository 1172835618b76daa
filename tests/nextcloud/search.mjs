// The stand-in's imitation of core's unified search OCS API, written from these files (none of
// their code is copied):
//   - nextcloud/server core/Controller/UnifiedSearchController.php (the NC 32 version with
//     #[NoAdminRequired] #[NoCSRFRequired], no #[CORS]; limit default 5 capped to [1, 25]
//     (unified-search.max-results-per-request), filters from the request's parameters, 400 with
//     the exception's message or "No valid filters provided");
//   - lib/private/Search/SearchComposer.php (getProviders: id, appId, name, icon, order, triggers,
//     filters, inAppSearch, sorted by order; buildFilterList: unknown parameters ignored, an
//     exclusive filter the provider does not support → UnsupportedFilter; search: an unknown
//     provider throws InvalidArgumentException, which nothing catches → ocs/v1.php's 500
//     "Internal Server Error"), lib/private/Search/UnsupportedFilter.php,
//     lib/private/Search/Filter/StringFilter.php ("String filter can’t be empty");
//   - lib/public/Search/SearchResult.php, SearchResultEntry.php (the JSON shapes; PHP's empty
//     attributes array is JSON `[]`);
//   - apps/files/lib/Search/FilesSearchProvider.php: name LIKE %term% (plus since/until/min-size/
//     max-size/mime/type/path), newest first, paginated with cursor = offset + limit, resourceUrl
//     /index.php/f/<fileid>, subline "in <folder>", attributes fileId and path. Here the search is
//     a real DAV SEARCH on the stand-in's sabre/dav (its FileSearchBackend follows Nextcloud's);
//   - nextcloud/notes lib/AppInfo/SearchProvider.php, Service/NotesService.php search(),
//     Service/Note.php getExcerpt(), NoteUtil::stripMarkdown (every whitespace-separated term must
//     be in the title, category or content, ASCII-case-insensitively; not paginated; newest first;
//     resourceUrl /index.php/apps/notes/note/<id>, icon "icon-notes-trans").
//   - nextcloud/deck stable32 lib/Search/DeckProvider.php (id search-deck-card-board, "Deck boards
//     and cards", order -5 in Deck else 10) and CardCommentProvider.php (search-deck-comment, "Card
//     comments", -4 / 11): listed when Deck is on;
//   - nextcloud/spreed lib/Search/ConversationSearch.php (talk-conversations, "Conversations",
//     order -1 in Talk else 25): the user's conversations but the changelog, one-to-one ones by the
//     other user's id or display name, others by name, case-insensitively (stripos); entries with
//     resourceUrl /index.php/call/<token>, rounded, attribute `conversation`; SearchResult::complete;
//     MessageSearch.php (talk-message, "Messages", -2 / 15): listed, finds nothing here.
//   - apps/dav/lib/Search/EventsSearchProvider.php (calendar, "Events", order -1 in Calendar else
//     30: VEVENTs whose SUMMARY, LOCATION, DESCRIPTION, ATTENDEE, ORGANIZER or CATEGORIES value, or
//     ATTENDEE/ORGANIZER CN, contains the term case-insensitively, offset paging, resourceUrl
//     /index.php/apps/calendar/edit/<base64 of /remote.php/dav/calendars/<user>/<calendar>/<object>>),
//     TasksSearchProvider.php (tasks, "Tasks", -1 in Tasks else 35: VTODOs by SUMMARY, DESCRIPTION,
//     CATEGORIES; /index.php/apps/tasks/calendars/<calendar>/tasks/<object>) and
//     ContactsSearchProvider.php (contacts, "Contacts", -1 in Contacts else 25: N, FN, NICKNAME,
//     EMAIL, TEL, ADR, TITLE, ORG, NOTE; subline the first EMAIL; rounded;
//     /index.php/apps/contacts/direct/contact/<uid>~<address book>), over the real sabre/dav
//     (REPORT per collection; CalDavBackend/CardDavBackend::searchPrincipalUri search their
//     property index, here the objects' text); always listed (the dav app registers them), empty
//     when the Calendar, Tasks or Contacts app is off, as their search() checks;
// Not imitated: the other providers a Nextcloud has (comments, settings, users, fulltextsearch…);
// date sublines of events and tasks are approximate; Deck's providers and Talk's message providers are listed when
// those apps are on but find nothing (their data is not reachable from here); the `person`,
// `is-favorite`, `places`, `provider` and `title-only` filters are accepted but not applied;
// `from` only changes the order as the providers' getOrder does; provider icons are approximate.
// For tests: `state.apps.search.fail(id)` makes provider `id` throw (an uncaught exception → 500,
// as a broken app's provider gives), `heal(id)` undoes it.

const PREVIEW_MIMES = /^(image\/(png|jpeg|gif|bmp|webp|x-xbitmap)|text\/(plain|markdown)|audio\/mpeg)$/;
const COMMON_FILTERS = { term: 'string', since: 'datetime', until: 'datetime', 'title-only': 'bool', person: 'person', places: 'strings', provider: 'string' };
/** Filters that are not exclusive (FilterDefinition's third argument false). */
const NON_EXCLUSIVE = new Set(['title-only', 'places', 'provider']);

const xmlEsc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const asciiLower = (s) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
const decodeXml = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&#13;/g, '\r').replace(/&amp;/g, '&');

/** mimeTypeIcon's file name for a mime type (core/img/filetypes/…), approximately. */
function mimeIcon(mime) {
  if (mime === 'application/pdf') return 'application-pdf';
  const top = mime.split('/')[0];
  if (['text', 'image', 'audio', 'video'].includes(top)) return top === 'text' ? 'text' : top;
  return 'file';
}

/** NoteUtil::stripMarkdown, approximately. */
function stripMarkdown(s) {
  return s.replace(/^\s*[*+-]\s+/gmu, '').replace(/^#+\s+(.*?)\s*#*$/gmu, '$1').replace(/^(=+|-+)$/gmu, '').replace(/(\*+|_+)(.*?)\1/gmu, '$2');
}

/** Note::getExcerpt(100). */
function excerpt(n) {
  let e = stripMarkdown(n.content).trim();
  if (n.title && asciiLower(e.slice(0, n.title.length)) === asciiLower(n.title)) e = e.slice(n.title.length);
  e = e.trim();
  const chars = [...e];
  if (chars.length > 100) e = `${chars.slice(0, 100).join('')}…`;
  return e.replace(/\n/g, '\u2003');
}

/** `kit`: the stand-in's plumbing (see appKit in standin.mjs). Answers /ocs/v{1,2}.php/search/…. */
export function searchApp(kit) {
  /** The route name `from` points at, as far as getOrder of these providers cares. */
  function routeOf(from) {
    let p = '';
    try { p = new URL(from, 'http://x').pathname; } catch { return ''; }
    p = p.replace(/^\/index\.php/, '');
    if (p.startsWith('/apps/files')) return 'files.View.index';
    if (p.startsWith('/apps/notes')) return 'notes.page.index';
    return '';
  }

  /** The providers this user has, by id: { appId, name, order(route), filters, search }. */
  function providers() {
    const list = {
      files: {
        appId: 'files', name: 'Files', order: (route) => (route === 'files.View.index' ? -5 : 5),
        supported: ['term', 'since', 'until', 'person', 'min-size', 'max-size', 'mime', 'type', 'path', 'is-favorite', 'title-only'],
        custom: { 'min-size': 'int', 'max-size': 'int', mime: 'string', type: 'string', path: 'string', 'is-favorite': 'bool' },
        search: searchFiles,
      },
      notes: {
        appId: 'notes', name: 'Notes', order: (route) => (route.startsWith('files.') ? 25 : route.startsWith('notes.') ? -1 : 4),
        supported: null, custom: {}, search: searchNotes,
      },
    };
    list.calendar = { appId: 'dav', name: 'Events', order: (route) => (route === 'calendar.View.index' ? -1 : 30), supported: null, custom: {}, search: (u, q) => searchCalendar(u, q, 'VEVENT') };
    list.tasks = { appId: 'dav', name: 'Tasks', order: (route) => (route === 'tasks.Page.index' ? -1 : 35), supported: null, custom: {}, search: (u, q) => searchCalendar(u, q, 'VTODO') };
    list.contacts = { appId: 'dav', name: 'Contacts', order: (route) => (route === 'contacts.Page.index' ? -1 : 25), supported: null, custom: {}, search: searchContacts };
    if (kit.enabled('deck')) {
      list['search-deck-card-board'] = { appId: 'deck', name: 'Deck boards and cards', order: (route) => (route === 'deck.Page.index' ? -5 : 10), supported: null, custom: {}, search: nothing('Deck boards and cards') };
      list['search-deck-comment'] = { appId: 'deck', name: 'Card comments', order: (route) => (route === 'deck.Page.index' ? -4 : 11), supported: null, custom: {}, search: nothing('Card comments') };
    }
    if (kit.enabled('spreed')) {
      const inTalk = (route) => route.startsWith('spreed.');
      list['talk-conversations'] = { appId: 'spreed', name: 'Conversations', order: (route) => (inTalk(route) ? -1 : 25), supported: null, custom: {}, search: searchConversations };
      list['talk-message'] = { appId: 'spreed', name: 'Messages', order: (route) => (inTalk(route) ? -2 : 15), supported: null, custom: {}, search: nothing('Messages') };
      list['talk-message-current'] = { appId: 'spreed', name: 'Messages in current conversation', order: () => 0, supported: null, custom: {}, search: nothing('Messages in current conversation') };
    }
    for (const id of failing) if (list[id]) list[id] = { ...list[id], search: async () => { throw new Error(`provider ${id} made to fail`); } };
    return list;
  }
  const nothing = (name) => async () => ({ name, isPaginated: false, entries: [], cursor: null });
  /** Provider ids made to fail by a test. */
  const failing = new Set();

  /** A DAV collection's objects: [{ href, name, data }] (`dataTag` the REPORT's data element). */
  async function davCollections(u, home, kind) {
    const r = await kit.state.davFetch(u.id, `${home}/${encodeURIComponent(u.id)}/`, {
      method: 'PROPFIND', headers: { depth: '1', 'content-type': 'application/xml' },
      body: '<d:propfind xmlns:d="DAV:"><d:prop><d:resourcetype/></d:prop></d:propfind>',
    });
    if (r.status !== 207) throw new Error(`sabre/dav PROPFIND ${home} answered ${r.status}`);
    const xml = await r.text();
    const out = [];
    for (const [, resp] of xml.matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)) {
      if (!new RegExp(`<[a-z]+:${kind}\\s*/>`).test(resp)) continue;
      const href = decodeURIComponent(decodeXml(/<d:href>([^<]*)<\/d:href>/.exec(resp)?.[1] ?? ''));
      out.push(href.replace(/\/$/, '').split('/').pop());
    }
    return out.sort();
  }

  async function davReport(u, path, body) {
    const r = await kit.state.davFetch(u.id, path, { method: 'REPORT', headers: { depth: '1', 'content-type': 'application/xml' }, body });
    if (r.status !== 207) throw new Error(`sabre/dav REPORT answered ${r.status}`);
    const xml = await r.text();
    const out = [];
    for (const [, resp] of xml.matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)) {
      const href = decodeURIComponent(decodeXml(/<d:href>([^<]*)<\/d:href>/.exec(resp)?.[1] ?? ''));
      const data = /<(?:cal|card):(?:calendar|address)-data[^>]*>([\s\S]*?)<\/(?:cal|card):(?:calendar|address)-data>/.exec(resp)?.[1];
      if (data !== undefined) out.push({ name: href.split('/').pop(), data: decodeXml(data) });
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** The content lines of an iCalendar/vCard text: [{ name, params: {NAME: value}, value }], unfolded. */
  function contentLines(data) {
    return data.replace(/\r?\n[ \t]/g, '').split(/\r?\n/).filter((l) => l.includes(':')).map((line) => {
      const colon = line.search(/:(?=(?:[^"]*"[^"]*")*[^"]*$)/);
      const head = line.slice(0, colon);
      const [name, ...params] = head.split(';');
      const value = line.slice(colon + 1).replace(/\\[nN]/g, '\n').replace(/\\([,;\\])/g, '$1');
      return { name: name.toUpperCase(), params: Object.fromEntries(params.map((p) => { const [k, v = ''] = p.split('='); return [k.toUpperCase(), v.replace(/^"|"$/g, '')]; })), value };
    });
  }

  /** searchPrincipalUri's match: a listed property's value, or a listed parameter, contains the term. */
  function matches(lines, term, props, paramsOf = {}) {
    const t = term.toLowerCase();
    return lines.some((l) => (props.includes(l.name) && l.value.toLowerCase().includes(t))
      || (paramsOf[l.name] ?? []).some((p) => (l.params[p] ?? '').toLowerCase().includes(t)));
  }

  const mediumDate = (v) => {
    const m = /^(\d{4})(\d{2})(\d{2})/.exec(v ?? '');
    return m ? new Date(Date.UTC(+m[1], +m[2] - 1, +m[3])).toLocaleDateString('en-US', { month: 'short', day: 'numeric', year: 'numeric', timeZone: 'UTC' }) : '';
  };

  /** EventsSearchProvider / TasksSearchProvider::search. */
  async function searchCalendar(u, q, comp) {
    const events = comp === 'VEVENT';
    const name = events ? 'Events' : 'Tasks';
    if (!kit.enabled(events ? 'calendar' : 'tasks')) return { name, isPaginated: false, entries: [], cursor: null };
    const props = events ? ['SUMMARY', 'LOCATION', 'DESCRIPTION', 'ATTENDEE', 'ORGANIZER', 'CATEGORIES'] : ['SUMMARY', 'DESCRIPTION', 'CATEGORIES'];
    const paramsOf = events ? { ATTENDEE: ['CN'], ORGANIZER: ['CN'] } : {};
    const found = [];
    for (const cal of await davCollections(u, 'calendars', 'calendar')) {
      const body = `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="${comp}"/></c:comp-filter></c:filter></c:calendar-query>`;
      for (const o of await davReport(u, `calendars/${encodeURIComponent(u.id)}/${encodeURIComponent(cal)}/`, body)) {
        // The primary component's lines (getPrimaryComponent: the master, not an override).
        const block = new RegExp(`BEGIN:${comp}\\r?\\n([\\s\\S]*?)END:${comp}`).exec(o.data)?.[1] ?? '';
        const lines = contentLines(block);
        if (matches(lines, q.filters.term, props, paramsOf)) found.push({ cal, o, lines });
      }
    }
    const page = found.slice(q.offset, q.offset + q.limit);
    const prop = (lines, n) => lines.find((l) => l.name === n)?.value;
    return {
      name,
      isPaginated: true,
      entries: page.map(({ cal, o, lines }) => ({
        thumbnailUrl: '',
        title: prop(lines, 'SUMMARY') ?? (events ? 'Untitled event' : 'Untitled task'),
        subline: events ? mediumDate(prop(lines, 'DTSTART')) : (prop(lines, 'DUE') ? `Due on ${mediumDate(prop(lines, 'DUE'))}` : ''),
        resourceUrl: events
          ? `${kit.base()}/index.php/apps/calendar/edit/${Buffer.from(`/remote.php/dav/calendars/${u.id}/${cal}/${o.name}`).toString('base64')}`
          : `${kit.base()}/index.php/apps/tasks/calendars/${cal}/tasks/${o.name}`,
        icon: events ? 'icon-calendar-dark' : 'icon-checkmark',
        rounded: false,
        attributes: [],
      })),
      cursor: q.offset + page.length,
    };
  }

  /** ContactsSearchProvider::search. */
  async function searchContacts(u, q) {
    if (!kit.enabled('contacts')) return { name: 'Contacts', isPaginated: false, entries: [], cursor: null };
    const props = ['N', 'FN', 'NICKNAME', 'EMAIL', 'TEL', 'ADR', 'TITLE', 'ORG', 'NOTE'];
    const found = [];
    for (const book of await davCollections(u, 'addressbooks/users', 'addressbook')) {
      const body = '<card:addressbook-query xmlns:d="DAV:" xmlns:card="urn:ietf:params:xml:ns:carddav"><d:prop><card:address-data/></d:prop></card:addressbook-query>';
      for (const o of await davReport(u, `addressbooks/users/${encodeURIComponent(u.id)}/${encodeURIComponent(book)}/`, body)) {
        const lines = contentLines(o.data);
        if (matches(lines, q.filters.term, props)) found.push({ book, o, lines });
      }
    }
    const page = found.slice(q.offset, q.offset + q.limit);
    const prop = (lines, n) => lines.find((l) => l.name === n)?.value;
    return {
      name: 'Contacts',
      isPaginated: true,
      entries: page.map(({ book, o, lines }) => ({
        thumbnailUrl: prop(lines, 'PHOTO') ? `${kit.base()}/remote.php/dav/addressbooks/users/${u.id}/${book}/${o.name}?photo` : '',
        title: prop(lines, 'FN') ?? '',
        subline: prop(lines, 'EMAIL') ?? '',
        resourceUrl: `${kit.base()}/index.php/apps/contacts/direct/contact/${encodeURIComponent(`${prop(lines, 'UID') ?? ''}~${book}`)}`,
        icon: 'icon-contacts-dark',
        rounded: true,
        attributes: [],
      })),
      cursor: q.offset + page.length,
    };
  }

  /** ConversationSearch::search over the stand-in's Talk (talk.mjs's rooms as the user sees them). */
  async function searchConversations(u, q) {
    const term = q.filters.term.toLowerCase();
    const rooms = (kit.state.apps?.spreed?.rooms(u.id) ?? []).filter((r) => r.type !== 4);
    const hits = rooms.filter((r) => ([1, 5].includes(r.type)
      ? r.name.toLowerCase().includes(term) || r.displayName.toLowerCase().includes(term)
      : r.name.toLowerCase().includes(term)));
    return {
      name: 'Conversations',
      isPaginated: false,
      entries: hits.map((r) => ({
        thumbnailUrl: `${kit.base()}/ocs/v2.php/apps/spreed/api/v1/room/${r.token}/avatar?v=${r.avatarVersion}`,
        title: r.displayName, subline: '', resourceUrl: `${kit.base()}/index.php/call/${r.token}`,
        icon: '', rounded: true, attributes: { conversation: r.token },
      })),
      cursor: null,
    };
  }

  async function searchNotes(u, q) {
    const terms = q.filters.term.split(/\s+/).filter((t) => t !== '');
    const notes = [...u.notes.values()].filter((n) => terms.every((t) => [n.title, n.category, n.content].some((s) => asciiLower(s).includes(asciiLower(t)))));
    notes.sort((a, b) => b.modified - a.modified);
    return {
      name: 'Notes',
      isPaginated: false,
      entries: notes.map((n) => ({
        thumbnailUrl: '', title: n.title, subline: excerpt(n), resourceUrl: `${kit.base()}/index.php/apps/notes/note/${n.id}`,
        icon: 'icon-notes-trans', rounded: false, attributes: [],
      })),
      cursor: null,
    };
  }

  async function searchFiles(u, q) {
    const f = q.filters;
    const where = [`<d:like><d:prop><d:displayname/></d:prop><d:literal>${xmlEsc(`%${f.term}%`)}</d:literal></d:like>`];
    const date = (s) => new Date(s).toUTCString();
    if (f.since) where.push(`<d:gte><d:prop><d:getlastmodified/></d:prop><d:literal>${date(f.since)}</d:literal></d:gte>`);
    if (f.until) where.push(`<d:lte><d:prop><d:getlastmodified/></d:prop><d:literal>${date(f.until)}</d:literal></d:lte>`);
    if (f['min-size'] !== undefined) where.push(`<d:gte><d:prop><oc:size/></d:prop><d:literal>${f['min-size']}</d:literal></d:gte>`);
    if (f['max-size'] !== undefined) where.push(`<d:lte><d:prop><oc:size/></d:prop><d:literal>${f['max-size']}</d:literal></d:lte>`);
    if (f.mime) where.push(`<d:eq><d:prop><d:getcontenttype/></d:prop><d:literal>${xmlEsc(f.mime)}</d:literal></d:eq>`);
    if (f.type) where.push(`<d:like><d:prop><d:getcontenttype/></d:prop><d:literal>${xmlEsc(`${f.type}/%`)}</d:literal></d:like>`);
    const scope = f.path ? `/files/${u.id}/${f.path.replace(/^\/+|\/+$/g, '')}` : `/files/${u.id}`;
    const order = q.sortOrder === 1 ? '<d:orderby><d:order><d:prop><d:getlastmodified/></d:prop><d:descending/></d:order></d:orderby>' : '<d:orderby/>';
    const body = '<?xml version="1.0" encoding="UTF-8"?>'
      + '<d:searchrequest xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns" xmlns:s="https://github.com/icewind1991/SearchDAV/ns"><d:basicsearch>'
      + '<d:select><d:prop><d:displayname/><d:getcontenttype/><d:resourcetype/><oc:fileid/></d:prop></d:select>'
      + `<d:from><d:scope><d:href>${xmlEsc(scope)}</d:href><d:depth>infinity</d:depth></d:scope></d:from>`
      + `<d:where>${where.length > 1 ? `<d:and>${where.join('')}</d:and>` : where[0]}</d:where>${order}`
      + `<d:limit><d:nresults>${q.limit}</d:nresults><s:firstresult>${q.offset}</s:firstresult></d:limit>`
      + '</d:basicsearch></d:searchrequest>';
    const r = await kit.state.davFetch(u.id, '', { method: 'SEARCH', headers: { 'content-type': 'text/xml' }, body });
    const xml = await r.text();
    if (r.status !== 207) throw new Error(`sabre/dav SEARCH answered ${r.status}`);
    const entries = [];
    const prefix = `/remote.php/dav/files/${u.id}/`;
    for (const [, resp] of xml.matchAll(/<d:response>([\s\S]*?)<\/d:response>/g)) {
      const href = decodeURIComponent(decodeXml(/<d:href>([^<]*)<\/d:href>/.exec(resp)?.[1] ?? ''));
      if (!href.startsWith(prefix)) continue;
      const path = `/${href.slice(prefix.length).replace(/\/$/, '')}`;
      const fileId = /<oc:fileid>(\d+)<\/oc:fileid>/.exec(resp)?.[1] ?? '';
      const isFolder = /<d:collection\s*\/>/.test(resp);
      const mime = isFolder ? 'httpd/unix-directory' : decodeXml(/<d:getcontenttype>([^<]*)<\/d:getcontenttype>/.exec(resp)?.[1] ?? 'application/octet-stream');
      const dir = path.lastIndexOf('/') > 0 ? path.slice(1, path.lastIndexOf('/')) : '';
      entries.push({
        thumbnailUrl: PREVIEW_MIMES.test(mime) ? `${kit.base()}/index.php/core/preview?x=32&y=32&fileId=${fileId}` : '',
        title: path.slice(path.lastIndexOf('/') + 1),
        subline: dir ? `in ${dir}` : '',
        resourceUrl: `${kit.base()}/index.php/f/${fileId}`,
        icon: isFolder ? 'icon-folder' : `/core/img/filetypes/${mimeIcon(mime)}.svg`,
        rounded: false,
        attributes: { fileId, path },
      });
    }
    return { name: 'Files', isPaginated: true, entries, cursor: q.offset + q.limit };
  }

  function filterType(p, name) {
    return COMMON_FILTERS[name] ?? p?.custom[name] ?? null;
  }
  /** SearchComposer::buildFilterList + FilterFactory (values checked as their filter classes do). */
  function buildFilters(id, p, params) {
    const out = {};
    for (const [name, value] of Object.entries(params)) {
      const type = filterType(p, name);
      if (!type) continue;
      const supported = p?.supported ?? ['term'];
      if (!NON_EXCLUSIVE.has(name) && !supported.includes(name)) throw Object.assign(new Error(`Provider ${id} doesn’t support filter ${name}.`), { bad: true });
      if (type === 'string' && value === '') throw Object.assign(new Error('String filter can’t be empty'), { bad: true });
      if (type === 'int') out[name] = Number.parseInt(value, 10) || 0;
      else if (type === 'datetime') {
        const d = /^\d+$/.test(value) ? new Date(Number(value) * 1000) : new Date(value);
        if (Number.isNaN(d.getTime())) throw new Error(`bad date ${value}`); // DateTimeImmutable's exception: not caught → 500
        out[name] = d.toISOString();
      } else out[name] = value;
    }
    return out;
  }

  function internalError(ctx, v) {
    kit.ocsSend(ctx, v, v === 1 ? 200 : 500, v === 1 ? 996 : 500, 'Internal Server Error\n', []);
  }

  async function ocs(ctx, v, route) {
    let m;
    const isList = route === '/search/providers';
    if (!isList && !(m = /^\/search\/providers\/([^/]+)\/search$/.exec(route))) return false;
    if (ctx.method !== 'GET') { kit.send(ctx, 405, ''); return true; }
    ctx.user = await kit.authenticate(ctx);
    if (!ctx.user) {
      ctx.res.setHeader('WWW-Authenticate', kit.challenge(false));
      kit.ocsSend(ctx, v, 401, 997, 'Current user is not logged in', []);
      return true;
    }
    // #[NoCSRFRequired]: no OCS-APIRequest needed.
    const params = Object.fromEntries(ctx.url.searchParams);
    const pr = providers();
    const routeName = routeOf(params.from ?? '');
    if (isList) {
      const data = Object.entries(pr).map(([id, p]) => ({
        id, appId: p.appId, name: p.name, icon: `/apps/${p.appId}/img/app.svg`, order: p.order(routeName), triggers: [id],
        filters: Object.fromEntries((p.supported ?? ['term']).map((f) => [f, filterType(p, f)])), inAppSearch: false,
      })).sort((a, b) => a.order - b.order);
      kit.ocsSend(ctx, v, 200, v === 1 ? 100 : 200, 'OK', data);
      return true;
    }
    const id = decodeURIComponent(m[1]);
    const p = pr[id] ?? null;
    let limit = params.limit === undefined ? 5 : (Number.parseInt(params.limit, 10) || 0);
    limit = Math.max(1, Math.min(limit, 25));
    let filters;
    try {
      filters = buildFilters(id, p, params);
    } catch (e) {
      if (!e.bad) { internalError(ctx, v); return true; }
      kit.ocsSend(ctx, v, v === 1 ? 200 : 400, 400, '', e.message);
      return true;
    }
    if (!Object.keys(filters).length) {
      kit.ocsSend(ctx, v, v === 1 ? 200 : 400, 400, '', 'No valid filters provided');
      return true;
    }
    if (!p) { internalError(ctx, v); return true; } // "Provider $providerId is unknown"
    if (filters.term === undefined) filters.term = ''; // e.g. only `since`: name LIKE '%%'
    const offset = Number.parseInt(params.cursor ?? '0', 10) || 0;
    const sortOrder = params.sortOrder === undefined ? 1 : Number.parseInt(params.sortOrder, 10) || 0;
    try {
      const data = await p.search(ctx.user, { filters, limit, offset, sortOrder });
      kit.ocsSend(ctx, v, 200, v === 1 ? 100 : 200, 'OK', data);
    } catch (e) {
      kit.log(`search: ${e.message}`);
      internalError(ctx, v);
    }
    return true;
  }

  const testing = {
    fail: (id) => { failing.add(id); },
    heal: (id) => { failing.delete(id); },
    reset: () => { failing.clear(); },
  };
  return { ocs, testing };
}
