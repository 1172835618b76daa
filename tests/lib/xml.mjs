// A small, tolerant XML parser for tests (WebDAV multistatus, OCS XML): namespaces are resolved
// (`ns` is the namespace URI, `local` the local name), no DTDs or external entities. Elements are
// { qname, local, ns, attrs, children, text }.

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


export const xmlKids = (el, local) => (el ? el.children.filter((c) => !local || c.local === local) : []);
export const xmlKid = (el, local) => el?.children.find((c) => c.local === local);
/** The text of an element and everything inside it; undefined for no element. */
export const xmlText = (el) => (el ? el.text + el.children.map(xmlText).join('') : undefined);
export const clark = (el) => `{${el.ns}}${el.local}`;

/**
 * A DAV:multistatus body as [{ href (percent-decoded), rawHref, props: Map('{ns}local' → element)
 * of the 200 propstat, byStatus: {code: Map}, status (a response-level status code, if any) }].
 */
export function parseMultistatus(body) {
  const doc = parseXml(body);
  if (doc.ns !== 'DAV:' || doc.local !== 'multistatus') throw new Error(`not a DAV:multistatus: ${String(body).slice(0, 200)}`);
  const code = (el) => Number(/HTTP\/1\.1 (\d{3})/.exec(xmlText(el))?.[1]);
  return xmlKids(doc, 'response').map((resp) => {
    const byStatus = {};
    for (const ps of xmlKids(resp, 'propstat')) {
      const map = (byStatus[code(xmlKid(ps, 'status'))] ??= new Map());
      for (const p of xmlKid(ps, 'prop').children) map.set(clark(p), p);
    }
    const rawHref = xmlText(xmlKid(resp, 'href'));
    return {
      href: decodeURIComponent(rawHref), rawHref, props: byStatus[200] ?? new Map(), byStatus,
      status: xmlKid(resp, 'status') ? code(xmlKid(resp, 'status')) : undefined,
    };
  });
}
