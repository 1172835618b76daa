// files_read on PDF and office documents (issue 15, ADR 0023) through the official MCP TypeScript
// SDK client, against the REAL sabre/dav: the fixtures of tests/fixtures/docs (written by
// python-docx, XlsxWriter, python-pptx, odfpy, fpdf2 and reportlab, see make.py there) are uploaded
// as a client uploads them (PUT with their content type), then read through the tool. The SDK
// validates every structuredContent against files_read's outputSchema, so a call that resolves is
// a validated one.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll } from '../lib/harness.mjs';
import { signedInClient, callOk, callRefused } from '../lib/sdk-client.mjs';

const REDIRECT = 'http://127.0.0.1:17992/oauth/callback';
const FIXTURES = new URL('../fixtures/docs/', import.meta.url);
const enc = (p) => p.split('/').map(encodeURIComponent).join('/');

const DOCS = [
  {
    file: 'report.docx', format: 'docx', type: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
    text: 'Quarterly report\nÜberblick: the café opened in March and sold 1 234 cups for 2 468 €.\nSecond paragraph with bold and italic words.\nRegion\tRevenue\nNorth\t12 000 €\n\nClosing line after the table.',
  },
  {
    file: 'budget.xlsx', format: 'xlsx', type: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
    text: '[Sheet: Budget]\nQuarterly report\tAmount\nCafé rent\t1200\nÜberblick travel\t350.5\nTotal\t1550.5\n\n[Sheet: Notes]\nSecond sheet text',
  },
  {
    file: 'slides.pptx', format: 'pptx', type: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
    text: '[Slide 1]\nQuarterly report\nÜberblick for the café team\n\n[Slide 2]\nNumbers\nRevenue up 12 %\nCosts 2 468 €',
  },
  {
    file: 'report.odt', format: 'odt', type: 'application/vnd.oasis.opendocument.text',
    text: 'Quarterly report\nÜberblick: the café opened in March and sold 1 234 cups for 2 468 €.\nA line\nbroken in two, with a span.\nRegion\tRevenue\nNorth\t12 000 €',
  },
  {
    file: 'budget.ods', format: 'ods', type: 'application/vnd.oasis.opendocument.spreadsheet',
    text: '[Sheet: Budget]\nQuarterly report\nCafé rent\t1200\nÜberblick travel\t350.5',
  },
  {
    file: 'slides.odp', format: 'odp', type: 'application/vnd.oasis.opendocument.presentation',
    text: '[Slide 1]\nQuarterly report\nÜberblick for the café team\n\n[Slide 2]\nNumbers\nCosts 2 468 €',
  },
  {
    file: 'report.pdf', format: 'pdf', type: 'application/pdf',
    text: '[Page 1]\nQuarterly report\nÜberblick: the café opened in March and sold 1 234 cups for 2 468 €.\nSecond line of the first page.\n\n[Page 2]\nPage two says goodbye.',
  },
  {
    file: 'letter.pdf', format: 'pdf', type: 'application/pdf',
    text: 'Quarterly report\nÜberblick: the café costs 2 468 €.\nKind regards,\nAlice',
  },
];

afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });
after(async () => { await stopAll(); });

