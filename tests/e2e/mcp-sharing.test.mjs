// The sharing tools (files_sharing OCS) through the official MCP TypeScript SDK client, against
// the stand-in's share API (tests/nextcloud/sharing.mjs) over files in the REAL sabre/dav. The SDK
// validates every structuredContent against the tool's outputSchema, so a call that resolves is a
// validated one. A second user (bob, with an app password) checks what a share gave him and shares
// with alice; a second stack runs a Nextcloud without files_sharing, where the tools are hidden.
import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll } from '../lib/harness.mjs';
import { signedInClient, textOf, callOk, callRefused } from '../lib/sdk-client.mjs';

const REDIRECT = 'http://127.0.0.1:17996/oauth/callback';
const BOB_PASSWORD = 'bob-sharing-app-password';
const API = '/ocs/v2.php/apps/files_sharing/api/v1/shares';
const SHARING_TOOLS = ['sharing_list', 'sharing_create', 'sharing_update', 'sharing_delete'];

/** A stack and an SDK client (alice) signed in with every permission the consent page offers. */
const signedIn = (nextcloudOptions = {}) => signedInClient({ name: 'e2e-ts-sharing', clientName: 'MCP TypeScript SDK e2e (sharing)', redirect: REDIRECT, nextcloudOptions });
const inDays = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);

afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });
after(async () => { await stopAll(); });

