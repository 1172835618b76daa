// Nextcloud stand-in: an in-memory HTTP server that answers the small part of Nextcloud's API
// that the MCP server's Nextcloud tools use, for end-to-end tests on a machine where Nextcloud
// itself cannot run. It is NOT Nextcloud and shares no code with it; it was written from the
// public documentation and checked against what the real server sends:
//
//   - Notes API v1 (https://github.com/nextcloud/notes/blob/main/docs/api/v1.md), incl. the
//     Notes app's own controller behaviour (ETag/If-Match with quoted tags, 412 with the current
//     note, "New note" for an empty title, " (2)" suffixes, X-Notes-API-Versions).
//   - WebDAV (RFC 4918) as Nextcloud serves it through sabre/dav at /remote.php/dav/files/{user}/:
//     PROPFIND/GET/PUT/MKCOL/DELETE/MOVE/COPY/PROPPATCH, Sabre's precondition and error rules
//     (<d:error><s:exception>…), Nextcloud's oc:/nc: properties, and SEARCH (RFC 5323
//     basicsearch, as the Nextcloud developer manual describes it).
//   - CalDAV (RFC 4791) and CardDAV (RFC 6352) as sabre/dav + Nextcloud's dav app serve them:
//     calendar home with the "personal" calendar (+ inbox/outbox/trashbin), address book
//     "contacts", calendar-query/-multiget, addressbook-query/-multiget, sabre-vobject style
//     validation and repair of uploaded objects.
//   - OCS: GET /ocs/v{1,2}.php/cloud/user (the provisioning API's current-user call), the CSRF
//     rule for OCS (OCS-APIRequest: true, or Bearer auth), capabilities; /status.php.
//
// Authentication works like Nextcloud with the user_oidc app and bearer validation enabled:
// `Authorization: Bearer <token>` is checked by calling the IdP's userinfo endpoint (found by
// discovery) with that token, and the user id is userinfo's `sub`. App passwords are HTTP Basic
// against `basicUsers`. Nothing here talks to anything but 127.0.0.1, and tokens are never
// logged or stored (the validation cache is keyed by a SHA-256 of the token).
//
// Use: `const nc = await startNextcloud({ idpIssuer, basicUsers: { alice: 'pw' } })` → `{ base,
// port, close(), state }`, or the CLI at the end of this file:
//   node tests/nextcloud/standin.mjs --port 9500 --idp-issuer http://127.0.0.1:9400 \
//        [--basic-user alice:app-password]…
// (env: NEXTCLOUD_STANDIN_PORT, NEXTCLOUD_STANDIN_IDP_ISSUER, NEXTCLOUD_STANDIN_BASIC_USERS="a:pw,b:pw2").
import http from 'node:http';
import path from 'node:path';
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { fileURLToPath } from 'node:url';

const MAX_BODY = 10 * 1024 * 1024;
const DAV_ROOT = '/remote.php/dav/';
const NOTES_API_VERSIONS = '0.2, 1.3, 1.4';
const NC_VERSION = { major: 30, minor: 0, micro: 0, string: '30.0.0', edition: '', extendedSupport: false };

const NS = {
  dav: 'DAV:',
  sabre: 'http://sabredav.org/ns',
  cal: 'urn:ietf:params:xml:ns:caldav',
  cs: 'http://calendarserver.org/ns/',
  card: 'urn:ietf:params:xml:ns:carddav',
  oc: 'http://owncloud.org/ns',
  nc: 'http://nextcloud.org/ns',
  apple: 'http://apple.com/ns/ical/',
};
// Prefixes as Nextcloud's Sabre server declares them on every multistatus.
const PREFIX = new Map([
  [NS.dav, 'd'], [NS.sabre, 's'], [NS.cal, 'cal'], [NS.cs, 'cs'], [NS.card, 'card'], [NS.oc, 'oc'], [NS.nc, 'nc'],
]);
const XMLNS_ALL = [...PREFIX].map(([ns, p]) => ` xmlns:${p}="${ns}"`).join('');
const k = (ns, local) => `{${ns}}${local}`;
const D = (local) => k(NS.dav, local);

// ---------------------------------------------------------------------------------------------
// Small helpers

const md5 = (s) => createHash('md5').update(s).digest('hex');
const sha256 = (s) => createHash('sha256').update(s).digest('hex');
const nowSec = () => Math.floor(Date.now() / 1000);
const httpDate = (sec) => new Date(sec * 1000).toUTCString();
/** 13 hex digits, like PHP's uniqid() that Nextcloud uses for file ETags. */
const newFileEtag = () => randomBytes(7).toString('hex').slice(0, 13);

/** XML text escaping as PHP's XMLWriter does it (CR kept as &#13; so CRLF survives parsing). */
export function xmlEscape(s) {
  return String(s)
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '\uFFFD')
    .replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
    .replace(/\r/g, '&#13;');
}
const esc = xmlEscape;

/** sabre/http encodePath: everything but A-Za-z0-9_-.~()/:@ is percent-encoded (UTF-8). */
export function encodePath(p) {
  return p.replace(/[^A-Za-z0-9_\-.~()/:@]/gu, (c) => [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}

function isLoopbackUrl(u) {
  try {
    const { hostname, protocol } = new URL(u);
    return (protocol === 'http:' || protocol === 'https:') && ['127.0.0.1', 'localhost', '[::1]', '::1'].includes(hostname);
  } catch {
    return false;
  }
}

const MIME = {
  txt: 'text/plain', md: 'text/markdown', markdown: 'text/markdown', csv: 'text/csv', html: 'text/html', htm: 'text/html',
  css: 'text/css', js: 'application/javascript', mjs: 'application/javascript', json: 'application/json', xml: 'application/xml',
  pdf: 'application/pdf', png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp',
  svg: 'image/svg+xml', ics: 'text/calendar', vcf: 'text/vcard', zip: 'application/zip', gz: 'application/gzip',
  tar: 'application/x-tar', mp3: 'audio/mpeg', mp4: 'video/mp4', odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet', odp: 'application/vnd.oasis.opendocument.presentation',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  yaml: 'application/x-yaml', yml: 'application/x-yaml', sh: 'application/x-shellscript', py: 'text/x-python',
};
/** Nextcloud detects the MIME type from the file name (the request's Content-Type is ignored). */
function mimeFor(name) {
  const dot = name.lastIndexOf('.');
  return (dot > 0 && MIME[name.slice(dot + 1).toLowerCase()]) || 'application/octet-stream';
}

// ---------------------------------------------------------------------------------------------
// A small, tolerant XML parser (enough for WebDAV request bodies): namespaces are resolved, but
// callers match on local names; no DTDs or external entities.

class XmlError extends Error {}

export function parseXml(text) {
  if (Buffer.isBuffer(text)) text = text.toString('utf8');
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;
  const stack = [];
  let root = null;
  const scopes = [{ xml: 'http://www.w3.org/XML/1998/namespace' }];
  const addText = (t) => { if (stack.length) stack[stack.length - 1].text += t; else if (t.trim()) throw new XmlError('text outside the root element'); };
  const tagRe = /<([^\s/>!?]+)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>/y;
  const attrRe = /([^\s=/>]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g;
  while (i < n) {
    const lt = text.indexOf('<', i);
    const end = lt === -1 ? n : lt;
    if (end > i) addText(decodeEntities(text.slice(i, end)));
    if (lt === -1) break;
    if (text.startsWith('<!--', lt)) {
      const e = text.indexOf('-->', lt + 4);
      if (e < 0) throw new XmlError('unterminated comment');
      i = e + 3;
    } else if (text.startsWith('<![CDATA[', lt)) {
      const e = text.indexOf(']]>', lt + 9);
      if (e < 0) throw new XmlError('unterminated CDATA section');
      addText(text.slice(lt + 9, e));
      i = e + 3;
    } else if (text.startsWith('<?', lt)) {
      const e = text.indexOf('?>', lt + 2);
      if (e < 0) throw new XmlError('unterminated processing instruction');
      i = e + 2;
    } else if (text.startsWith('<!', lt)) {
      throw new XmlError('document type declarations are not allowed');
    } else if (text[lt + 1] === '/') {
      const e = text.indexOf('>', lt);
      if (e < 0) throw new XmlError('unterminated end tag');
      const name = text.slice(lt + 2, e).trim();
      const top = stack.pop();
      if (!top || top.qname !== name) throw new XmlError(`unexpected end tag </${name}>`);
      scopes.pop();
      i = e + 1;
    } else {
      tagRe.lastIndex = lt;
      const m = tagRe.exec(text);
      if (!m) throw new XmlError(`malformed tag at offset ${lt}`);
      const [, qname, attrText, selfClosing] = m;
      const scope = { ...scopes[scopes.length - 1] };
      const rawAttrs = [];
      for (const a of attrText.matchAll(attrRe)) {
        const [, an, v1, v2] = a;
        const value = decodeEntities(v1 ?? v2);
        if (an === 'xmlns') scope[''] = value;
        else if (an.startsWith('xmlns:')) scope[an.slice(6)] = value;
        else rawAttrs.push([an, value]);
      }
      const colon = qname.indexOf(':');
      const prefix = colon >= 0 ? qname.slice(0, colon) : '';
      const local = colon >= 0 ? qname.slice(colon + 1) : qname;
      const el = {
        qname, local, ns: scope[prefix] ?? null, attrs: {}, children: [], text: '',
      };
      for (const [an, v] of rawAttrs) el.attrs[an.includes(':') ? an.slice(an.indexOf(':') + 1) : an] = v;
      if (stack.length) stack[stack.length - 1].children.push(el);
      else if (root) throw new XmlError('more than one root element');
      else root = el;
      if (!selfClosing) { stack.push(el); scopes.push(scope); }
      i = tagRe.lastIndex;
    }
  }
  if (stack.length) throw new XmlError(`unclosed element <${stack[stack.length - 1].qname}>`);
  if (!root) throw new XmlError('no root element');
  return root;
}

function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);/g, (m, e) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    const named = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[e];
    if (named === undefined) throw new XmlError(`unknown entity &${e};`);
    return named;
  });
}

const kids = (el, local) => (el ? el.children.filter((c) => !local || c.local === local) : []);
const kid = (el, local) => el?.children.find((c) => c.local === local);
const deepText = (el) => (el ? el.text + el.children.map(deepText).join('') : '');
const propKey = (el) => k(el.ns ?? '', el.local);

// ---------------------------------------------------------------------------------------------
// Errors

/** A sabre/dav exception, rendered as <d:error><s:exception>… with its HTTP status. */
class DavError extends Error {
  constructor(status, exception, message, { header, extraXml = '', headers = {} } = {}) {
    super(message);
    this.status = status;
    this.exception = exception.includes('\\') ? exception : `Sabre\\DAV\\Exception\\${exception}`;
    this.header = header;
    this.extraXml = extraXml;
    this.headers = headers;
  }
}
const notFound = (what) => new DavError(404, 'NotFound', `File with name ${what} could not be located`);
const forbidden = (msg = 'Access denied') => new DavError(403, 'Forbidden', msg);
const badRequest = (msg) => new DavError(400, 'BadRequest', msg);
const methodNotAllowed = (method, allow) => new DavError(405, 'MethodNotAllowed', `The ${method} method is not allowed on this resource`, { headers: allow ? { Allow: allow.join(', ') } : {} });

function davErrorBody(e) {
  return `<?xml version="1.0" encoding="utf-8"?>\n<d:error xmlns:d="DAV:" xmlns:s="http://sabredav.org/ns">\n`
    + `  <s:exception>${esc(e.exception)}</s:exception>\n  <s:message>${esc(e.message)}</s:message>\n`
    + (e.header ? `  <s:header>${esc(e.header)}</s:header>\n` : '')
    + (e.extraXml ? `  ${e.extraXml}\n` : '')
    + '</d:error>\n';
}

class BodyTooLarge extends Error {}

// ---------------------------------------------------------------------------------------------
// iCalendar / vCard (RFC 5545 / 6350 content lines): parse, validate like sabre-vobject, match.

class ParseError extends Error {}

function parseContentLine(line) {
  const m = /^([A-Za-z0-9-]+\.)?([A-Za-z0-9-]+)/.exec(line);
  if (!m) throw new ParseError(`invalid line: ${line.slice(0, 60)}`);
  let i = m[0].length;
  const params = {};
  while (line[i] === ';') {
    i += 1;
    const pm = /^([A-Za-z0-9-]+)/.exec(line.slice(i));
    if (!pm) throw new ParseError(`invalid parameter in line: ${line.slice(0, 60)}`);
    const pname = pm[1].toUpperCase();
    i += pm[1].length;
    if (line[i] !== '=') { (params.TYPE ??= []).push(pname); continue; } // vCard 2.1 bare type
    i += 1;
    const values = [];
    for (;;) {
      if (line[i] === '"') {
        const e = line.indexOf('"', i + 1);
        if (e < 0) throw new ParseError(`unterminated quoted parameter: ${line.slice(0, 60)}`);
        values.push(line.slice(i + 1, e));
        i = e + 1;
      } else {
        const vm = /^[^;:,]*/.exec(line.slice(i));
        values.push(vm[0]);
        i += vm[0].length;
      }
      if (line[i] === ',') { i += 1; continue; }
      break;
    }
    params[pname] = values.length === 1 ? values[0] : values;
  }
  if (line[i] !== ':') throw new ParseError(`missing ":" in line: ${line.slice(0, 60)}`);
  return { group: m[1] ? m[1].slice(0, -1) : null, name: m[2].toUpperCase(), params, value: line.slice(i + 1) };
}