describe('files_read gives the text of PDF and office documents', () => {
  let stack;
  let client;
  const dav = (davPath, init) => stack.nextcloud.state.davFetch('alice', davPath, init);
  async function put(path, body, type) {
    const res = await dav(`files/alice/${enc(path)}`, { method: 'PUT', body, headers: type ? { 'Content-Type': type } : {} });
    assert.ok(res.status === 201 || res.status === 204, `PUT ${path}: ${res.status} ${await res.text()}`);
  }
  async function etagOnServer(path) {
    const res = await dav(`files/alice/${enc(path)}`, {
      method: 'PROPFIND', headers: { Depth: '0' },
      body: '<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>',
    });
    return /<d:getetag>(?:&quot;|")?([^"&<]*)(?:&quot;|")?<\/d:getetag>/.exec(await res.text())?.[1];
  }
  /** A call that must succeed → its JSON answer (= structuredContent); one that must fail → its message. */
  const ok = (name, args) => callOk(client, name, args);
  const fails = (name, args) => callRefused(client, name, args);

  before(async () => {
    ({ stack, client } = await signedInClient({ name: 'e2e-ts-files-docs', clientName: 'MCP TypeScript SDK e2e (documents)', redirect: REDIRECT }));
    assert.equal((await dav('files/alice/Dokumente', { method: 'MKCOL' })).status, 201);
    for (const doc of DOCS) await put(`Dokumente/${doc.file}`, readFileSync(new URL(doc.file, FIXTURES)), doc.type);
  });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('files_read declares an outputSchema with the extraction fields', async () => {
    const { tools } = await client.listTools();
    const read = tools.find((t) => t.name === 'files_read');
    assert.ok(read.outputSchema, 'files_read has an outputSchema');
    for (const field of ['content', 'extracted', 'format', 'truncated', 'etag']) assert.ok(read.outputSchema.properties[field], field);
    assert.match(read.description, /PDFs and office documents/);
    assert.equal(read.annotations.readOnlyHint, true);
  });

  for (const doc of DOCS) {
    test(`${doc.file}: its text, marked extracted, with the file's etag and size`, async () => {
      const path = `Dokumente/${doc.file}`;
      const read = await ok('files_read', { path });
      assert.equal(read.content, doc.text);
      assert.equal(read.extracted, true);
      assert.equal(read.format, doc.format);
      assert.equal(read.truncated, false);
      assert.equal(read.size, readFileSync(new URL(doc.file, FIXTURES)).length);
      assert.equal(read.etag, await etagOnServer(path));
      assert.equal(read.encoding, undefined, 'a document has no text encoding');
    });
  }

  test('a text file is still read as text, and a ".pdf" holding text falls back to it', async () => {
    await put('Dokumente/notiz.txt', 'Einkauf: Käse\n', 'text/plain');
    const note = await ok('files_read', { path: 'Dokumente/notiz.txt' });
    assert.equal(note.content, 'Einkauf: Käse\n');
    assert.equal(note.encoding, 'UTF-8');
    assert.equal(note.extracted, undefined);
    await put('Dokumente/misnamed.pdf', 'just some notes, not a PDF\n', 'application/pdf');
    const misnamed = await ok('files_read', { path: 'Dokumente/misnamed.pdf' });
    assert.equal(misnamed.content, 'just some notes, not a PDF\n');
    assert.equal(misnamed.extracted, undefined);
  });

  test('damaged, legacy and oversized documents and images are refused with a reason', async () => {
    await put('Dokumente/kaputt.pdf', '%PDF-1.7\n1 0 obj << /Type /Catalog', 'application/pdf');
    assert.match(await fails('files_read', { path: 'Dokumente/kaputt.pdf' }), /the text of "Dokumente\/kaputt\.pdf" could not be read: it is damaged or not a valid PDF file/);
    // A Word file cut short: its zip index (at the end) is gone.
    const docx = readFileSync(new URL('report.docx', FIXTURES));
    await put('Dokumente/cut.docx', docx.subarray(0, docx.length / 2), DOCS[0].type);
    assert.match(await fails('files_read', { path: 'Dokumente/cut.docx' }), /could not be read: it is (damaged|not a PDF)/);
    await put('Dokumente/Foto.png', Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), 'image/png');
    assert.match(await fails('files_read', { path: 'Dokumente/Foto.png' }), /is not a text file \(image\/png\), nor a PDF or office document/);
    // Over 20 MiB: refused from its size before any download.
    await put('Dokumente/huge.pdf', Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(21 * 1024 * 1024, 0x20)]), 'application/pdf');
    assert.match(await fails('files_read', { path: 'Dokumente/huge.pdf' }), /larger than 20 MiB, too large to read its text here/);
  });
});
