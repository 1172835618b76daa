// Issue 14's connections page in real headless Chromium (playwright-core driving Debian's
// chromium): a scripted MCP client gets a grant (consent, IdP, Nextcloud Login Flow: the
// app-password strategy), then the person opens /connections, signs in at the IdP by clicks,
// sees the client with its scopes, clicks Revoke and sees it gone. The client's refresh token
// is then refused, token exchange refuses its access token, and its Nextcloud app password is
// deleted in Nextcloud. Screenshots: tests/artifacts/connections-*.png.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startStack, register, runAuthorization, redeemCode, token, repoRoot, stopAll, dumpLogsOnFailure } from '../lib/harness.mjs';
import { startCallbackRecorder, launchChromium } from '../lib/browser.mjs';

const artifacts = path.join(repoRoot, 'tests', 'artifacts');
let stack; let chromiumSession; let browser; let recorder;

before(async () => {
  stack = await startStack();
  recorder = await startCallbackRecorder();
  chromiumSession = await launchChromium();
  browser = chromiumSession.context;
  mkdirSync(artifacts, { recursive: true });
});

afterEach((t) => dumpLogsOnFailure(t));

after(async () => {
  await chromiumSession?.close();
  recorder?.close();
  await stack?.stop();
  await stopAll();
});

/** Clicks `selector` on `page` and waits for the navigation it starts. */
async function clickAndWait(page, selector) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

/** A client with a live grant of alice's: its registration and first token response. */
async function connectedClient(name, scope) {
  const client = await register(stack.proxy, { client_name: name, redirect_uris: [recorder.redirectUri], grant_types: ['authorization_code', 'refresh_token'] });
  const run = await runAuthorization({ proxy: stack.proxy, client, scope });
  assert.ok(run.query?.code, JSON.stringify(run.query ?? run.connect ?? run.consent?.status));
  const issued = await redeemCode(stack.proxy, client, run);
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  return { client, tokens: issued.body };
}

function exchange(accessToken) {
  return token(stack.proxy, {
    grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
    subject_token: accessToken,
    subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
  }, { basic: ['mcp-server', stack.exchangeSecret] });
}

test('a person sees their connected clients and revokes one by clicks', { timeout: 120000 }, async () => {
  const doomed = await connectedClient('Research Assistant', 'notes:read files:read');
  const kept = await connectedClient('Calendar Helper', 'calendar:read');
  const before = stack.nextcloud.state.appPasswords('alice').length;
  assert.equal(before, 2, 'one app password per client');

  const page = await browser.newPage();
  const response = await page.goto(`${stack.proxy.base}/connections`);
  assert.ok(response, 'navigated');
  // The IdP: log in, then its consent, until we are back on the page.
  for (let i = 0; i < 4 && !page.url().startsWith(`${stack.proxy.base}/connections`); i += 1) {
    await page.waitForSelector('input[name="login"], input[name="prompt"][value="consent"]', { state: 'attached' });
    if (await page.$('input[name="login"]')) {
      assert.ok(page.url().startsWith(stack.idp.issuer), `at the IdP: ${page.url()}`);
      await page.fill('input[name="login"]', 'alice');
      await page.fill('input[name="password"]', 'any');
    }
    await clickAndWait(page, 'button[type="submit"]');
  }
  await page.waitForSelector('h1:has-text("Connected applications")');
  assert.equal(new URL(page.url()).pathname, '/connections');

  const row = page.locator(`section.connection[data-client-id="${doomed.client.client_id}"]`);
  assert.equal(await row.count(), 1);
  assert.match(await row.textContent(), /Research Assistant/);
  assert.match(await row.textContent(), /notes:read/);
  assert.match(await row.textContent(), /files:read/);
  assert.equal(await page.locator('section.connection').count(), 2);
  await page.screenshot({ path: path.join(artifacts, 'connections-list.png'), fullPage: true });

  // The page's own answer: never framed, never cached.
  const headers = (await page.request.get(`${stack.proxy.base}/connections`, { maxRedirects: 0 })).headers();
  assert.equal(headers['x-frame-options'], 'DENY');
  assert.match(headers['content-security-policy'], /frame-ancestors 'none'/);
  assert.equal(headers['cache-control'], 'no-store');

  await clickAndWait(page, `section.connection[data-client-id="${doomed.client.client_id}"] button[type="submit"]`);
  assert.equal(new URL(page.url()).pathname, '/connections');
  assert.equal(await page.locator(`section.connection[data-client-id="${doomed.client.client_id}"]`).count(), 0);
  assert.equal(await page.locator(`section.connection[data-client-id="${kept.client.client_id}"]`).count(), 1);
  await page.screenshot({ path: path.join(artifacts, 'connections-revoked.png'), fullPage: true });

  // The revoked client is signed out everywhere; the other one is not.
  const refresh = await token(stack.proxy, { grant_type: 'refresh_token', refresh_token: doomed.tokens.refresh_token, client_id: doomed.client.client_id });
  assert.equal(refresh.status, 400, JSON.stringify(refresh.body));
  assert.equal(refresh.body.error, 'invalid_grant');
  const exchanged = await exchange(doomed.tokens.access_token);
  assert.equal(exchanged.status, 400, JSON.stringify(exchanged.body));
  assert.equal(exchanged.body.error, 'invalid_grant');
  assert.equal(stack.nextcloud.state.appPasswords('alice').length, 1, 'its Nextcloud app password is deleted');
  const keptRefresh = await token(stack.proxy, { grant_type: 'refresh_token', refresh_token: kept.tokens.refresh_token, client_id: kept.client.client_id });
  assert.equal(keptRefresh.status, 200, JSON.stringify(keptRefresh.body));

  // A form posted from another site is refused, whatever cookies ride along.
  const csrf = await page.locator('input[name="csrf"]').first().getAttribute('value');
  const forged = await page.request.post(`${stack.proxy.base}/connections/revoke`, {
    form: { csrf, client_id: kept.client.client_id },
    headers: { origin: 'https://evil.example' },
    maxRedirects: 0,
  });
  assert.equal(forged.status(), 403);
  await page.reload();
  assert.equal(await page.locator(`section.connection[data-client-id="${kept.client.client_id}"]`).count(), 1);

  await clickAndWait(page, '#sign-out');
  assert.match(await page.textContent('h1'), /signed out/);
  await page.close();
});