/** Parses iCalendar or vCard text into { name, props: [...], comps: [...] }. */
export function parseVObject(text) {
  const lines = text.replace(/\r\n|\r/g, '\n').replace(/\n[ \t]/g, '').split('\n');
  let root = null;
  const stack = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    const p = parseContentLine(line);
    if (p.name === 'BEGIN') {
      const comp = { name: p.value.trim().toUpperCase(), props: [], comps: [] };
      if (stack.length) stack[stack.length - 1].comps.push(comp);
      else if (root) throw new ParseError('more than one top-level component');
      else root = comp;
      stack.push(comp);
    } else if (p.name === 'END') {
      const top = stack.pop();
      if (!top || top.name !== p.value.trim().toUpperCase()) throw new ParseError(`unexpected END:${p.value}`);
    } else {
      if (!stack.length) throw new ParseError('property outside of a component');
      stack[stack.length - 1].props.push(p);
    }
  }
  if (stack.length) throw new ParseError(`missing END:${stack[stack.length - 1].name}`);
  if (!root) throw new ParseError('no component found');
  return root;
}

const propsNamed = (comp, name) => comp.props.filter((p) => p.name === name);
const firstProp = (comp, name) => comp.props.find((p) => p.name === name);
const unescapeText = (v) => v.replace(/\\([nN,;\\])/g, (m, c) => (c === 'n' || c === 'N' ? '\n' : c));

/** Inserts content lines right after the BEGIN line of the `index`-th component named `name`. */
function insertAfterBegin(text, name, lines, index = 0) {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const re = new RegExp(`^BEGIN:${name}[ \\t]*$`, 'gim');
  let m;
  let seen = 0;
  while ((m = re.exec(text))) {
    if (seen++ === index) {
      const at = m.index + m[0].length;
      return text.slice(0, at) + lines.map((l) => eol + l).join('') + text.slice(at);
    }
  }
  return text;
}

const stamp = () => new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+/, '');

/**
 * sabre/dav's validateICalendar with sabre-vobject's CalDAV profile and REPAIR: returns
 * { data, modified, uid, component } or throws the DavError real Nextcloud would answer.
 */
function validateICalendar(data, supported) {
  let vcal;
  try {
    vcal = parseVObject(data);
  } catch (e) {
    throw new DavError(415, 'UnsupportedMediaType', `This resource only supports valid iCalendar 2.0 data. Parse error: ${e.message}`);
  }
  if (vcal.name !== 'VCALENDAR') throw new DavError(415, 'UnsupportedMediaType', 'This collection can only support iCalendar objects.');
  const objects = vcal.comps.filter((c) => ['VEVENT', 'VTODO', 'VJOURNAL'].includes(c.name));
  const found = objects[0]?.name;
  if (!found || !supported.includes(found)) {
    throw new DavError(403, 'Sabre\\CalDAV\\Exception\\InvalidComponentType', `iCalendar objects must at least have a component of type ${supported.join(', ')}`, {
      extraXml: '<cal:supported-calendar-component xmlns:cal="urn:ietf:params:xml:ns:caldav"/>',
    });
  }
  const fail = (msg) => new DavError(415, 'UnsupportedMediaType', `Validation error in iCalendar: ${msg}`);
  const version = firstProp(vcal, 'VERSION');
  if (version && version.value.trim() !== '2.0') throw fail('Only iCalendar version 2.0 as defined in rfc5545 is supported.');
  if (firstProp(vcal, 'METHOD')) throw fail('A calendar object on a CalDAV server MUST NOT have a METHOD property.');
  if (new Set(objects.map((c) => c.name)).size > 1) throw fail('A calendar object on a CalDAV server may only have 1 type of component (VEVENT, VTODO or VJOURNAL).');
  for (const c of objects) {
    if (c.name === 'VEVENT' && propsNamed(c, 'DTSTART').length !== 1) throw fail('DTSTART MUST appear exactly once in a VEVENT component');
    for (const once of ['DTEND', 'DURATION', 'SUMMARY', 'RRULE', 'RECURRENCE-ID']) {
      if (propsNamed(c, once).length > 1) throw fail(`${once} MUST NOT appear more than once in a ${c.name} component`);
    }
    if (c.name === 'VEVENT' && firstProp(c, 'DTEND') && firstProp(c, 'DURATION')) throw fail('DTEND and DURATION cannot both be present');
    if (c.name === 'VJOURNAL' && !firstProp(c, 'UID')) throw fail('UID MUST appear exactly once in a VJOURNAL component');
  }
  let modified = false;
  const generated = randomUUID();
  // Repairs (level 1 in sabre-vobject): missing VERSION/PRODID, missing UID/DTSTAMP.
  const calLines = [];
  if (!version) calLines.push('VERSION:2.0');
  if (!firstProp(vcal, 'PRODID')) calLines.push('PRODID:-//Sabre//Sabre VObject 4.5.6//EN');
  if (calLines.length) { data = insertAfterBegin(data, 'VCALENDAR', calLines); modified = true; }
  const perName = {};
  for (const c of vcal.comps) {
    const idx = (perName[c.name] = (perName[c.name] ?? -1) + 1);
    if (!['VEVENT', 'VTODO'].includes(c.name)) continue;
    const lines = [];
    if (!firstProp(c, 'UID')) { lines.push(`UID:sabre-vobject-${generated}`); c.props.push({ name: 'UID', params: {}, value: `sabre-vobject-${generated}` }); }
    if (!firstProp(c, 'DTSTAMP')) lines.push(`DTSTAMP:${stamp()}`);
    if (lines.length) { data = insertAfterBegin(data, c.name, lines, idx); modified = true; }
  }
  const uids = new Set(objects.map((c) => firstProp(c, 'UID')?.value.trim()));
  if (uids.size > 1) throw fail('A calendar object on a CalDAV server may only have components with the same UID.');
  const masters = objects.filter((c) => !firstProp(c, 'RECURRENCE-ID'));
  if (masters.length > 1) throw fail(`More than one master object was found for the object with UID ${[...uids][0]}`);
  return { data, modified, uid: [...uids][0], component: found.toLowerCase() };
}

/** sabre/dav's validateVCard with sabre-vobject's CardDAV profile and REPAIR. */
function validateVCard(data) {
  let card;
  try {
    card = parseVObject(data);
  } catch (e) {
    throw new DavError(415, 'UnsupportedMediaType', `This resource only supports valid vCard or jCard data. Parse error: ${e.message}`);
  }
  if (card.name !== 'VCARD') throw new DavError(415, 'UnsupportedMediaType', 'This collection can only support vcard objects.');
  const fail = (msg) => new DavError(415, 'UnsupportedMediaType', `Validation error in vCard: ${msg}`);
  const version = firstProp(card, 'VERSION')?.value.trim();
  if (version === '2.1') throw fail('CardDAV servers are not allowed to accept vCard 2.1.');
  if (version && !['3.0', '4.0'].includes(version)) throw fail('Only vcard version 4.0 (RFC6350), version 3.0 (RFC2426) or version 2.1 (icm-vcard-2.1) are supported.');
  let modified = false;
  const add = [];
  if (!version) add.push('VERSION:4.0');
  let uid = firstProp(card, 'UID')?.value.trim();
  if (!uid) { uid = randomUUID(); add.push(`UID:${uid}`); }
  const fns = propsNamed(card, 'FN');
  if (fns.length > 1) throw fail('The FN property must appear in the VCARD component exactly 1 time');
  if (!fns.length) {
    const n = firstProp(card, 'N');
    let fn = null;
    if (n) { const parts = n.value.split(';'); fn = parts[1] ? `${parts[1]} ${parts[0]}` : parts[0]; }
    else fn = (firstProp(card, 'ORG') ?? firstProp(card, 'NICKNAME') ?? firstProp(card, 'EMAIL'))?.value ?? null;
    if (fn === null) throw fail('The FN property must appear in the VCARD component exactly 1 time');
    add.push(`FN:${fn}`);
  }
  if (add.length) { data = insertAfterBegin(data, 'VCARD', add); modified = true; }
  return { data, modified, uid };
}

// --- dates and time ranges (sabre-vobject's isInTimeRange, RFC 4791 §9.9) ---------------------

