// The stand-in's files_sharing OCS API (sharing.mjs) over the real sabre/dav: requests as Nextcloud's
// web UI and OCS clients send them (form-encoded and JSON bodies, OCS-APIRequest: true, app
// passwords), answers and refusals as ShareAPIController gives them.
//   node --test tests/nextcloud/sharing.test.mjs
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startNextcloud } from '../lib/harness.mjs';

const users = { alice: 'alice-app-pw', bob: 'bob-app-pw' };
const API = '/ocs/v2.php/apps/files_sharing/api/v1/shares';
let nc;

const auth = (as) => `Basic ${Buffer.from(`${as}:${users[as]}`).toString('base64')}`;

/** An OCS call; `form` → x-www-form-urlencoded body, `json` → JSON body. */
async function ocs(path, { method = 'GET', as = 'alice', form, json, headers = {}, ocsHeader = true } = {}) {
  const h = { authorization: auth(as), accept: 'application/json', ...headers };
  if (ocsHeader) h['OCS-APIRequest'] = 'true';
  let body;
  if (form) { h['content-type'] = 'application/x-www-form-urlencoded'; body = new URLSearchParams(form).toString(); }
  if (json) { h['content-type'] = 'application/json'; body = JSON.stringify(json); }
  const res = await fetch(`${nc.base}${path}`, { method, headers: h, body });
  const text = await res.text();
  let parsed;
  try { parsed = JSON.parse(text); } catch { parsed = undefined; }
  return { status: res.status, text, json: parsed, meta: parsed?.ocs?.meta, data: parsed?.ocs?.data };
}

async function davPut(user, path, content) {
  const r = await nc.state.davFetch(user, `files/${user}/${path.split('/').map(encodeURIComponent).join('/')}`, { method: 'PUT', body: content });
  assert.ok([201, 204].includes(r.status), `PUT ${path}: ${r.status}`);
}
async function davMkcol(user, path) {
  const r = await nc.state.davFetch(user, `files/${user}/${path.split('/').map(encodeURIComponent).join('/')}`, { method: 'MKCOL' });
  assert.equal(r.status, 201);
}
async function fileId(user, path) {
  const r = await nc.state.davFetch(user, `files/${user}/${path.split('/').map(encodeURIComponent).join('/')}`, {
    method: 'PROPFIND', headers: { depth: '0' }, body: '<d:propfind xmlns:d="DAV:" xmlns:oc="http://owncloud.org/ns"><d:prop><oc:fileid/></d:prop></d:propfind>',
  });
  return Number(/<oc:fileid>(\d+)<\/oc:fileid>/.exec(await r.text())[1]);
}
const inDays = (n) => new Date(Date.now() + n * 86400000).toISOString().slice(0, 10);

before(async () => {
  // carol has a login password only and never signs in here: she exists all the same.
  nc = await startNextcloud({ basicUsers: users, loginUsers: { carol: 'carol-login-pw' } });
  await davMkcol('alice', 'Documents');
  await davPut('alice', 'Documents/report.txt', 'the report');
  await davPut('alice', 'Documents/plan b.md', '# plan');
  await davMkcol('alice', 'Photos');
  await davPut('bob', 'bob.txt', 'bob');
});
after(async () => { await nc?.stop(); });

