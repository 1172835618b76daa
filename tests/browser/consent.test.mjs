// The consent page in real headless Chromium (playwright-core driving Debian's chromium):
// approve through the upstream IdP's login, and deny. Screenshot: tests/artifacts/consent.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startRedis, startIdp, startProxy, register, freePort, pkcePair, token, repoRoot, stopAll } from '../lib/harness.mjs';
import { startCallbackRecorder, launchChromium } from '../lib/browser.mjs';

const artifacts = path.join(repoRoot, 'tests', 'artifacts');
let redis; let idp; let proxy; let browser; let chromiumSession; let client; let clientPort; let received;

before(async () => {
  redis = await startRedis();
  const port = await freePort();
  idp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
  proxy = await startProxy({ idp, redis, port });
  // The "MCP client": a loopback page that records what the authorization server sent back.
  client = await startCallbackRecorder();
  ({ port: clientPort, received } = client);
  chromiumSession = await launchChromium();
  browser = chromiumSession.context;
  mkdirSync(artifacts, { recursive: true });
});

after(async () => {
  await chromiumSession?.close();
  client?.close();
  await stopAll();
});

async function openConsent(clientName) {
  const redirectUri = `http://127.0.0.1:${clientPort}/callback`;
  const client = await register(proxy, { client_name: clientName, redirect_uris: [redirectUri] });
  const pkce = pkcePair();
  const { challenge } = pkce;
  const url = new URL(`${proxy.base}/authorize`);
  const state = `state-${Date.now()}`;
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, state, code_challenge: challenge, code_challenge_method: 'S256', scope: 'notes:write files:read', resource: proxy.resource })) {
    url.searchParams.set(k, v);
  }
  const page = await browser.newPage();
  const response = await page.goto(url.toString());
  return { page, response, state, client, redirectUri, pkce };
}

test('approve: the consent page shows who asks for what, then the IdP login completes the flow', async () => {
  const { page, response, state, client, redirectUri, pkce } = await openConsent('Claude Desktop');
  assert.equal(response.status(), 200);
  const headers = response.headers();
  assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal(headers['x-frame-options'], 'DENY');
  const text = await page.textContent('main');
  assert.match(text, /Allow Claude Desktop to access your Nextcloud\?/);
  assert.match(text, /127\.0\.0\.1/, 'redirect host is shown');
  assert.match(text, /Create, change and delete your notes/);
  assert.match(text, /Read your files and folders/);
  assert.match(text, /local address/, 'loopback redirect warning is shown');
  await page.screenshot({ path: path.join(artifacts, 'consent.png'), fullPage: true });

  await page.click('button[value="approve"]');
  // The upstream IdP's own login and consent pages.
  await page.waitForSelector('input[name="login"]');
  assert.ok(page.url().startsWith(idp.issuer), `at the IdP: ${page.url()}`);
  assert.match(await page.textContent('body'), /any username and any password/);
  await page.fill('input[name="login"]', 'bob');
  await page.fill('input[name="password"]', 'any');
  await page.click('button[type="submit"]');
  await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' });
  await page.click('button[type="submit"]');
  await page.waitForURL((u) => u.port === String(clientPort));
  const got = received.at(-1);
  assert.ok(got.code, JSON.stringify(got));
  assert.equal(got.state, state);
  assert.equal(got.iss, proxy.issuer);
  // The code the browser delivered is good at the token endpoint.
  const issued = await token(proxy, { grant_type: 'authorization_code', code: got.code, redirect_uri: redirectUri, client_id: client.client_id, code_verifier: pkce.verifier });
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  await page.close();
});

test('deny: the client gets access_denied with its state', async () => {
  const { page, state } = await openConsent('Some Tool');
  await page.screenshot({ path: path.join(artifacts, 'consent-deny.png'), fullPage: true });
  await page.click('button[value="deny"]');
  await page.waitForURL((u) => u.port === String(clientPort));
  const got = received.at(-1);
  assert.equal(got.error, 'access_denied');
  assert.equal(got.state, state);
  assert.equal(got.iss, proxy.issuer);
  assert.equal(got.code, undefined);
  await page.close();
});

test('approve is not armed at once: a click the moment the page appears does not submit, one after the delay does', async () => {
  // The attack: the previous page (the attacker's) asks for a double-click where the consent
  // page's Approve button will be, and opens the consent page between the two clicks. The
  // page has no script, so a CSS animation keeps Approve unclickable for its first second.
  const consentPosts = [];
  const { page } = await openConsent('Double Click Game');
  page.on('request', (r) => { if (r.method() === 'POST' && new URL(r.url()).pathname === '/consent') consentPosts.push(r.url()); });
  const approve = page.locator('button[value="approve"]');
  const box = await approve.boundingBox();
  const x = box.x + box.width / 2; const y = box.y + box.height / 2;
  // A raw click at the button's place (not Playwright's click, which would wait until the
  // button takes clicks), right after the page was shown.
  await page.mouse.click(x, y);
  assert.equal(await approve.evaluate((b) => getComputedStyle(b).pointerEvents), 'none', 'still disarmed after the click');
  // Nothing was submitted: had the click landed, the form post would have started already;
  // the browser is asked to finish whatever it started before this is checked.
  await page.evaluate(() => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 50))));
  assert.deepEqual(consentPosts, [], 'the early click did not submit');
  assert.ok(page.url().includes('/authorize'), page.url());
  assert.equal(await approve.evaluate((b) => getComputedStyle(b).opacity), '0.45', 'visibly disabled');
  // Armed once the delay ran out: wait for the animation to finish, not for a fixed time.
  await approve.evaluate((b) => Promise.all(b.getAnimations().map((a) => a.finished)));
  assert.equal(await approve.evaluate((b) => getComputedStyle(b).pointerEvents), 'auto');
  await page.mouse.move(x, y);
  await approve.evaluate((b) => Promise.all(b.getAnimations().map((a) => a.finished)));
  await page.mouse.click(x, y);
  await page.waitForURL((u) => u.href.startsWith(idp.issuer));
  assert.equal(consentPosts.length, 1, 'the armed click submitted');
  await page.close();
});

test('the consent page refuses to be framed', async () => {
  const { page } = await openConsent('Framed');
  const framer = await browser.newPage();
  // The control: an ordinary loopback page does render inside a frame.
  await framer.setContent(`<iframe id="ok" src="http://127.0.0.1:${clientPort}/framable"></iframe><iframe id="f" src="${page.url()}"></iframe>`);
  const control = await (await framer.$('#ok')).contentFrame();
  assert.match(await control.textContent('h1'), /client received/);
  const frame = await (await framer.$('#f')).contentFrame();
  // A blocked frame never renders the form.
  const hasForm = frame ? await frame.$('form').then(Boolean).catch(() => false) : false;
  assert.equal(hasForm, false);
  await framer.close();
  await page.close();
});