const dtfCache = new Map();
function tzOffsetMs(ms, tz) {
  let dtf = dtfCache.get(tz);
  if (!dtf) {
    dtf = new Intl.DateTimeFormat('en-US', { timeZone: tz, hourCycle: 'h23', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' });
    dtfCache.set(tz, dtf);
  }
  const p = Object.fromEntries(dtf.formatToParts(new Date(ms)).map((x) => [x.type, x.value]));
  return Date.UTC(+p.year, +p.month - 1, +p.day, +p.hour, +p.minute, +p.second) - Math.floor(ms / 1000) * 1000;
}

/** An iCalendar DATE or DATE-TIME property → { ms, date } (TZID via the IANA database; floating = UTC). */
function icalTime(prop) {
  if (!prop) return null;
  const v = prop.value.trim();
  const m = /^(\d{4})(\d{2})(\d{2})(?:T(\d{2})(\d{2})(\d{2})(Z)?)?$/.exec(v);
  if (!m) return null;
  const [, y, mo, d, h, mi, s, z] = m;
  if (h === undefined || prop.params.VALUE === 'DATE') return { ms: Date.UTC(+y, +mo - 1, +d), date: true };
  const local = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s);
  const tzid = typeof prop.params.TZID === 'string' ? prop.params.TZID.replace(/^\/[^/]*\/[^/]*\//, '') : null;
  if (z || !tzid) return { ms: local, date: false };
  try {
    let guess = local;
    for (let n = 0; n < 3; n += 1) guess = local - tzOffsetMs(guess, tzid);
    return { ms: guess, date: false };
  } catch {
    return { ms: local, date: false }; // unknown TZID: treated as UTC
  }
}

function parseDuration(v) {
  const m = /^([+-])?P(?:(\d+)W)?(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?$/.exec((v ?? '').trim());
  if (!m) return null;
  const ms = ((+(m[2] ?? 0) * 7 + +(m[3] ?? 0)) * 86400 + +(m[4] ?? 0) * 3600 + +(m[5] ?? 0) * 60 + +(m[6] ?? 0)) * 1000;
  return m[1] === '-' ? -ms : ms;
}

/** time-range attribute value (YYYYMMDDTHHMMSSZ, or a date) → ms, or throws 400. */
function parseRangeValue(v) {
  if (v === undefined) return undefined;
  const t = icalTime({ value: v, params: {} });
  if (!t) throw badRequest(`The supplied time-range value is not a valid iCalendar date-time: ${v}`);
  return t.ms;
}

function compInTimeRange(c, start, end) {
  const s = start ?? -Infinity;
  const e = end ?? Infinity;
  const dtstart = icalTime(firstProp(c, 'DTSTART'));
  switch (c.name) {
    case 'VEVENT': {
      if (!dtstart) return false;
      let effEnd;
      const dtend = icalTime(firstProp(c, 'DTEND'));
      const dur = parseDuration(firstProp(c, 'DURATION')?.value);
      if (dtend) effEnd = dtend.ms;
      else if (dur !== null && firstProp(c, 'DURATION')) effEnd = dtstart.ms + dur;
      else if (dtstart.date) effEnd = dtstart.ms + 86400000;
      else effEnd = dtstart.ms;
      return s < effEnd && e > dtstart.ms;
    }
    case 'VTODO': {
      const due = icalTime(firstProp(c, 'DUE'));
      const dur = firstProp(c, 'DURATION') ? parseDuration(firstProp(c, 'DURATION').value) : null;
      const completed = icalTime(firstProp(c, 'COMPLETED'));
      const created = icalTime(firstProp(c, 'CREATED'));
      if (dtstart && dur !== null) { const en = dtstart.ms + dur; return s <= en && (e > dtstart.ms || e >= en); }
      if (dtstart && due) return (s < due.ms || s <= dtstart.ms) && (e > dtstart.ms || e >= due.ms);
      if (dtstart) return s <= dtstart.ms && e > dtstart.ms;
      if (due) return s < due.ms && e >= due.ms;
      if (completed && created) return (s <= created.ms || s <= completed.ms) && (e >= created.ms || e >= completed.ms);
      if (completed) return s <= completed.ms && e >= completed.ms;
      if (created) return e > created.ms;
      return true;
    }
    case 'VJOURNAL': {
      if (!dtstart) return false;
      const en = dtstart.date ? dtstart.ms + 86400000 : dtstart.ms;
      return dtstart.date ? s < en && e > dtstart.ms : s <= dtstart.ms && e > dtstart.ms;
    }
    default:
      return false;
  }
}

/** sabre/dav StringUtil::textMatch. */
function textMatch(haystack, tm) {
  let h = haystack;
  let n = tm.value;
  switch (tm.collation) {
    case 'i;ascii-casemap': h = h.replace(/[a-z]/g, (c) => c.toUpperCase()); n = n.replace(/[a-z]/g, (c) => c.toUpperCase()); break;
    case 'i;octet': break;
    case 'i;unicode-casemap': h = h.toUpperCase(); n = n.toUpperCase(); break;
    default: throw badRequest(`Collation type: ${tm.collation} is not supported`);
  }
  let r;
  switch (tm.matchType) {
    case 'contains': r = h.includes(n); break;
    case 'equals': r = h === n; break;
    case 'starts-with': r = h.startsWith(n); break;
    case 'ends-with': r = h.endsWith(n); break;
    default: throw badRequest(`Match-type: ${tm.matchType} is not supported`);
  }
  return tm.negate ? !r : r;
}

function readTextMatch(el, defaultCollation) {
  if (!el) return null;
  const matchType = el.attrs['match-type'] ?? 'contains';
  if (!['contains', 'equals', 'starts-with', 'ends-with'].includes(matchType)) throw badRequest(`Unknown match-type: ${matchType}`);
  return { value: deepText(el).trim(), collation: el.attrs.collation ?? defaultCollation, matchType, negate: el.attrs['negate-condition'] === 'yes' };
}

// CalDAV filters (sabre/dav CalendarQueryValidator semantics).
function readCompFilter(el) {
  const tr = kid(el, 'time-range');
  if (tr && el.attrs.name === 'VCALENDAR') throw badRequest('You cannot add time-range filters on the VCALENDAR component');
  const timeRange = tr ? { start: parseRangeValue(tr.attrs.start), end: parseRangeValue(tr.attrs.end) } : null;
  if (timeRange && timeRange.start !== undefined && timeRange.end !== undefined && timeRange.end <= timeRange.start) throw badRequest('The end-date must be larger than the start-date');
  return {
    name: (el.attrs.name ?? '').toUpperCase(),
    isNotDefined: !!kid(el, 'is-not-defined'),
    timeRange,
    compFilters: kids(el, 'comp-filter').map(readCompFilter),
    propFilters: kids(el, 'prop-filter').map(readCalPropFilter),
  };
}
function readCalPropFilter(el) {
  const tr = kid(el, 'time-range');
  return {
    name: (el.attrs.name ?? '').toUpperCase(),
    isNotDefined: !!kid(el, 'is-not-defined'),
    timeRange: tr ? { start: parseRangeValue(tr.attrs.start), end: parseRangeValue(tr.attrs.end) } : null,
    textMatch: readTextMatch(kid(el, 'text-match'), 'i;ascii-casemap'),
    paramFilters: kids(el, 'param-filter').map((p) => ({ name: (p.attrs.name ?? '').toUpperCase(), isNotDefined: !!kid(p, 'is-not-defined'), textMatch: readTextMatch(kid(p, 'text-match'), 'i;ascii-casemap') })),
  };
}
function paramValues(prop, name) {
  const v = prop.params[name];
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
function validateParamFilters(prop, filters) {
  for (const f of filters) {
    const vals = paramValues(prop, f.name);
    if (f.isNotDefined) { if (vals.length) return false; continue; }
    if (!vals.length) return false;
    if (f.textMatch && !vals.some((v) => textMatch(v, f.textMatch))) return false;
  }
  return true;
}
function validateCalPropFilters(comp, filters) {
  for (const f of filters) {
    const props = propsNamed(comp, f.name);
    if (f.isNotDefined) { if (props.length) return false; continue; }
    if (!props.length) return false;
    if (f.timeRange) {
      const s = f.timeRange.start ?? -Infinity;
      const e = f.timeRange.end ?? Infinity;
      if (props.some((p) => { const t = icalTime(p); return t && t.ms >= s && t.ms < e; })) continue;
      return false;
    }
    if (!f.paramFilters.length && !f.textMatch) continue;
    if (!props.some((p) => validateParamFilters(p, f.paramFilters) && (!f.textMatch || textMatch(unescapeText(p.value), f.textMatch)))) return false;
  }
  return true;
}
function validateCompFilters(parent, filters) {
  for (const f of filters) {
    const comps = parent.comps.filter((c) => c.name === f.name);
    if (f.isNotDefined) { if (comps.length) return false; continue; }
    if (!comps.length) return false;
    if (f.timeRange && !comps.some((c) => compInTimeRange(c, f.timeRange.start, f.timeRange.end))) return false;
    if (!f.compFilters.length && !f.propFilters.length) continue;
    if (!comps.some((c) => validateCompFilters(c, f.compFilters) && validateCalPropFilters(c, f.propFilters))) return false;
  }
  return true;
}
function calendarQueryMatches(data, top) {
  let vcal;
  try { vcal = parseVObject(data); } catch { return false; }
  if (top.name !== vcal.name) return false;
  if (top.isNotDefined) return false;
  return validateCompFilters(vcal, top.compFilters) && validateCalPropFilters(vcal, top.propFilters);
}

// CardDAV filters (sabre/dav CardDAV\Plugin::validateFilters).
function readCardFilters(filterEl) {
  const test = filterEl?.attrs.test ?? 'anyof';
  if (test !== 'anyof' && test !== 'allof') throw badRequest('The "test" attribute must be one of "allof" or "anyof"');
  const filters = kids(filterEl, 'prop-filter').map((el) => ({
    name: (el.attrs.name ?? '').toUpperCase(),
    test: el.attrs.test === 'allof' ? 'allof' : 'anyof',
    isNotDefined: !!kid(el, 'is-not-defined'),
    textMatches: kids(el, 'text-match').map((t) => readTextMatch(t, 'i;unicode-casemap')),
    paramFilters: kids(el, 'param-filter').map((p) => ({ name: (p.attrs.name ?? '').toUpperCase(), isNotDefined: !!kid(p, 'is-not-defined'), textMatch: readTextMatch(kid(p, 'text-match'), 'i;unicode-casemap') })),
  }));
  return { test, filters };
}
function cardMatches(data, { test, filters }) {
  if (!filters.length) return true;
  let card;
  try { card = parseVObject(data); } catch { return false; }
  for (const f of filters) {
    const props = propsNamed(card, f.name);
    let ok;
    if (f.isNotDefined) ok = props.length === 0;
    else if ((!f.paramFilters.length && !f.textMatches.length) || !props.length) ok = props.length > 0;
    else {
      const results = [];
      if (f.paramFilters.length) {
        const pr = f.paramFilters.map((pf) => {
          const vals = props.flatMap((p) => paramValues(p, pf.name));
          if (pf.isNotDefined) return vals.length === 0;
          if (!pf.textMatch || !vals.length) return vals.length > 0;
          return vals.some((v) => textMatch(v, pf.textMatch));
        });
        results.push(f.test === 'anyof' ? pr.some(Boolean) : pr.every(Boolean));
      }
      if (f.textMatches.length) {
        const texts = props.map((p) => unescapeText(p.value));
        const tr = f.textMatches.map((tm) => texts.some((t) => textMatch(t, tm)));
        results.push(f.test === 'anyof' ? tr.some(Boolean) : tr.every(Boolean));
      }
      ok = results.length === 1 ? results[0] : f.test === 'anyof' ? results[0] || results[1] : results[0] && results[1];
    }
    if (test === 'anyof' && ok) return true;
    if (test === 'allof' && !ok) return false;
  }
  return test === 'allof';
}

// ---------------------------------------------------------------------------------------------
// Notes (the Notes app's NoteUtil / Note / MetaService behaviour)

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

// ---------------------------------------------------------------------------------------------
// The server

/**
 * Starts the stand-in. `idpIssuer` (loopback only) enables Bearer auth; `basicUsers` maps user id →
 * app password for Basic auth. `bearerCacheTtlMs` (≤ 60000) bounds how long a good token is trusted
 * without asking the IdP again. `log` (function) receives one line per request; never tokens.
 */
export async function startNextcloud({ port = 0, idpIssuer, basicUsers = {}, bearerCacheTtlMs = 60000, log = null } = {}) {
  if (idpIssuer !== undefined && idpIssuer !== null && idpIssuer !== '') {
    if (!isLoopbackUrl(idpIssuer)) throw new Error(`idpIssuer must be a loopback http(s) URL, got ${idpIssuer}`);
    idpIssuer = idpIssuer.replace(/\/+$/, '');
  } else {
    idpIssuer = null;
  }
  const ttl = Math.max(0, Math.min(60000, bearerCacheTtlMs));
  const basic = new Map(Object.entries(basicUsers));
  const instanceId = `oc${randomBytes(5).toString('hex')}`;
  let nextFileId = 1;
  const users = new Map();
  const tokenCache = new Map(); // sha256(token) → { info, expires }
  let discovery = null;

  // ---- per-user data ------------------------------------------------------------------------

  function newCalendar(uri, displayname, components = ['VEVENT', 'VTODO']) {
    return { uri, displayname, components, color: '#0082c9', order: 0, synctoken: 1, objects: new Map(), dead: new Map() };
  }
  function getUser(id, info = {}) {
    let u = users.get(id);
    if (!u) {
      const t = nowSec();
      u = {
        id,
        displayName: id,
        email: null,
        files: new Map([['', { type: 'dir', fileid: nextFileId++, etag: newFileEtag(), mtime: t, dead: new Map() }]]),
        notes: new Map(),
        notesSettings: { fileSuffix: '.md', notesPath: 'Notes', noteMode: 'edit' },
        calendars: new Map([['personal', newCalendar('personal', 'Personal', ['VEVENT'])]]),
        addressbooks: new Map([['contacts', { uri: 'contacts', displayname: 'Contacts', synctoken: 1, objects: new Map(), dead: new Map() }]]),
        lastLogin: t,
      };
      users.set(id, u);
    }
    if (info.email) u.email = info.email;
    if (info.name) u.displayName = info.name;
    return u;
  }

  // ---- state for tests ----------------------------------------------------------------------

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

  const state = {
    /** How many times the IdP's userinfo endpoint was asked about a token. */
    bearerChecks: 0,
    /** How many requests carried a Bearer token that was refused. */
    rejectedBearer: 0,
    /** One entry per request: { method, path, user, auth, status } (no query strings, no tokens). */
    requests: [],
    users: () => [...users.keys()],
    notes: (user) => [...(users.get(user)?.notes.values() ?? [])].sort((a, b) => a.id - b.id).map((n) => publicNote(users.get(user), n)),
    files: (user) => [...(users.get(user)?.files ?? [])].map(([p, e]) => ({ path: p, type: e.type, fileid: e.fileid, etag: e.etag, mtime: e.mtime, size: e.type === 'file' ? e.content.length : undefined, contentType: e.mime })),
    /** The content of a file as a string (utf8), or undefined. */
    readFile: (user, p) => { const e = users.get(user)?.files.get(normRel(p)); return e?.type === 'file' ? e.content.toString('utf8') : undefined; },
    calendars: (user) => [...(users.get(user)?.calendars.values() ?? [])].map((c) => ({ uri: c.uri, displayname: c.displayname, components: [...c.components], ctag: `http://sabre.io/ns/sync/${c.synctoken}` })),
    events: (user, calendar = 'personal') => [...(users.get(user)?.calendars.get(calendar)?.objects.values() ?? [])].map((o) => ({ ...o })),
    cards: (user, book = 'contacts') => [...(users.get(user)?.addressbooks.get(book)?.objects.values() ?? [])].map((o) => ({ ...o })),
    seed: {
      note: (user, fields = {}) => publicNote(getUser(user), createNote(getUser(user), fields)),
      file: (user, p, content) => { const u = getUser(user); mkdirs(u, parentRel(normRel(p))); putFileEntry(u, normRel(p), Buffer.from(content), null); },
      folder: (user, p) => { mkdirs(getUser(user), normRel(p)); },
      event: (user, name, ics, calendar = 'personal') => { const r = validateICalendar(ics, getUser(user).calendars.get(calendar).components); storeObject(getUser(user).calendars.get(calendar), name, r); },
      card: (user, name, vcf, book = 'contacts') => { const r = validateVCard(vcf); storeObject(getUser(user).addressbooks.get(book), name, r); },
    },
    /** Forgets cached Bearer validations (the next request with a token asks the IdP again). */
    forgetTokens: () => tokenCache.clear(),
    reset: () => { users.clear(); tokenCache.clear(); state.requests.length = 0; state.bearerChecks = 0; state.rejectedBearer = 0; },
  };

  // ---- authentication -----------------------------------------------------------------------

  async function discoverUserinfo() {
    if (!discovery) {
      discovery = (async () => {
        const r = await fetch(`${idpIssuer}/.well-known/openid-configuration`, { signal: AbortSignal.timeout(5000), redirect: 'error' });
        if (r.status !== 200) throw new Error(`discovery answered ${r.status}`);
        const doc = await r.json();
        if (typeof doc.userinfo_endpoint !== 'string' || !isLoopbackUrl(doc.userinfo_endpoint)) throw new Error('discovery has no loopback userinfo_endpoint');
        return doc.userinfo_endpoint;
      })();
      discovery.catch(() => { discovery = null; });
    }
    return discovery;
  }

  async function validateBearer(token) {
    if (!idpIssuer || !token) return null;
    const key = sha256(token);
    const hit = tokenCache.get(key);
    if (hit && hit.expires > Date.now()) return hit.info;
    tokenCache.delete(key);
    let endpoint;
    try {
      endpoint = await discoverUserinfo();
    } catch (e) {
      log?.(`bearer validation impossible: ${e.message}`);
      return null;
    }
    state.bearerChecks += 1;
    let info;
    try {
      const r = await fetch(endpoint, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: AbortSignal.timeout(5000), redirect: 'error' });
      if (r.status !== 200) { await r.arrayBuffer().catch(() => {}); return null; }
      info = await r.json();
    } catch {
      return null;
    }
    if (!info || typeof info.sub !== 'string' || !info.sub || info.sub.includes('/')) return null;
    const result = { id: info.sub, email: typeof info.email === 'string' ? info.email : null, name: typeof info.name === 'string' ? info.name : null };
    if (ttl > 0) {
      if (tokenCache.size > 1000) for (const [kk, v] of tokenCache) if (v.expires <= Date.now()) tokenCache.delete(kk);
      tokenCache.set(key, { info: result, expires: Date.now() + ttl });
    }
    return result;
  }

  /** → the user record, or null (no/failed credentials). Sets ctx.authKind. */
  async function authenticate(ctx) {
    const h = ctx.req.headers.authorization;
    if (!h) return null;
    const m = /^(\S+)\s+(\S.*)$/.exec(h.trim());
    if (!m) return null;
    const scheme = m[1].toLowerCase();
    if (scheme === 'bearer') {
      ctx.authKind = 'bearer';
      const info = await validateBearer(m[2].trim());
      if (!info) { state.rejectedBearer += 1; return null; }
      return getUser(info.id, info);
    }
    if (scheme === 'basic') {
      ctx.authKind = 'basic';
      const decoded = Buffer.from(m[2].trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return null;
      const user = decoded.slice(0, colon);
      const expected = basic.get(user);
      if (expected === undefined) return null;
      const a = Buffer.from(sha256(decoded.slice(colon + 1)));
      const b = Buffer.from(sha256(expected));
      return timingSafeEqual(a, b) ? getUser(user) : null;
    }
    return null;
  }

  // ---- responses ----------------------------------------------------------------------------

  function send(ctx, status, body = '', headers = {}) {
    ctx.status = status;
    const buf = Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8');
    const h = { 'X-Content-Type-Options': 'nosniff', ...headers };
    if (status !== 304 && status !== 204) h['Content-Length'] = String(buf.length);
    ctx.res.writeHead(status, h);
    ctx.res.end(status === 304 || status === 204 || ctx.method === 'HEAD' ? undefined : buf);
  }
  const sendJson = (ctx, status, obj, headers = {}) => send(ctx, status, JSON.stringify(obj), { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  const challenge = (dav) => (dav ? ['Bearer realm="Nextcloud"', 'Basic realm="Nextcloud", charset="UTF-8"'] : 'Bearer realm="Nextcloud"');

  // ---- request entry ------------------------------------------------------------------------

  async function readBody(ctx) {
    const { req } = ctx;
    const declared = Number(req.headers['content-length']);
    if (declared > MAX_BODY * 10) { ctx.res.setHeader('Connection', 'close'); throw new BodyTooLarge(); }
    return new Promise((resolve, reject) => {
      const chunks = [];
      let size = 0;
      let tooLarge = declared > MAX_BODY;
      req.on('data', (c) => {
        size += c.length;
        if (size > MAX_BODY) tooLarge = true;
        if (!tooLarge) chunks.push(c);
        if (size > MAX_BODY * 10) req.destroy();
      });
      req.on('end', () => (tooLarge ? reject(new BodyTooLarge()) : resolve(Buffer.concat(chunks))));
      req.on('error', reject);
    });
  }

  async function onRequest(req, res) {
    const ctx = { req, res, method: req.method.toUpperCase(), url: new URL(req.url, 'http://127.0.0.1'), user: null, authKind: null, status: 0 };
    try {
      await route(ctx);
    } catch (e) {
      if (e instanceof BodyTooLarge) {
        if (!res.headersSent) send(ctx, 413, 'Request body too large (limit 10 MB)\n', { 'Content-Type': 'text/plain; charset=utf-8' });
      } else {
        log?.(`internal error: ${e.stack ?? e}`);
        if (!res.headersSent) send(ctx, 500, 'Internal Server Error\n', { 'Content-Type': 'text/plain; charset=utf-8' });
        else res.destroy();
      }
    }
    const entry = { method: ctx.method, path: ctx.url.pathname, user: ctx.user?.id ?? null, auth: ctx.authKind, status: ctx.status || res.statusCode };
    state.requests.push(entry);
    if (state.requests.length > 10000) state.requests.splice(0, state.requests.length - 10000);
    log?.(`${entry.method} ${entry.path} -> ${entry.status} (${entry.user ?? '-'}${entry.auth ? `/${entry.auth}` : ''})`);
  }

  async function route(ctx) {
    const p = ctx.url.pathname;
    if (p === '/status.php') {
      if (!['GET', 'HEAD'].includes(ctx.method)) return send(ctx, 405, '', { Allow: 'GET, HEAD' });
      return sendJson(ctx, 200, { installed: true, maintenance: false, needsDbUpgrade: false, version: `${NC_VERSION.string}.0`, versionstring: NC_VERSION.string, edition: '', productname: 'Nextcloud', extendedSupport: false });
    }
    if (p === '/.well-known/caldav' || p === '/.well-known/carddav') return send(ctx, 301, '', { Location: DAV_ROOT });
    let m;
    if ((m = /^\/ocs\/v([12])\.php(\/.*)?$/.exec(p))) return handleOcs(ctx, Number(m[1]), m[2] ?? '/');
    if ((m = /^(?:\/index\.php)?\/apps\/notes(\/.*)?$/.exec(p))) return handleNotes(ctx, m[1] ?? '/');
    if (p === '/remote.php/dav' || p.startsWith(DAV_ROOT)) return handleDav(ctx);
    return send(ctx, 404, 'Not Found\n', { 'Content-Type': 'text/plain; charset=utf-8' });
  }

  // ---- OCS ----------------------------------------------------------------------------------

  function ocsSend(ctx, v, httpStatus, ocsStatus, message, data) {
    const meta = { status: ocsStatus < 300 && ocsStatus !== 997 ? 'ok' : 'failure', statuscode: ocsStatus, message, totalitems: '', itemsperpage: '' };
    const fmt = ctx.url.searchParams.get('format') ?? ((ctx.req.headers.accept ?? '').includes('application/json') ? 'json' : 'xml');
    if (fmt === 'json') return sendJson(ctx, httpStatus, { ocs: { meta, data } });
    const toXml = (val, ind) => {
      if (val === null || val === undefined) return '';
      if (Array.isArray(val)) return val.map((x) => `\n${ind}<element>${toXml(x, `${ind} `)}</element>`).join('') + (val.length ? `\n${ind.slice(1)}` : '');
      if (typeof val === 'object') {
        const ents = Object.entries(val);
        return ents.map(([kk, x]) => `\n${ind}<${kk}>${toXml(x, `${ind} `)}</${kk}>`).join('') + (ents.length ? `\n${ind.slice(1)}` : '');
      }
      return esc(typeof val === 'boolean' ? (val ? '1' : '') : val);
    };
    const xml = `<?xml version="1.0"?>\n<ocs>\n <meta>${toXml(meta, '  ')}</meta>\n <data>${toXml(data, '  ')}</data>\n</ocs>\n`;
    return send(ctx, httpStatus, xml, { 'Content-Type': 'application/xml; charset=utf-8' });
  }

  async function handleOcs(ctx, v, sub) {
    const ok = v === 1 ? 100 : 200;
    const route = sub.replace(/\/+$/, '');
    if (route === '/cloud/capabilities') {
      if (ctx.method !== 'GET') return send(ctx, 405, '');
      ctx.user = await authenticate(ctx);
      return ocsSend(ctx, v, 200, ok, 'OK', {
        version: NC_VERSION,
        capabilities: {
          core: { pollinterval: 60, 'webdav-root': 'remote.php/webdav' },
          dav: { chunking: '1.0', bulkupload: '1.0' },
          notes: { api_version: ['0.2', '1.3', '1.4'], version: '4.12.0' },
        },
      });
    }
    if (route !== '/cloud/user') {
      return ocsSend(ctx, v, 404, v === 1 ? 998 : 404, 'Invalid query, please check the syntax. API specifications are here: http://www.freedesktop.org/wiki/Specifications/open-collaboration-services.', []);
    }
    if (ctx.method !== 'GET') return send(ctx, 405, '', { Allow: 'GET' });
    ctx.user = await authenticate(ctx);
    if (!ctx.user) {
      ctx.res.setHeader('WWW-Authenticate', challenge(false));
      return ocsSend(ctx, v, 401, 997, 'Current user is not logged in', []);
    }
    // SecurityMiddleware: OCS controllers pass the CSRF check only with OCS-APIRequest: true or
    // a Bearer Authorization header.
    const ocsHeader = ctx.req.headers['ocs-apirequest'];
    if (ocsHeader !== 'true' && ctx.authKind !== 'bearer') return sendJson(ctx, 412, { message: 'CSRF check failed' });
    const u = ctx.user;
    const used = [...u.files.values()].reduce((s, e) => s + (e.type === 'file' ? e.content.length : 0), 0);
    return ocsSend(ctx, v, 200, ok, 'OK', {
      enabled: true,
      storageLocation: `/var/www/html/data/${u.id}`,
      id: u.id,
      firstLoginTimestamp: u.lastLogin,
      lastLoginTimestamp: u.lastLogin,
      lastLogin: u.lastLogin * 1000,
      backend: basic.has(u.id) && ctx.authKind === 'basic' ? 'Database' : 'user_oidc',
      subadmin: [],
      quota: { free: 10737418240 - used, used, total: 10737418240, relative: 0, quota: -3 },
      manager: '',
      email: u.email,
      additional_mail: [],
      phone: '',
      address: '',
      website: '',
      twitter: '',
      fediverse: '',
      organisation: '',
      role: '',
      headline: '',
      biography: '',
      profile_enabled: '1',
      pronouns: '',
      groups: [],
      language: 'en',
      locale: '',
      notify_email: null,
      backendCapabilities: { setDisplayName: false, setPassword: false },
      'display-name': u.displayName,
    });
  }

  // ---- Notes API ----------------------------------------------------------------------------

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
    const n = { id: nextFileId++, suffix: u.notesSettings.fileSuffix, content: String(content), favorite: !!favorite, modified: modified || nowSec(), etag: null, lastUpdate: 0 };
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
    ctx.user = await authenticate(ctx);
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

  // ---- files store --------------------------------------------------------------------------

  function normRel(p) { return String(p).split('/').filter(Boolean).join('/'); }
  const parentRel = (rel) => (rel.includes('/') ? rel.slice(0, rel.lastIndexOf('/')) : '');
  const baseName = (rel) => rel.slice(rel.lastIndexOf('/') + 1);
  function childrenOf(u, rel) {
    const out = [];
    for (const [p, e] of u.files) if (p !== '' && parentRel(p) === rel) out.push([p, e]);
    return out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  }
  function descendantsOf(u, rel) {
    const out = [];
    for (const [p, e] of u.files) if (p !== rel && (rel === '' || p.startsWith(`${rel}/`))) out.push([p, e]);
    return out;
  }
  function sizeOf(u, rel, e) {
    if (e.type === 'file') return e.content.length;
    return descendantsOf(u, rel).reduce((s, [, d]) => s + (d.type === 'file' ? d.content.length : 0), 0);
  }
  /** Nextcloud's propagator: every ancestor gets a new ETag and an mtime no older than `t`. */
  function propagate(u, rel, t = nowSec()) {
    let p = rel;
    while (p !== '') {
      p = parentRel(p);
      const e = u.files.get(p);
      if (e) { e.etag = newFileEtag(); e.mtime = Math.max(e.mtime, t); }
    }
  }
  function putFileEntry(u, rel, content, mtime) {
    const existing = u.files.get(rel);
    const name = baseName(rel);
    const e = existing ?? { type: 'file', fileid: nextFileId++, dead: new Map(), favorite: false };
    Object.assign(e, { content, mime: mimeFor(name), etag: newFileEtag(), mtime: mtime ?? nowSec() });
    u.files.set(rel, e);
    propagate(u, rel);
    return { entry: e, created: !existing };
  }
  function mkdirEntry(u, rel) {
    const e = { type: 'dir', fileid: nextFileId++, etag: newFileEtag(), mtime: nowSec(), dead: new Map(), favorite: false };
    u.files.set(rel, e);
    propagate(u, rel);
    return e;
  }
  function mkdirs(u, rel) {
    const segs = rel.split('/').filter(Boolean);
    for (let i = 1; i <= segs.length; i += 1) {
      const p = segs.slice(0, i).join('/');
      if (!u.files.has(p)) mkdirEntry(u, p);
      else if (u.files.get(p).type !== 'dir') throw new Error(`${p} is a file`);
    }
  }
  function deleteTree(u, rel) {
    for (const [p] of descendantsOf(u, rel)) u.files.delete(p);
    u.files.delete(rel);
    propagate(u, rel);
  }

  function storeObject(coll, name, { data, uid, component }) {
    const existing = coll.objects.get(name);
    const obj = { name, uid, data, etag: md5(data), lastmodified: nowSec(), size: Buffer.byteLength(data) };
    if (component) obj.component = component;
    coll.objects.set(name, obj);
    coll.synctoken += 1;
    return { obj, created: !existing };
  }

  // ---- DAV: nodes -----------------------------------------------------------------------------

  const principalHref = (uid) => `${DAV_ROOT}principals/users/${uid}/`;
  const hrefXml = (h) => `<d:href>${esc(encodePath(h))}</d:href>`;
  const PRIVILEGES = ['write', 'write-properties', 'write-content', 'unlock', 'bind', 'unbind', 'write-acl', 'read', 'read-acl', 'read-current-user-privilege-set']
    .map((p) => `<d:privilege><d:${p}/></d:privilege>`).join('');

  /** A DAV node: { href, collection, etag ("…" or null), props: {key: xml | () => xml}, allprop: [keys], children() }. */
  function makeNode(ctx, href, collection, props, allprop, children = () => [], extra = {}) {
    const all = { [D('current-user-principal')]: hrefXml(principalHref(ctx.user.id)), ...props };
    return { href, collection, props: all, allprop, children, etag: null, ...extra };
  }

  function fileNode(ctx, u, rel, e) {
    const isDir = e.type === 'dir';
    const href = `${DAV_ROOT}files/${u.id}/${rel}${isDir && rel ? '/' : ''}`;
    const size = () => String(sizeOf(u, rel, e));
    const props = {
      [D('getlastmodified')]: httpDate(e.mtime),
      [D('resourcetype')]: isDir ? '<d:collection/>' : '',
      [D('getetag')]: esc(`"${e.etag}"`),
      [D('displayname')]: esc(rel ? baseName(rel) : u.id),
      [k(NS.oc, 'fileid')]: String(e.fileid),
      [k(NS.oc, 'id')]: `${String(e.fileid).padStart(8, '0')}${instanceId}`,
      [k(NS.oc, 'size')]: size,
      [k(NS.oc, 'permissions')]: isDir ? 'RGDNVCK' : 'RGDNVW',
      [k(NS.oc, 'favorite')]: e.favorite ? '1' : '0',
      [k(NS.oc, 'owner-id')]: esc(u.id),
      [k(NS.oc, 'owner-display-name')]: esc(u.displayName),
      [k(NS.nc, 'has-preview')]: 'false',
      [k(NS.nc, 'mount-type')]: '',
      [k(NS.oc, 'data-fingerprint')]: '',
    };
    if (isDir) {
      props[D('quota-used-bytes')] = size;
      props[D('quota-available-bytes')] = '-3';
    } else {
      props[D('getcontentlength')] = size;
      props[D('getcontenttype')] = esc(e.mime);
    }
    for (const [kk, v] of e.dead ?? []) props[kk] ??= esc(v);
    const allprop = isDir
      ? [D('getlastmodified'), D('resourcetype'), D('quota-used-bytes'), D('quota-available-bytes'), D('getetag')]
      : [D('getlastmodified'), D('getcontentlength'), D('resourcetype'), D('getetag'), D('getcontenttype')];
    return makeNode(ctx, href, isDir, props, allprop, () => childrenOf(u, rel).map(([p, c]) => fileNode(ctx, u, p, c)), {
      etag: isDir ? null : `"${e.etag}"`, kind: isDir ? 'dir' : 'file', entry: e, rel, owner: u,
    });
  }

  function ctag(coll) { return `http://sabre.io/ns/sync/${coll.synctoken}`; }

  function calendarNode(ctx, u, cal) {
    const href = `${DAV_ROOT}calendars/${u.id}/${cal.uri}/`;
    const props = {
      [D('resourcetype')]: '<d:collection/><cal:calendar/>',
      [D('displayname')]: esc(cal.displayname),
      [k(NS.cs, 'getctag')]: esc(ctag(cal)),
      [D('sync-token')]: esc(ctag(cal)),
      [k(NS.sabre, 'sync-token')]: String(cal.synctoken),
      [k(NS.cal, 'supported-calendar-component-set')]: cal.components.map((c) => `<cal:comp name="${esc(c)}"/>`).join(''),
      [k(NS.cal, 'supported-calendar-data')]: '<cal:calendar-data content-type="text/calendar" version="2.0"/><cal:calendar-data content-type="application/calendar+json"/>',
      [k(NS.apple, 'calendar-color')]: esc(cal.color),
      [k(NS.apple, 'calendar-order')]: String(cal.order),
      [D('owner')]: hrefXml(principalHref(u.id)),
      [k(NS.oc, 'owner-principal')]: esc(`principals/users/${u.id}`),
      [k(NS.nc, 'owner-displayname')]: esc(u.displayName),
      [D('current-user-privilege-set')]: PRIVILEGES,
    };
    for (const [kk, v] of cal.dead) props[kk] = esc(v);
    const allprop = [D('resourcetype'), D('displayname'), k(NS.cs, 'getctag'), D('sync-token'), k(NS.cal, 'supported-calendar-component-set'), k(NS.apple, 'calendar-color')];
    return makeNode(ctx, href, true, props, allprop, () => [...cal.objects.values()].map((o) => objectNode(ctx, href, o, 'cal')), { kind: 'calendar', cal, owner: u });
  }

  function objectNode(ctx, parentHref, o, type) {
    const props = {
      [D('getetag')]: esc(`"${o.etag}"`),
      [D('getlastmodified')]: httpDate(o.lastmodified),
      [D('getcontentlength')]: String(o.size),
      [D('getcontenttype')]: type === 'cal' ? `text/calendar; charset=utf-8${o.component ? `; component=${o.component}` : ''}` : 'text/vcard; charset=utf-8',
      [D('resourcetype')]: '',
    };
    props[type === 'cal' ? k(NS.cal, 'calendar-data') : k(NS.card, 'address-data')] = () => esc(o.data);
    const allprop = [D('getlastmodified'), D('getcontentlength'), D('resourcetype'), D('getetag'), D('getcontenttype')];
    return makeNode(ctx, parentHref + o.name, false, props, allprop, () => [], { etag: `"${o.etag}"`, kind: type === 'cal' ? 'calobj' : 'card', obj: o });
  }

  function addressbookNode(ctx, u, book) {
    const href = `${DAV_ROOT}addressbooks/users/${u.id}/${book.uri}/`;
    const props = {
      [D('resourcetype')]: '<d:collection/><card:addressbook/>',
      [D('displayname')]: esc(book.displayname),
      [k(NS.cs, 'getctag')]: esc(ctag(book)),
      [D('sync-token')]: esc(ctag(book)),
      [k(NS.sabre, 'sync-token')]: String(book.synctoken),
      [k(NS.card, 'supported-address-data')]: '<card:address-data-type content-type="text/vcard" version="3.0"/><card:address-data-type content-type="text/vcard" version="4.0"/><card:address-data-type content-type="application/vcard+json" version="4.0"/>',
      [D('owner')]: hrefXml(principalHref(u.id)),
      [k(NS.oc, 'owner-principal')]: esc(`principals/users/${u.id}`),
      [D('current-user-privilege-set')]: PRIVILEGES,
    };
    for (const [kk, v] of book.dead) props[kk] = esc(v);
    const allprop = [D('resourcetype'), D('displayname'), k(NS.cs, 'getctag'), D('sync-token')];
    return makeNode(ctx, href, true, props, allprop, () => [...book.objects.values()].map((o) => objectNode(ctx, href, o, 'card')), { kind: 'addressbook', book, owner: u });
  }

  function principalNode(ctx, u) {
    const props = {
      [D('resourcetype')]: '<d:principal/>',
      [D('displayname')]: esc(u.displayName),
      [D('principal-URL')]: hrefXml(principalHref(u.id)),
      [k(NS.cal, 'calendar-home-set')]: hrefXml(`${DAV_ROOT}calendars/${u.id}/`),
      [k(NS.card, 'addressbook-home-set')]: hrefXml(`${DAV_ROOT}addressbooks/users/${u.id}/`),
      [k(NS.cal, 'schedule-inbox-URL')]: hrefXml(`${DAV_ROOT}calendars/${u.id}/inbox/`),
      [k(NS.cal, 'schedule-outbox-URL')]: hrefXml(`${DAV_ROOT}calendars/${u.id}/outbox/`),
      [k(NS.cal, 'calendar-user-type')]: 'INDIVIDUAL',
      [k(NS.cal, 'calendar-user-address-set')]: (u.email ? `<d:href>mailto:${esc(u.email)}</d:href>` : '') + hrefXml(principalHref(u.id)),
    };
    if (u.email) props[k(NS.sabre, 'email-address')] = esc(u.email);
    return makeNode(ctx, principalHref(u.id), true, props, [D('resourcetype'), D('displayname')], () => [], { kind: 'principal' });
  }

  const plainCollection = (ctx, href, children = () => []) => makeNode(ctx, href, true, { [D('resourcetype')]: '<d:collection/>' }, [D('resourcetype')], children, { kind: 'collection' });

  /**
   * Resolves a DAV path (segments after /remote.php/dav/) to a node, or null if nothing is there.
   * Throws 403 for another user's tree.
   */
  function resolve(ctx, segs) {
    const me = ctx.user;
    const own = (uid) => { if (uid !== me.id) throw forbidden(`Access to another user's resources (${uid}) is not allowed`); return me; };
    const [area, ...rest] = segs;
    if (area === undefined) {
      return plainCollection(ctx, DAV_ROOT, () => ['principals', 'calendars', 'addressbooks', 'files'].map((a) => plainCollection(ctx, `${DAV_ROOT}${a}/`)));
    }
    if (area === 'files') {
      if (!rest.length) return plainCollection(ctx, `${DAV_ROOT}files/`, () => [fileNode(ctx, me, '', me.files.get(''))]);
      const u = own(rest[0]);
      const rel = rest.slice(1).join('/');
      const e = u.files.get(rel);
      return e ? fileNode(ctx, u, rel, e) : null;
    }
    if (area === 'calendars') {
      if (!rest.length) return plainCollection(ctx, `${DAV_ROOT}calendars/`, () => [resolve(ctx, ['calendars', me.id])]);
      const u = own(rest[0]);
      const homeHref = `${DAV_ROOT}calendars/${u.id}/`;
      const special = (name, rt) => makeNode(ctx, `${homeHref}${name}/`, true, { [D('resourcetype')]: `<d:collection/>${rt}`, [D('owner')]: hrefXml(principalHref(u.id)) }, [D('resourcetype')], () => [], { kind: name });
      const specials = { inbox: '<cal:schedule-inbox/>', outbox: '<cal:schedule-outbox/>', trashbin: '<nc:trash-bin/>' };
      if (rest.length === 1) {
        return makeNode(ctx, homeHref, true, { [D('resourcetype')]: '<d:collection/>', [D('owner')]: hrefXml(principalHref(u.id)) }, [D('resourcetype')], () => [
          ...[...u.calendars.values()].map((c) => calendarNode(ctx, u, c)),
          ...Object.entries(specials).map(([n, rt]) => special(n, rt)),
        ], { kind: 'calendar-home', owner: u });
      }
      if (specials[rest[1]]) return rest.length === 2 ? special(rest[1], specials[rest[1]]) : null;
      const cal = u.calendars.get(rest[1]);
      if (!cal) return null;
      if (rest.length === 2) return calendarNode(ctx, u, cal);
      if (rest.length > 3) return null;
      const o = cal.objects.get(rest[2]);
      return o ? objectNode(ctx, `${DAV_ROOT}calendars/${u.id}/${cal.uri}/`, o, 'cal') : null;
    }
    if (area === 'addressbooks') {
      if (!rest.length) return plainCollection(ctx, `${DAV_ROOT}addressbooks/`, () => [plainCollection(ctx, `${DAV_ROOT}addressbooks/users/`)]);
      if (rest[0] !== 'users') return null;
      if (rest.length === 1) return plainCollection(ctx, `${DAV_ROOT}addressbooks/users/`, () => [resolve(ctx, ['addressbooks', 'users', me.id])]);
      const u = own(rest[1]);
      const homeHref = `${DAV_ROOT}addressbooks/users/${u.id}/`;
      if (rest.length === 2) {
        return makeNode(ctx, homeHref, true, { [D('resourcetype')]: '<d:collection/>', [D('owner')]: hrefXml(principalHref(u.id)) }, [D('resourcetype')], () => [...u.addressbooks.values()].map((b) => addressbookNode(ctx, u, b)), { kind: 'addressbook-home', owner: u });
      }
      const book = u.addressbooks.get(rest[2]);
      if (!book) return null;
      if (rest.length === 3) return addressbookNode(ctx, u, book);
      if (rest.length > 4) return null;
      const o = book.objects.get(rest[3]);
      return o ? objectNode(ctx, `${homeHref}${book.uri}/`, o, 'card') : null;
    }
    if (area === 'principals') {
      if (!rest.length) return plainCollection(ctx, `${DAV_ROOT}principals/`, () => [plainCollection(ctx, `${DAV_ROOT}principals/users/`)]);
      if (rest[0] !== 'users') return null;
      if (rest.length === 1) return plainCollection(ctx, `${DAV_ROOT}principals/users/`, () => [principalNode(ctx, me)]);
      if (rest.length !== 2) return null;
      const u = rest[1] === me.id ? me : users.get(rest[1]);
      return u ? principalNode(ctx, u) : null;
    }
    return null;
  }

  /** Splits and decodes a path below /remote.php/dav/ (from a request or an href). */
  function davSegments(pathname) {
    let p = pathname;
    if (p === '/remote.php/dav') p = DAV_ROOT;
    if (!p.startsWith(DAV_ROOT)) return null;
    const segs = p.slice(DAV_ROOT.length).split('/').filter(Boolean).map((s) => {
      let d;
      try { d = decodeURIComponent(s); } catch { throw badRequest('Invalid percent-encoding in the request path'); }
      if (d === '.' || d === '..' || d.includes('/') || d.includes('\0')) throw new DavError(400, 'OCA\\DAV\\Connector\\Sabre\\Exception\\InvalidPath', `Invalid path segment: ${d}`);
      return d;
    });
    return segs;
  }
  /** An href from a request body or Destination header (absolute URL or absolute path). */
  function hrefSegments(href) {
    let pathname;
    try { pathname = new URL(href.trim(), 'http://127.0.0.1').pathname; } catch { return null; }
    return davSegments(pathname);
  }

  // ---- DAV: multistatus -----------------------------------------------------------------------

  function tagFor(key) {
    const m = /^\{([^}]*)\}(.*)$/.exec(key);
    const [ns, local] = m ? [m[1], m[2]] : ['', key];
    const prefix = PREFIX.get(ns);
    if (prefix) return { name: `${prefix}:${local}`, decl: '' };
    if (!ns) return { name: local, decl: ' xmlns=""' };
    return { name: `x1:${local}`, decl: ` xmlns:x1="${esc(ns)}"` };
  }
  function propXml(key, value) {
    const { name, decl } = tagFor(key);
    return value === '' || value === null || value === undefined ? `<${name}${decl}/>` : `<${name}${decl}>${value}</${name}>`;
  }
  const statusLine = (code) => `HTTP/1.1 ${code} ${http.STATUS_CODES[code]}`;

  /** responses: [{ href, status } | { href, propstat: { 200: [[key, xml]], 404: [[key]] … } }] */
  function multistatus(responses, { minimal = false, syncToken } = {}) {
    let out = `<?xml version="1.0"?>\n<d:multistatus${XMLNS_ALL}>`;
    for (const r of responses) {
      out += `<d:response><d:href>${esc(encodePath(r.href))}</d:href>`;
      if (r.status) {
        out += `<d:status>${statusLine(r.status)}</d:status>`;
      } else {
        let any = false;
        for (const [code, list] of Object.entries(r.propstat)) {
          if (!list.length || (minimal && code === '404')) continue;
          any = true;
          out += `<d:propstat><d:prop>${list.map(([kk, v]) => propXml(kk, v)).join('')}</d:prop><d:status>${statusLine(Number(code))}</d:status></d:propstat>`;
        }
        if (!any) out += `<d:propstat><d:prop/><d:status>${statusLine(418)}</d:status></d:propstat>`;
      }
      out += '</d:response>';
    }
    if (syncToken) out += `<d:sync-token>${esc(syncToken)}</d:sync-token>`;
    return `${out}</d:multistatus>\n`;
  }

  /** The propstat for one node: request = { mode: 'allprop'|'prop'|'propname', keys: [...] }. */
  function propstatFor(node, request) {
    const value = (kk) => { const v = node.props[kk]; return typeof v === 'function' ? v() : v; };
    if (request.mode === 'propname') return { 200: Object.keys(node.props).map((kk) => [kk, '']) };
    if (request.mode === 'allprop') return { 200: [...node.allprop, ...(request.include ?? [])].filter((kk) => node.props[kk] !== undefined).map((kk) => [kk, value(kk)]) };
    const found = [];
    const missing = [];
    for (const { key, local, loose } of request.keys) {
      let kk = key;
      if (node.props[kk] === undefined && loose) kk = Object.keys(node.props).find((x) => x.endsWith(`}${local}`)) ?? key;
      if (node.props[kk] !== undefined) found.push([kk, value(kk)]);
      else missing.push([key, '']);
    }
    return { 200: found, 404: missing };
  }
  const requestedKeys = (propEl) => kids(propEl).map((c) => ({ key: propKey(c), local: c.local, loose: c.ns === null }));

  const minimalRequested = (ctx) => /return=minimal/i.test(ctx.req.headers.prefer ?? '') || (ctx.req.headers.brief ?? '').toLowerCase() === 't';

  function sendMultistatus(ctx, responses, opts = {}) {
    return send(ctx, 207, multistatus(responses, { minimal: minimalRequested(ctx), ...opts }), {
      'Content-Type': 'application/xml; charset=utf-8', Vary: 'Brief,Prefer', DAV: '1, 3, extended-mkcol, access-control, calendar-access, addressbook, nextcloud-checksum-update',
    });
  }

  function parseBodyXml(body) {
    try {
      return parseXml(body);
    } catch (e) {
      throw badRequest(e instanceof XmlError ? e.message : 'The request body is not valid XML');
    }
  }

  // ---- DAV: entry -----------------------------------------------------------------------------

  async function handleDav(ctx) {
    try {
      await davDispatch(ctx);
    } catch (e) {
      if (!(e instanceof DavError)) throw e;
      send(ctx, e.status, davErrorBody(e), { 'Content-Type': 'application/xml; charset=utf-8', ...e.headers });
    }
  }

  async function davDispatch(ctx) {
    const segs = davSegments(ctx.url.pathname);
    ctx.user = await authenticate(ctx);
    if (!ctx.user) {
      throw new DavError(401, 'NotAuthenticated', "No public access to this resource., No 'Authorization: Basic' header found. Either the client didn't send one, or the server is misconfigured, No 'Authorization: Bearer' header found. Either the client didn't send one, or the server is mis-configured", { headers: { 'WWW-Authenticate': challenge(true) } });
    }
    const body = await readBody(ctx);
    ctx.body = body;
    const node = resolve(ctx, segs);
    const method = ctx.method;
    if (method === 'OPTIONS') {
      return send(ctx, 200, '', {
        DAV: '1, 3, extended-mkcol, access-control, calendarserver-principal-property-search, calendar-access, calendar-proxy, calendar-auto-schedule, calendar-availability, addressbook, nextcloud-checksum-update, nc-calendar-search',
        'MS-Author-Via': 'DAV', Allow: allowedMethods(segs, node).join(', '), 'Accept-Ranges': 'bytes',
      });
    }
    if (method === 'SEARCH') {
      if (segs.length) throw methodNotAllowed(method, allowedMethods(segs, node));
      return davSearch(ctx);
    }
    if ((method === 'MKCOL' || method === 'MKCALENDAR') && node) {
      throw new DavError(405, 'MethodNotAllowed', 'The resource you tried to create already exists', { headers: { Allow: allowedMethods(segs, node).join(', ') } });
    }
    if (!allowedMethods(segs, node).includes(method)) {
      if (!node && ['GET', 'HEAD', 'PROPFIND', 'PROPPATCH', 'DELETE', 'MOVE', 'COPY', 'REPORT'].includes(method)) throw notFound(segs.join('/'));
      throw methodNotAllowed(method, allowedMethods(segs, node));
    }
    if (checkPreconditions(ctx, node) === 304) return send(ctx, 304, '', node?.etag ? { ETag: node.etag } : {});
    switch (method) {
      case 'PROPFIND': return davPropfind(ctx, node);
      case 'GET': case 'HEAD': return davGet(ctx, node);
      case 'PUT': return davPut(ctx, segs, node);
      case 'MKCOL': return davMkcol(ctx, segs);
      case 'MKCALENDAR': return davMkcalendar(ctx, segs);
      case 'DELETE': return davDelete(ctx, segs, node);
      case 'MOVE': case 'COPY': return davMoveCopy(ctx, segs, node);
      case 'PROPPATCH': return davProppatch(ctx, node);
      case 'REPORT': return davReport(ctx, node);
      default: throw methodNotAllowed(method, allowedMethods(segs, node));
    }
  }

  function allowedMethods(segs, node) {
    const area = segs[0];
    const base = ['OPTIONS', 'GET', 'HEAD', 'PROPFIND'];
    if (!node) {
      if (area === 'files' && segs.length >= 3) return ['OPTIONS', 'PUT', 'MKCOL'];
      if (area === 'calendars' && segs.length === 3) return ['OPTIONS', 'MKCALENDAR', 'MKCOL'];
      if (area === 'calendars' && segs.length === 4) return ['OPTIONS', 'PUT'];
      if (area === 'addressbooks' && segs.length === 5) return ['OPTIONS', 'PUT'];
      return ['OPTIONS'];
    }
    switch (node.kind) {
      case 'file': return [...base, 'PUT', 'DELETE', 'PROPPATCH', 'MOVE', 'COPY', 'REPORT'];
      case 'dir': return node.rel === '' ? [...base, 'PUT', 'PROPPATCH', 'REPORT'] : [...base, 'PUT', 'DELETE', 'PROPPATCH', 'MOVE', 'COPY', 'REPORT'];
      case 'calendar': case 'addressbook': return [...base, 'DELETE', 'PROPPATCH', 'REPORT'];
      case 'calobj': case 'card': return [...base, 'PUT', 'DELETE', 'REPORT'];
      case 'calendar-home': case 'addressbook-home': return [...base, 'REPORT'];
      default: return [...base, 'REPORT'];
    }
  }

  /** sabre/dav Server::checkPreconditions (If-Match / If-None-Match). → true, or 304 for GET. */
  function checkPreconditions(ctx, node) {
    const h = ctx.req.headers;
    const ifMatch = h['if-match'];
    if (ifMatch) {
      if (!node) throw new DavError(412, 'PreconditionFailed', 'An If-Match header was specified and the resource did not exist', { header: 'If-Match' });
      if (ifMatch !== '*') {
        const etag = node.etag;
        const ok = etag !== null && ifMatch.split(',').some((t) => { const x = t.trim(); return x === etag || x.replace(/\\"/g, '"') === etag; });
        if (!ok) throw new DavError(412, 'PreconditionFailed', 'An If-Match header was specified, but none of the specified ETags matched.', { header: 'If-Match', headers: etag ? { ETag: etag } : {} });
      }
    }
    const inm = h['if-none-match'];
    if (inm && node) {
      const etag = node.etag;
      const match = inm === '*' || (etag !== null && inm.split(',').some((t) => t.trim() === etag));
      if (match) {
        if (ctx.method === 'GET' || ctx.method === 'HEAD') return 304;
        throw new DavError(412, 'PreconditionFailed', 'An If-None-Match header was specified, but the ETag matched (or * was specified).', { header: 'If-None-Match', headers: etag ? { ETag: etag } : {} });
      }
    }
    return true;
  }

  function depthOf(ctx, dflt) {
    const d = ctx.req.headers.depth;
    if (d === undefined) return dflt;
    if (d.toLowerCase() === 'infinity') return Infinity;
    return /^\d+$/.test(d) ? Number(d) : dflt;
  }

  function collect(node, depth, out = []) {
    out.push(node);
    if (depth > 0 && node.collection) for (const c of node.children()) collect(c, depth - 1, out);
    return out;
  }

  function davPropfind(ctx, node) {
    let request = { mode: 'allprop' };
    if (ctx.body.length) {
      const doc = parseBodyXml(ctx.body);
      if (doc.local !== 'propfind') throw badRequest(`The root element must be {DAV:}propfind, got ${doc.local}`);
      const propEl = kid(doc, 'prop');
      if (propEl) request = { mode: 'prop', keys: requestedKeys(propEl) };
      else if (kid(doc, 'propname')) request = { mode: 'propname' };
      else request = { mode: 'allprop', include: kids(kid(doc, 'include')).map(propKey) };
    }
    const nodes = collect(node, depthOf(ctx, 1));
    return sendMultistatus(ctx, nodes.map((n) => ({ href: n.href, propstat: propstatFor(n, request) })));
  }

  function davGet(ctx, node) {
    if (node.kind === 'file') {
      const e = node.entry;
      const name = baseName(node.rel);
      const headers = {
        'Content-Type': e.mime,
        ETag: `"${e.etag}"`,
        'OC-ETag': `"${e.etag}"`,
        'Last-Modified': httpDate(e.mtime),
        'Content-Disposition': `attachment; filename*=UTF-8''${encodeURIComponent(name)}; filename="${encodeURIComponent(name)}"`,
        'Accept-Ranges': 'bytes',
      };
      const size = e.content.length;
      const range = /^bytes=(\d*)-(\d*)$/.exec((ctx.req.headers.range ?? '').trim());
      if (range && size && (range[1] !== '' || range[2] !== '')) {
        let start; let end;
        if (range[1] !== '') { start = Number(range[1]); end = range[2] !== '' ? Math.min(Number(range[2]), size - 1) : size - 1; }
        else { start = Math.max(0, size - Number(range[2])); end = size - 1; }
        if (start >= size || end < start) throw new DavError(416, 'RequestedRangeNotSatisfiable', `The start offset (${start}) exceeded the size of the entity (${size})`);
        return send(ctx, 206, e.content.subarray(start, end + 1), { ...headers, 'Content-Range': `bytes ${start}-${end}/${size}` });
      }
      return send(ctx, 200, e.content, headers);
    }
    if (node.kind === 'calobj' || node.kind === 'card') {
      const o = node.obj;
      return send(ctx, 200, o.data, { 'Content-Type': node.kind === 'calobj' ? 'text/calendar; charset=utf-8' : 'text/vcard; charset=utf-8', ETag: `"${o.etag}"`, 'Last-Modified': httpDate(o.lastmodified) });
    }
    // Nextcloud's DummyGetResponsePlugin for collections.
    return send(ctx, 200, 'This is the WebDAV interface. It can only be accessed by WebDAV clients such as the Nextcloud desktop sync client.', { 'Content-Type': 'text/plain;charset=UTF-8' });
  }

  function validateName(name) {
    if (name.includes('\\')) throw new DavError(400, 'OCA\\DAV\\Connector\\Sabre\\Exception\\InvalidPath', `"\\" is not allowed inside a file or folder name.`);
    if (name.toLowerCase() === '.htaccess') throw new DavError(400, 'OCA\\DAV\\Connector\\Sabre\\Exception\\InvalidPath', `"${name}" is a forbidden file or folder name.`);
    if (name.trim() !== name && name.endsWith(' ')) throw new DavError(400, 'OCA\\DAV\\Connector\\Sabre\\Exception\\InvalidPath', `"${name}" is not allowed to end with a space.`);
  }

  function davPut(ctx, segs, node) {
    if (ctx.req.headers['content-range']) throw badRequest('Content-Range on PUT requests are forbidden.');
    const area = segs[0];
    if (area === 'files') {
      const u = ctx.user;
      const rel = segs.slice(2).join('/');
      if (node?.kind === 'dir') throw new DavError(409, 'Conflict', 'PUT is not allowed on non-files.');
      const parent = u.files.get(parentRel(rel));
      if (!parent) throw new DavError(409, 'Conflict', 'Files cannot be created in non-existent collections');
      if (parent.type !== 'dir') throw new DavError(409, 'Conflict', 'Files can only be created as children of collections');
      validateName(baseName(rel));
      const mt = ctx.req.headers['x-oc-mtime'];
      const mtime = mt && /^\d+(\.\d+)?$/.test(mt) ? Math.floor(Number(mt)) : null;
      const { entry, created } = putFileEntry(u, rel, ctx.body, mtime);
      const headers = { ETag: `"${entry.etag}"`, 'OC-ETag': `"${entry.etag}"`, 'OC-FileId': `${String(entry.fileid).padStart(8, '0')}${instanceId}` };
      if (mtime !== null) headers['X-OC-MTime'] = 'accepted';
      return send(ctx, created ? 201 : 204, '', headers);
    }
    if (area === 'calendars' || area === 'addressbooks') {
      const isCal = area === 'calendars';
      const u = ctx.user;
      const collName = isCal ? segs[2] : segs[3];
      const name = isCal ? segs[3] : segs[4];
      const coll = isCal ? u.calendars.get(collName) : u.addressbooks.get(collName);
      if (!coll) {
        if (isCal && ['inbox', 'outbox', 'trashbin'].includes(collName)) throw forbidden('Permission denied to create file');
        throw new DavError(409, 'Conflict', 'Files cannot be created in non-existent collections');
      }
      const text = ctx.body.toString('utf8');
      const r = isCal ? validateICalendar(text, coll.components) : validateVCard(text);
      for (const o of coll.objects.values()) {
        if (o.uid === r.uid && o.name !== name) {
          throw badRequest(isCal ? 'Calendar object with uid already exists in this calendar collection.' : 'VCard object with uid already exists in this addressbook collection.');
        }
      }
      const { obj, created } = storeObject(coll, name, r);
      return send(ctx, created ? 201 : 204, '', r.modified ? {} : { ETag: `"${obj.etag}"` });
    }
    throw methodNotAllowed('PUT');
  }

  function davMkcol(ctx, segs) {
    if (segs[0] === 'calendars' && segs.length === 3) return davMkcalendar(ctx, segs);
    if (segs[0] !== 'files' || segs.length < 3) throw methodNotAllowed('MKCOL');
    if (ctx.body.length) {
      const ct = ctx.req.headers['content-type'] ?? '';
      if (!/^(application|text)\/xml/.test(ct)) throw new DavError(415, 'UnsupportedMediaType', 'The request body for the MKCOL request must have an xml Content-Type');
    }
    const u = ctx.user;
    const rel = segs.slice(2).join('/');
    const parent = u.files.get(parentRel(rel));
    if (!parent) throw new DavError(409, 'Conflict', 'Parent node does not exist');
    if (parent.type !== 'dir') throw new DavError(409, 'Conflict', 'Parent node is not a collection');
    validateName(baseName(rel));
    const e = mkdirEntry(u, rel);
    return send(ctx, 201, '', { 'OC-FileId': `${String(e.fileid).padStart(8, '0')}${instanceId}` });
  }

  function davMkcalendar(ctx, segs) {
    if (segs[0] !== 'calendars' || segs.length !== 3) throw methodNotAllowed('MKCALENDAR');
    const u = ctx.user;
    const uri = segs[2];
    if (u.calendars.has(uri) || ['inbox', 'outbox', 'trashbin'].includes(uri)) throw new DavError(405, 'MethodNotAllowed', 'The resource you tried to create already exists');
    const cal = newCalendar(uri, uri);
    if (ctx.body.length) {
      const doc = parseBodyXml(ctx.body);
      const prop = kid(kid(doc, 'set'), 'prop');
      const dn = kid(prop, 'displayname');
      if (dn) cal.displayname = deepText(dn).trim();
      const set = kid(prop, 'supported-calendar-component-set');
      if (set) cal.components = kids(set, 'comp').map((c) => (c.attrs.name ?? '').toUpperCase()).filter(Boolean);
      const color = kid(prop, 'calendar-color');
      if (color) cal.color = deepText(color).trim();
      const descr = kid(prop, 'calendar-description');
      if (descr) cal.dead.set(k(NS.cal, 'calendar-description'), deepText(descr));
    }
    u.calendars.set(uri, cal);
    return send(ctx, 201, '');
  }

  function davDelete(ctx, segs, node) {
    const u = ctx.user;
    switch (node.kind) {
      case 'file': case 'dir':
        if (node.rel === '') throw forbidden();
        deleteTree(u, node.rel);
        break;
      case 'calobj': { const cal = u.calendars.get(segs[2]); cal.objects.delete(segs[3]); cal.synctoken += 1; break; }
      case 'card': { const book = u.addressbooks.get(segs[3]); book.objects.delete(segs[4]); book.synctoken += 1; break; }
      case 'calendar': u.calendars.delete(segs[2]); break;
      case 'addressbook': u.addressbooks.delete(segs[3]); break;
      default: throw forbidden();
    }
    return send(ctx, 204, '');
  }

  function davMoveCopy(ctx, segs, node) {
    const isMove = ctx.method === 'MOVE';
    if (node.kind !== 'file' && node.kind !== 'dir') throw forbidden(`${ctx.method} is not supported on this resource`);
    const destHeader = ctx.req.headers.destination;
    if (!destHeader) throw badRequest('The destination header was not supplied');
    const depthH = ctx.req.headers.depth ?? 'infinity';
    let depth;
    if (depthH.toLowerCase() === 'infinity') depth = Infinity;
    else if (/^\d+$/.test(depthH)) depth = Number(depthH);
    else throw badRequest('The HTTP Depth header may only be "infinity", 0 or a positive integer');
    if (isMove && depth !== Infinity) throw badRequest('The HTTP Depth header must only contain "infinity" for MOVE');
    const ow = (ctx.req.headers.overwrite ?? 'T').toUpperCase();
    if (ow !== 'T' && ow !== 'F') throw badRequest('The HTTP Overwrite header should be either T or F');
    const dsegs = hrefSegments(destHeader);
    if (!dsegs) throw forbidden(`Requested uri (${destHeader}) is out of base uri (${DAV_ROOT})`);
    if (dsegs[0] !== 'files' || dsegs.length < 2) throw forbidden('The destination is not in a files tree');
    if (dsegs[1] !== ctx.user.id) throw forbidden(`Access to another user's resources (${dsegs[1]}) is not allowed`);
    if (dsegs.length < 3) throw new DavError(409, 'Conflict', 'The destination node is not found');
    const u = ctx.user;
    const src = node.rel;
    const dst = dsegs.slice(2).join('/');
    const dparent = u.files.get(parentRel(dst));
    if (!dparent) throw new DavError(409, 'Conflict', 'The destination node is not found');
    if (dparent.type !== 'dir') throw new DavError(415, 'UnsupportedMediaType', 'The destination node is not a collection');
    const destExists = u.files.has(dst);
    if (destExists && ow === 'F') throw new DavError(412, 'PreconditionFailed', 'The destination node already exists, and the overwrite header is set to false', { header: 'Overwrite' });
    if (dst === src) throw forbidden('Source and destination uri are identical.');
    if (dst.startsWith(`${src}/`)) throw new DavError(409, 'Conflict', 'The destination may not be part of the same subtree as the source path.');
    if (src.startsWith(`${dst}/`)) throw new DavError(409, 'Conflict', 'The destination may not be a parent of the source path.');
    if (src === '') throw forbidden();
    validateName(baseName(dst));
    if (destExists) deleteTree(u, dst);
    const moved = [[src, u.files.get(src)], ...descendantsOf(u, src)];
    if (isMove) {
      for (const [p] of moved) u.files.delete(p);
      propagate(u, src);
      for (const [p, e] of moved) u.files.set(dst + p.slice(src.length), e);
    } else {
      const srcDepth = src.split('/').length;
      for (const [p, e] of moved) {
        if (p.split('/').length - srcDepth > depth) continue;
        const copy = { ...e, fileid: nextFileId++, etag: newFileEtag(), dead: new Map(e.dead ?? []) };
        u.files.set(dst + p.slice(src.length), copy);
      }
    }
    propagate(u, dst);
    return send(ctx, destExists ? 204 : 201, '');
  }

  function davProppatch(ctx, node) {
    const doc = parseBodyXml(ctx.body);
    if (doc.local !== 'propertyupdate') throw badRequest('The root element must be {DAV:}propertyupdate');
    const protectedKeys = new Set([D('getetag'), D('getcontentlength'), D('getcontenttype'), D('resourcetype'), D('getlastmodified'), k(NS.oc, 'fileid'), k(NS.oc, 'id'), k(NS.oc, 'size'), k(NS.oc, 'permissions'), k(NS.cs, 'getctag'), D('sync-token'), k(NS.cal, 'supported-calendar-component-set'), D('current-user-principal'), D('owner')]);
    const ops = [];
    for (const op of doc.children) {
      if (op.local !== 'set' && op.local !== 'remove') continue;
      for (const p of kids(kid(op, 'prop'))) ops.push({ set: op.local === 'set', key: propKey(p), local: p.local, value: deepText(p) });
    }
    const store = node.entry?.dead ?? node.cal?.dead ?? node.book?.dead;
    const failed = ops.some((o) => protectedKeys.has(o.key) || !store);
    const result = { 200: [], 403: [], 424: [] };
    for (const o of ops) {
      if (protectedKeys.has(o.key) || !store) { result[403].push([o.key, '']); continue; }
      if (failed) { result[424].push([o.key, '']); continue; }
      if (o.key === k(NS.oc, 'favorite') && node.entry) node.entry.favorite = o.set && o.value.trim() === '1';
      else if (o.key === D('displayname') && (node.cal || node.book)) (node.cal ?? node.book).displayname = o.set ? o.value : (node.cal ?? node.book).uri;
      else if (o.key === k(NS.apple, 'calendar-color') && node.cal) node.cal.color = o.set ? o.value.trim() : '#0082c9';
      else if (o.set) store.set(o.key, o.value);
      else store.delete(o.key);
      result[200].push([o.key, '']);
    }
    if (!failed && (node.cal || node.book)) (node.cal ?? node.book).synctoken += 1;
    return sendMultistatus(ctx, [{ href: node.href, propstat: result }], { minimal: false });
  }

  function davReport(ctx, node) {
    const doc = parseBodyXml(ctx.body);
    const propEl = kid(doc, 'prop');
    const request = propEl ? { mode: 'prop', keys: requestedKeys(propEl) } : { mode: 'prop', keys: [] };
    switch (doc.local) {
      case 'calendar-query': {
        const filterEl = kid(doc, 'filter');
        if (!filterEl) throw badRequest('The {urn:ietf:params:xml:ns:caldav}filter element is required for this request');
        const topEl = kid(filterEl, 'comp-filter');
        if (!topEl) throw badRequest('The {urn:ietf:params:xml:ns:caldav}filter element must contain a comp-filter');
        const top = readCompFilter(topEl);
        const depth = depthOf(ctx, 0);
        let candidates = [];
        if (node.kind === 'calobj' && depth === 0) candidates = [node];
        else if (node.kind === 'calendar') {
          if (depth === 0) throw badRequest('A calendar-query REPORT on a calendar with a Depth: 0 is undefined. Set Depth to 1');
          candidates = node.children();
        }
        const matches = candidates.filter((n) => calendarQueryMatches(n.obj.data, top));
        return sendMultistatus(ctx, matches.map((n) => ({ href: n.href, propstat: propstatFor(n, request) })));
      }
      case 'addressbook-query': {
        const depth = depthOf(ctx, 0);
        let candidates;
        if (depth === 0) {
          if (node.kind !== 'card') throw new DavError(415, 'ReportNotSupported', 'The addressbook-query report is not supported on this url with Depth: 0', { extraXml: '<d:supported-report/>' });
          candidates = [node];
        } else {
          candidates = node.children().filter((n) => n.kind === 'card');
        }
        const filters = readCardFilters(kid(doc, 'filter'));
        const nres = Number.parseInt(deepText(kid(kid(doc, 'limit'), 'nresults')), 10);
        let matches = candidates.filter((n) => cardMatches(n.obj.data, filters));
        if (nres > 0) matches = matches.slice(0, nres);
        return sendMultistatus(ctx, matches.map((n) => ({ href: n.href, propstat: propstatFor(n, request) })));
      }
      case 'calendar-multiget':
      case 'addressbook-multiget': {
        const wantKind = doc.local === 'calendar-multiget' ? 'calobj' : 'card';
        const out = [];
        for (const h of kids(doc, 'href')) {
          let n = null;
          try {
            const s = hrefSegments(deepText(h));
            n = s ? resolve(ctx, s) : null;
          } catch (e) {
            if (!(e instanceof DavError)) throw e;
          }
          if (n && n.kind === wantKind) out.push({ href: n.href, propstat: propstatFor(n, request) });
        }
        return sendMultistatus(ctx, out);
      }
      default:
        throw new DavError(415, 'ReportNotSupported', `The {${doc.ns ?? ''}}${doc.local} REPORT is not supported on this url.`, { extraXml: '<d:supported-report/>' });
    }
  }

  // ---- DAV: SEARCH (RFC 5323 basicsearch over the user's files) ------------------------------

  function davSearch(ctx) {
    const ct = ctx.req.headers['content-type'] ?? '';
    if (!/^(text|application)\/xml\b/i.test(ct)) throw new DavError(501, 'NotImplemented', 'There was no plugin in the system that was willing to handle this SEARCH method.');
    const doc = parseBodyXml(ctx.body);
    if (doc.local !== 'searchrequest') throw badRequest('The root element must be {DAV:}searchrequest');
    const bs = kid(doc, 'basicsearch');
    if (!bs) throw badRequest('Only {DAV:}basicsearch is supported');
    const select = kid(kid(bs, 'select'), 'prop');
    const request = select ? { mode: 'prop', keys: requestedKeys(select) } : { mode: 'allprop' };
    const scope = kid(kid(bs, 'from'), 'scope');
    const scopeHref = deepText(kid(scope, 'href')).trim();
    if (!scopeHref) throw badRequest('The search request has no scope');
    let scopePath;
    try { scopePath = new URL(scopeHref, 'http://127.0.0.1').pathname; } catch { throw badRequest('Invalid scope href'); }
    if (scopePath.startsWith(DAV_ROOT)) scopePath = scopePath.slice(DAV_ROOT.length - 1);
    const ssegs = scopePath.split('/').filter(Boolean).map((s) => { try { return decodeURIComponent(s); } catch { throw badRequest('Invalid scope href'); } });
    if (ssegs[0] !== 'files' || ssegs.length < 2) throw badRequest('Search is only supported on files (scope /files/{user}/…)');
    if (ssegs[1] !== ctx.user.id) throw forbidden(`Access to another user's resources (${ssegs[1]}) is not allowed`);
    const u = ctx.user;
    const scopeRel = ssegs.slice(2).join('/');
    const scopeEntry = u.files.get(scopeRel);
    if (!scopeEntry) throw notFound(scopeRel);
    const depthText = deepText(kid(scope, 'depth')).trim().toLowerCase() || 'infinity';
    const depth = depthText === 'infinity' ? Infinity : Number.parseInt(depthText, 10);
    const baseDepth = scopeRel ? scopeRel.split('/').length : 0;
    let hits = descendantsOf(u, scopeRel).filter(([p]) => p.split('/').length - baseDepth <= depth);
    const whereEl = kids(kid(bs, 'where'))[0];
    if (whereEl) hits = hits.filter(([p, e]) => evalWhere(whereEl, u, p, e));
    const orders = kids(kid(bs, 'orderby'), 'order').map((o) => ({ prop: kids(kid(o, 'prop'))[0], desc: !!kid(o, 'descending') })).filter((o) => o.prop);
    hits.sort((a, b) => {
      for (const o of orders) {
        const va = searchValue(o.prop, u, a[0], a[1]);
        const vb = searchValue(o.prop, u, b[0], b[1]);
        const c = typeof va === 'number' && typeof vb === 'number' ? va - vb : String(va).localeCompare(String(vb));
        if (c) return o.desc ? -c : c;
      }
      return a[1].fileid - b[1].fileid;
    });
    const limitEl = kid(bs, 'limit');
    const first = Number.parseInt(deepText(kid(limitEl, 'firstresult')), 10) || 0;
    const nres = Number.parseInt(deepText(kid(limitEl, 'nresults')), 10);
    hits = hits.slice(first, nres > 0 ? first + nres : undefined);
    return sendMultistatus(ctx, hits.map(([p, e]) => { const n = fileNode(ctx, u, p, e); return { href: n.href, propstat: propstatFor(n, request) }; }));
  }

  function searchValue(propEl, u, p, e) {
    switch (propEl.local) {
      case 'displayname': return baseName(p);
      case 'getcontenttype': return e.type === 'dir' ? 'httpd/unix-directory' : e.mime;
      case 'getlastmodified': case 'lastmodified': return e.mtime;
      case 'size': case 'getcontentlength': return sizeOf(u, p, e);
      case 'fileid': return e.fileid;
      case 'favorite': return e.favorite ? 1 : 0;
      case 'owner-id': return u.id;
      case 'resourcetype': return e.type === 'dir' ? 'collection' : '';
      default: throw badRequest(`Search on property ${propEl.local} is not supported`);
    }
  }
  function likeToRegex(pattern) {
    let re = '';
    for (let i = 0; i < pattern.length; i += 1) {
      const c = pattern[i];
      if (c === '\\' && i + 1 < pattern.length) { i += 1; re += pattern[i].replace(/[.*+?^${}()|[\]\\]/g, '\\$&'); } else if (c === '%') re += '[\\s\\S]*';
      else if (c === '_') re += '[\\s\\S]';
      else re += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
    return new RegExp(`^${re}$`, 'iu');
  }
  function evalWhere(el, u, p, e) {
    switch (el.local) {
      case 'and': return kids(el).every((c) => evalWhere(c, u, p, e));
      case 'or': return kids(el).some((c) => evalWhere(c, u, p, e));
      case 'not': { const c = kids(el)[0]; return c ? !evalWhere(c, u, p, e) : true; }
      case 'is-collection': return e.type === 'dir';
      case 'eq': case 'like': case 'gt': case 'gte': case 'lt': case 'lte': {
        const propEl = kids(kid(el, 'prop'))[0];
        if (!propEl) throw badRequest(`{DAV:}${el.local} needs a {DAV:}prop`);
        const literal = deepText(kid(el, 'literal'));
        const v = searchValue(propEl, u, p, e);
        if (el.local === 'like') return likeToRegex(literal).test(String(v));
        let lit = literal.trim();
        if (typeof v === 'number') {
          lit = /^-?\d+(\.\d+)?$/.test(lit) ? Number(lit) : Math.floor(Date.parse(lit) / 1000);
          if (Number.isNaN(lit)) throw badRequest(`Invalid literal for ${propEl.local}: ${literal}`);
        }
        switch (el.local) {
          case 'eq': return v === lit;
          case 'gt': return v > lit;
          case 'gte': return v >= lit;
          case 'lt': return v < lit;
          default: return v <= lit;
        }
      }
      default: throw badRequest(`Unsupported search operator {${el.ns ?? ''}}${el.local}`);
    }
  }

  // ---- listen -------------------------------------------------------------------------------

  const server = http.createServer((req, res) => { onRequest(req, res).catch((e) => { log?.(`unhandled: ${e?.message ?? e}`); try { res.destroy(); } catch { /* gone */ } }); });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => { server.off('error', reject); resolve(); });
  });
  const actualPort = server.address().port;
  const base = `http://127.0.0.1:${actualPort}`;
  return {
    base,
    port: actualPort,
    state,
    close: () => new Promise((resolve) => { server.close(() => resolve()); server.closeAllConnections?.(); }),
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

function parseCli(argv, env) {
  const opts = {
    port: env.NEXTCLOUD_STANDIN_PORT ? Number(env.NEXTCLOUD_STANDIN_PORT) : 0,
    idpIssuer: env.NEXTCLOUD_STANDIN_IDP_ISSUER || undefined,
    basicUsers: {},
  };
  const addBasic = (spec) => {
    for (const item of spec.split(',').map((s) => s.trim()).filter(Boolean)) {
      const i = item.indexOf(':');
      if (i <= 0) throw new Error(`--basic-user wants user:app-password, got "${item.slice(0, i < 0 ? item.length : i)}:…"`);
      opts.basicUsers[item.slice(0, i)] = item.slice(i + 1);
    }
  };
  if (env.NEXTCLOUD_STANDIN_BASIC_USERS) addBasic(env.NEXTCLOUD_STANDIN_BASIC_USERS);
  for (let i = 0; i < argv.length; i += 1) {
    const [flag, inline] = argv[i].includes('=') ? [argv[i].slice(0, argv[i].indexOf('=')), argv[i].slice(argv[i].indexOf('=') + 1)] : [argv[i], undefined];
    const value = () => { if (inline !== undefined) return inline; i += 1; if (i >= argv.length) throw new Error(`${flag} needs a value`); return argv[i]; };
    switch (flag) {
      case '--port': opts.port = Number(value()); break;
      case '--idp-issuer': opts.idpIssuer = value(); break;
      case '--basic-user': addBasic(value()); break;
      case '--help': case '-h':
        process.stdout.write('usage: node tests/nextcloud/standin.mjs [--port N] [--idp-issuer URL] [--basic-user user:app-password]...\n');
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${flag}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new Error('--port must be 0..65535');
  return opts;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let opts;
  try {
    opts = parseCli(process.argv.slice(2), process.env);
  } catch (e) {
    process.stderr.write(`nextcloud-standin: ${e.message}\n`);
    process.exit(2);
  }
  const nc = await startNextcloud({ ...opts, log: (line) => process.stderr.write(`nextcloud-standin: ${line}\n`) });
  process.stdout.write(`nextcloud-standin listening on ${nc.base}\n`);
  const stop = async () => { await nc.close(); process.exit(0); };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