describe('creating shares', () => {
  test('a public link to a file, form-encoded as the web UI sends it', async () => {
    const r = await ocs(API, { method: 'POST', form: { path: '/Documents/report.txt', shareType: '3', label: 'for the board', note: 'read me' } });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.meta, { status: 'ok', statuscode: 200, message: 'OK' });
    const s = r.data;
    assert.equal(typeof s.id, 'string');
    assert.equal(s.share_type, 3);
    assert.equal(s.uid_owner, 'alice');
    assert.equal(s.path, '/Documents/report.txt');
    assert.equal(s.item_type, 'file');
    assert.equal(s.mimetype, 'text/plain');
    assert.equal(s.file_source, await fileId('alice', 'Documents/report.txt'));
    assert.equal(s.file_parent, await fileId('alice', 'Documents'));
    assert.equal(s.file_target, '/report.txt');
    assert.equal(s.permissions, 17, 'read, plus share because outgoing federation is on');
    assert.match(s.token, /^[a-zA-Z0-9]{15}$/);
    assert.equal(s.url, `${nc.base}/s/${s.token}`);
    assert.equal(s.expiration, null);
    assert.equal(s.label, 'for the board');
    assert.equal(s.note, 'read me');
    assert.equal(s.password, null);
    assert.equal(s.share_with_displayname, '(Shared link)');
    assert.equal(s.mail_send, 0);
  });

  test('a user share as JSON (shareType a number), with expiry; create/delete stripped for a file', async () => {
    const date = inDays(10);
    const r = await ocs(API, { method: 'POST', json: { path: 'Documents/plan b.md', shareType: 0, shareWith: 'bob', permissions: 31, expireDate: date } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.data.share_type, 0);
    assert.equal(r.data.share_with, 'bob');
    assert.equal(r.data.permissions, 19);
    assert.equal(r.data.expiration, `${date} 00:00:00`);
    assert.equal(r.data.path, '/Documents/plan b.md');
  });

  test('a user share with an account that exists but never signed in; an unknown account is refused', async () => {
    const r = await ocs(API, { method: 'POST', form: { path: '/Documents/report.txt', shareType: '0', shareWith: 'carol' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.data.share_with, 'carol');
    const nobody = await ocs(API, { method: 'POST', form: { path: '/Documents/report.txt', shareType: '0', shareWith: 'nobody' } });
    assert.equal(nobody.status, 404, nobody.text);
    assert.equal(nobody.meta.message, 'Please specify a valid account to share with');
    assert.equal((await ocs(`${API}/${r.data.id}`, { method: 'DELETE' })).status, 200);
  });

  test('a password-protected link to a folder with public upload: the password never comes back', async () => {
    const r = await ocs(API, { method: 'POST', form: { path: '/Photos', shareType: '3', password: 'a long enough secret', publicUpload: 'true' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.data.item_type, 'folder');
    assert.equal(r.data.permissions, 31);
    assert.ok(r.data.password && r.data.password !== 'a long enough secret');
    assert.ok(!r.text.includes('a long enough secret'));
  });

  test('an email share', async () => {
    const r = await ocs(API, { method: 'POST', json: { path: '/Documents/report.txt', shareType: 4, shareWith: 'carol@example.test' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.data.share_with, 'carol@example.test');
    assert.equal(r.data.mail_send, 1);
    assert.equal(r.data.url, undefined);
  });

  const refusals = [
    ['no path', { shareType: '3' }, 404, 'Please specify a file or folder path'],
    ['unknown path', { path: '/nope.txt', shareType: '3' }, 404, 'Wrong path, file/folder does not exist'],
    ['no share type', { path: '/Documents/report.txt' }, 400, 'Unknown share type'],
    ['share type 99', { path: '/Documents/report.txt', shareType: '99' }, 400, 'Unknown share type'],
    ['an unknown user', { path: '/Documents/report.txt', shareType: '0', shareWith: 'mallory' }, 404, 'Please specify a valid account to share with'],
    ['no user', { path: '/Documents/report.txt', shareType: '0' }, 404, 'Please specify a valid account to share with'],
    ['oneself', { path: '/Documents/report.txt', shareType: '0', shareWith: 'alice' }, 403, 'Cannot share with yourself'],
    ['a group', { path: '/Documents/report.txt', shareType: '1', shareWith: 'admin' }, 404, 'Please specify a valid group'],
    ['a bad date', { path: '/Documents/report.txt', shareType: '3', expireDate: '31/12/2030' }, 404, 'Invalid date. Format must be YYYY-MM-DD'],
    ['a past date', { path: '/Documents/report.txt', shareType: '3', expireDate: '2020-01-01' }, 404, 'Expiration date is in the past'],
    ['today', { path: '/Documents/report.txt', shareType: '3', expireDate: inDays(0) }, 404, 'Expiration date is in the past'],
    ['a long label', { path: '/Documents/report.txt', shareType: '3', label: 'x'.repeat(256) }, 400, 'Maximum label length is 255'],
    ['public upload on a file', { path: '/Documents/report.txt', shareType: '3', publicUpload: 'true' }, 400, 'Public upload is only possible for publicly shared folders'],
    ['a short password', { path: '/Documents/report.txt', shareType: '3', password: 'short' }, 400, 'Password needs to be at least 10 characters long.'],
    ['the root folder', { path: '/', shareType: '3' }, 403, 'You cannot share your root folder'],
    ['a bad email address', { path: '/Documents/report.txt', shareType: '4', shareWith: 'not-an-address' }, 404, 'Please specify a valid email address'],
  ];
  for (const [what, form, status, message] of refusals) {
    test(`refused: ${what}`, async () => {
      const r = await ocs(API, { method: 'POST', form });
      assert.equal(r.status, status, r.text);
      assert.deepEqual(r.meta, { status: 'failure', statuscode: status, message });
      assert.deepEqual(r.data, []);
    });
  }

  test('the same user twice', async () => {
    await ocs(API, { method: 'POST', form: { path: '/Documents/report.txt', shareType: '0', shareWith: 'bob' } });
    const r = await ocs(API, { method: 'POST', form: { path: '/Documents/report.txt', shareType: '0', shareWith: 'bob' } });
    assert.equal(r.status, 403);
    assert.equal(r.meta.message, 'Sharing report.txt failed, because this item is already shared with the account bob');
  });

  test('OCS v1: HTTP 200, the code in the envelope', async () => {
    const r = await ocs('/ocs/v1.php/apps/files_sharing/api/v1/shares', { method: 'POST', form: { path: '/nope', shareType: '3' } });
    assert.equal(r.status, 200);
    assert.equal(r.meta.statuscode, 404);
    assert.equal(r.meta.message, 'Wrong path, file/folder does not exist');
  });
});

describe('listing, reading, updating, deleting', () => {
  test('GET /shares lists only the user\'s own; path narrows to one node; subfiles a folder\'s children', async () => {
    const all = await ocs(API);
    assert.equal(all.status, 200);
    assert.ok(all.data.length >= 4);
    assert.ok(all.data.every((s) => s.uid_owner === 'alice'));
    const one = await ocs(`${API}?path=${encodeURIComponent('/Documents/report.txt')}&reshares=true`);
    assert.ok(one.data.length >= 2 && one.data.every((s) => s.path === '/Documents/report.txt'));
    const sub = await ocs(`${API}?path=/Documents&subfiles=true`);
    assert.ok(sub.data.some((s) => s.path === '/Documents/plan b.md'));
    const notDir = await ocs(`${API}?path=/Documents/report.txt&subfiles=true`);
    assert.equal(notDir.status, 400);
    assert.equal(notDir.meta.message, 'Not a directory');
    const missing = await ocs(`${API}?path=/gone`);
    assert.equal(missing.status, 404);
    assert.equal(missing.meta.message, 'Wrong path, file/folder does not exist');
    const bobs = await ocs(API, { as: 'bob' });
    assert.deepEqual(bobs.data, []);
  });

  test('shared_with_me=true: what others shared with the user, at its target', async () => {
    const r = await ocs(`${API}?shared_with_me=true`, { as: 'bob' });
    assert.equal(r.status, 200);
    assert.ok(r.data.length >= 2);
    assert.ok(r.data.every((s) => s.share_with === 'bob' && s.uid_owner === 'alice'));
    assert.ok(r.data.some((s) => s.path === '/report.txt'));
  });

  test('GET /shares/{id} → an array of one; others\' shares are not found', async () => {
    const created = await ocs(API, { method: 'POST', form: { path: '/Documents/report.txt', shareType: '3' } });
    const r = await ocs(`${API}/${created.data.id}`);
    assert.equal(r.status, 200);
    assert.equal(r.data.length, 1);
    assert.equal(r.data[0].id, created.data.id);
    const foreign = await ocs(`${API}/${created.data.id}`, { as: 'bob' });
    assert.equal(foreign.status, 404);
    assert.equal(foreign.meta.message, 'Wrong share ID, share does not exist');
    const none = await ocs(`${API}/999999`);
    assert.equal(none.status, 404);
  });

  test('PUT /shares/{id}: form and JSON; nothing to change is 400', async () => {
    const { data: s } = await ocs(API, { method: 'POST', form: { path: '/Photos', shareType: '3' } });
    const date = inDays(30);
    let r = await ocs(`${API}/${s.id}`, { method: 'PUT', form: { expireDate: date, label: 'holiday', hideDownload: 'true', permissions: '15' } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.data.expiration, `${date} 00:00:00`);
    assert.equal(r.data.label, 'holiday');
    assert.equal(r.data.hide_download, 1);
    assert.equal(r.data.permissions, 31);
    r = await ocs(`${API}/${s.id}`, { method: 'PUT', json: { password: 'another long secret', note: 'n' } });
    assert.equal(r.status, 200, r.text);
    assert.ok(r.data.password);
    assert.equal(r.data.note, 'n');
    r = await ocs(`${API}/${s.id}`, { method: 'PUT', json: { expireDate: '' , password: '' } });
    assert.equal(r.data.expiration, null);
    assert.equal(r.data.password, null);
    r = await ocs(`${API}/${s.id}`, { method: 'PUT' });
    assert.equal(r.status, 400);
    assert.equal(r.meta.message, 'Wrong or no update parameter given');
    r = await ocs(`${API}/${s.id}`, { method: 'PUT', form: { expireDate: 'soon' } });
    assert.equal(r.status, 400);
    assert.equal(r.meta.message, 'Invalid date. Format must be YYYY-MM-DD');
    r = await ocs(`${API}/${s.id}`, { method: 'PUT', form: { note: 'x' }, as: 'bob' });
    assert.equal(r.status, 404);
  });

  test('a recipient may not edit an incoming share, but may delete it', async () => {
    const { data: s } = await ocs(API, { method: 'POST', form: { path: '/Photos', shareType: '0', shareWith: 'bob', permissions: '1' } });
    assert.equal(s.permissions, 1);
    let r = await ocs(`${API}/${s.id}`, { method: 'PUT', form: { permissions: '31' }, as: 'bob' });
    assert.equal(r.status, 403);
    assert.equal(r.meta.message, 'You are not allowed to edit incoming shares');
    r = await ocs(`${API}/${s.id}`, { method: 'PUT', form: { permissions: '3' } });
    assert.equal(r.status, 200);
    assert.equal(r.data.permissions, 3);
    r = await ocs(`${API}/${s.id}`, { method: 'DELETE', as: 'bob' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.data, []);
    r = await ocs(`${API}/${s.id}`, { method: 'DELETE' });
    assert.equal(r.status, 404);
    assert.equal(r.meta.message, 'Wrong share ID, share does not exist');
  });

  test('a share whose file is gone is no longer listed', async () => {
    await davPut('alice', 'temp.txt', 'x');
    const { data: s } = await ocs(API, { method: 'POST', form: { path: '/temp.txt', shareType: '3' } });
    await nc.state.davFetch('alice', 'files/alice/temp.txt', { method: 'DELETE' });
    const r = await ocs(`${API}/${s.id}`);
    assert.equal(r.status, 404);
    assert.ok(!(await ocs(API)).data.some((x) => x.id === s.id));
  });
});

describe('the OCS rules', () => {
  test('without OCS-APIRequest: 412 CSRF check failed', async () => {
    const r = await ocs(API, { ocsHeader: false });
    assert.equal(r.status, 412);
    assert.deepEqual(r.json, { message: 'CSRF check failed' });
  });

  test('without credentials: 401', async () => {
    const res = await fetch(`${nc.base}${API}?format=json`, { headers: { 'OCS-APIRequest': 'true' } });
    assert.equal(res.status, 401);
    assert.equal((await res.json()).ocs.meta.statuscode, 997);
  });

  test('capabilities carry files_sharing', async () => {
    const r = await ocs('/ocs/v2.php/cloud/capabilities');
    const fs = r.data.capabilities.files_sharing;
    assert.equal(fs.api_enabled, true);
    assert.equal(fs.public.enabled, true);
    assert.equal(fs.public.password.enforced, false);
    assert.equal(fs.public.expire_date.enabled, false);
    assert.equal(fs.group_sharing, true);
    assert.equal(fs.default_permissions, 31);
  });
});

describe('files_sharing disabled', () => {
  let off;
  before(async () => { off = await startNextcloud({ basicUsers: users, apps: { files_sharing: false } }); });
  after(async () => { await off?.stop(); });

  test('its routes are unknown (404) and its capability absent', async () => {
    const h = { authorization: auth('alice'), 'OCS-APIRequest': 'true', accept: 'application/json' };
    const r = await fetch(`${off.base}${API}`, { headers: h });
    assert.equal(r.status, 404);
    const caps = await (await fetch(`${off.base}/ocs/v2.php/cloud/capabilities`, { headers: h })).json();
    assert.equal(caps.ocs.data.capabilities.files_sharing, undefined);
  });
});