describe('a Nextcloud with file sharing', () => {
  let stack;
  let client;

  /** A call that must succeed → its JSON answer (structuredContent, if sent, must be the same); one that must fail → its message. */
  const ok = (name, args) => callOk(client, name, args, { structured: 'ifPresent' });
  const fails = (name, args) => callRefused(client, name, args);
  /** An OCS request by bob's own client (app password). */
  async function asBob(path, { method = 'GET', json } = {}) {
    const headers = {
      authorization: `Basic ${Buffer.from(`bob:${BOB_PASSWORD}`).toString('base64')}`,
      'OCS-APIRequest': 'true', accept: 'application/json',
    };
    if (json) headers['content-type'] = 'application/json';
    const res = await fetch(`${stack.nextcloud.base}${path}`, { method, headers, body: json ? JSON.stringify(json) : undefined });
    const body = await res.json();
    return { status: res.status, data: body.ocs.data, meta: body.ocs.meta };
  }

  before(async () => {
    ({ stack, client } = await signedIn({ basicUsers: { bob: BOB_PASSWORD } }));
    await ok('files_mkdir', { path: 'Shared out' });
    const w = await client.callTool({ name: 'files_write', arguments: { path: 'Shared out/report.txt', content: 'the report' } });
    assert.equal(w.isError, false, textOf(w));
  });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('the tools are listed with their annotations and output schemas', async () => {
    const { tools } = await client.listTools();
    const byName = Object.fromEntries(tools.map((t) => [t.name, t]));
    for (const name of SHARING_TOOLS) assert.ok(byName[name], name);
    assert.equal(byName.sharing_list.annotations.readOnlyHint, true);
    assert.equal(byName.sharing_list.annotations.openWorldHint, false);
    for (const name of ['sharing_create', 'sharing_update']) {
      const a = byName[name].annotations;
      assert.deepEqual([a.readOnlyHint, a.destructiveHint, a.openWorldHint], [false, true, true], name);
      assert.match(byName[name].description, /other people/, name);
    }
    assert.match(byName.sharing_create.description, /ANYONE with the URL/);
    assert.equal(byName.sharing_delete.annotations.destructiveHint, true);
    for (const name of ['sharing_list', 'sharing_create', 'sharing_update']) assert.equal(byName[name].outputSchema?.type, 'object', name);
  });

  test('a public link with password and expiry: created, listed, changed, removed', async () => {
    const expires = inDays(30);
    const link = await ok('sharing_create', {
      path: '/Shared out//report.txt', type: 'link', password: 'correct horse battery', expires, label: 'Board pack', note: 'for the board',
    });
    assert.equal(link.type, 'link');
    assert.equal(link.path, 'Shared out/report.txt');
    assert.equal(link.item_type, 'file');
    assert.equal(link.with, null);
    assert.equal(link.has_password, true);
    assert.equal(link.expires, expires);
    assert.equal(link.label, 'Board pack');
    assert.equal(link.note, 'for the board');
    assert.deepEqual(link.permissions, ['read', 'share']);
    assert.match(link.url, /\/s\/[A-Za-z0-9]{15}$/);
    const listed = await ok('sharing_list', {});
    assert.deepEqual(listed.items.map((s) => s.id), [link.id]);
    assert.equal(listed.next_cursor, null);
    const text = JSON.stringify(listed);
    assert.ok(!/argon2|correct horse/.test(text), text);
    assert.deepEqual((await ok('sharing_list', { path: 'Shared out/report.txt' })).items.map((s) => s.id), [link.id]);
    assert.deepEqual((await ok('sharing_list', { path: 'Shared out' })).items, []);

    const changed = await ok('sharing_update', { id: link.id, password: '', expires: null, label: 'Renamed', hide_download: true });
    assert.equal(changed.has_password, false);
    assert.equal(changed.expires, null);
    assert.equal(changed.label, 'Renamed');
    assert.equal(changed.hide_download, true);
    assert.equal(changed.url, link.url);

    // Nextcloud's own refusals come back with its message.
    assert.match(await fails('sharing_update', { id: link.id, password: 'short' }), /at least 10 characters/);
    assert.match(await fails('sharing_update', { id: link.id, expires: '2001-01-01' }), /Expiration date is in the past/);
    assert.match(await fails('sharing_update', { id: link.id }), /nothing to change/);

    assert.deepEqual(await ok('sharing_delete', { id: link.id }), { deleted: link.id });
    assert.deepEqual((await ok('sharing_list', {})).items, []);
    assert.match(await fails('sharing_delete', { id: link.id }), /Wrong share ID, share does not exist/);
    assert.match(await fails('sharing_delete', { id: '../1' }), /share id is a number/);
  });

  test('a folder shared with a second user, who sees it; and his share with alice', async () => {
    const share = await ok('sharing_create', { path: 'Shared out', type: 'user', with: 'bob', permissions: ['read', 'edit'], note: 'have a look' });
    assert.equal(share.type, 'user');
    assert.equal(share.with, 'bob');
    assert.equal(share.item_type, 'folder');
    assert.deepEqual(share.permissions, ['read', 'edit']);
    assert.equal(share.url, null);

    const his = await asBob(`${API}?shared_with_me=true`);
    assert.equal(his.status, 200);
    assert.deepEqual(his.data.map((s) => [String(s.id), s.uid_owner, s.path, s.permissions]), [[share.id, 'alice', '/Shared out', 3]]);

    assert.match(
      await fails('sharing_create', { path: 'Shared out', type: 'user', with: 'bob' }),
      /already shared with the account/,
    );
    assert.match(await fails('sharing_create', { path: 'Shared out', type: 'user', with: 'nobody-here' }), /valid account/);

    // bob shares a file of his with alice: her shared_with_me list shows it, her own list not.
    const put = await fetch(`${stack.nextcloud.base}/remote.php/dav/files/bob/from-bob.txt`, {
      method: 'PUT', body: 'hi', headers: { authorization: `Basic ${Buffer.from(`bob:${BOB_PASSWORD}`).toString('base64')}` },
    });
    assert.ok([201, 204].includes(put.status), `PUT ${put.status}`);
    const made = await asBob(API, { method: 'POST', json: { path: '/from-bob.txt', shareType: 0, shareWith: 'alice' } });
    assert.equal(made.status, 200, JSON.stringify(made.meta));
    const withMe = await ok('sharing_list', { shared_with_me: true });
    assert.deepEqual(withMe.items.map((s) => [s.owner, s.path, s.type, s.with]), [['bob', 'from-bob.txt', 'user', 'alice']]);
    assert.ok(!(await ok('sharing_list', {})).items.some((s) => s.owner === 'bob'));

    await ok('sharing_delete', { id: share.id });
    assert.deepEqual((await asBob(`${API}?shared_with_me=true`)).data, []);
  });

  test('paging, and paths that are not there', async () => {
    const ids = [];
    for (const label of ['one', 'two', 'three']) ids.push((await ok('sharing_create', { path: 'Shared out/report.txt', type: 'link', label })).id);
    const first = await ok('sharing_list', { limit: 2 });
    assert.equal(first.items.length, 2);
    assert.ok(first.next_cursor);
    const second = await ok('sharing_list', { limit: 2, cursor: first.next_cursor });
    assert.deepEqual([...first.items, ...second.items].map((s) => s.id), ids);
    assert.equal(second.next_cursor, null);
    for (const id of ids) await ok('sharing_delete', { id });

    assert.match(await fails('sharing_create', { path: 'No such/file.txt', type: 'link' }), /Wrong path, file\/folder does not exist/);
    assert.match(await fails('sharing_list', { path: 'No such/file.txt' }), /Wrong path, file\/folder does not exist/);
    assert.match(await fails('sharing_create', { path: '/', type: 'link' }), /not the root/);
    assert.match(await fails('sharing_create', { path: 'Shared out', type: 'user' }), /with is needed/);
    assert.match(await fails('sharing_create', { path: 'Shared out', type: 'link', expires: 'tomorrow' }), /YYYY-MM-DD/);
  });
});

describe('a Nextcloud without file sharing', () => {
  let stack;
  let client;
  before(async () => { ({ stack, client } = await signedIn({ apps: { files_sharing: false } })); });
  after(async () => { await client?.close(); await stack?.stop(); });

  test('the sharing tools are hidden; a call anyway names the missing app', async () => {
    const names = (await client.listTools()).tools.map((t) => t.name);
    assert.ok(!names.some((n) => n.startsWith('sharing_')), `${names}`);
    assert.ok(names.includes('files_list'));
    const result = await client.callTool({ name: 'sharing_list', arguments: {} });
    assert.equal(result.isError, true);
    assert.match(textOf(result), /file sharing app \(files_sharing\)/);
    const asked = stack.nextcloud.state.requests.filter((r) => r.path.startsWith(API)).length;
    assert.equal(asked, 0, 'nothing reached the share API');
  });
});
