// Issue 11 in real headless Chromium (playwright-core driving Debian's chromium): a person
// completes the whole sign-in by clicks alone. Our consent page → the IdP's login and consent →
// our Nextcloud connect page → "Open Nextcloud" opens a new tab → Nextcloud (the stand-in as a
// stock Nextcloud) → "Log in" → "Log in with OpenID Connect" (user_oidc SSO through the same IdP,
// where the person is already signed in) → "Grant access" → meanwhile the first tab, reloading by
// itself (meta refresh, no script), notices the grant and lands on the client's redirect URI with
// a code. The code is then good for a token, and a tool call reaches Nextcloud with the new app
// password. Screenshots: tests/artifacts/connect-*.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import { startStack, register, pkcePair, token, repoRoot, stopAll } from '../lib/harness.mjs';
import { startCallbackRecorder, launchChromium } from '../lib/browser.mjs';

const artifacts = path.join(repoRoot, 'tests', 'artifacts');
let stack; let browser; let chromiumSession; let client; let clientPort; let received;

before(async () => {
  stack = await startStack({ nextcloudSso: true });
  client = await startCallbackRecorder();
  ({ port: clientPort, received } = client);
  chromiumSession = await launchChromium();
  browser = chromiumSession.context;
  mkdirSync(artifacts, { recursive: true });
});

after(async () => {
  await chromiumSession?.close();
  client?.close();
  await stack?.stop();
  await stopAll();
});

/** Clicks `selector` on `page` and waits for the navigation it starts. */
async function clickAndWait(page, selector) {
  await Promise.all([page.waitForNavigation(), page.click(selector)]);
}

test('a person signs in and connects Nextcloud by clicks alone (SSO at Nextcloud through the same IdP)', { timeout: 120000 }, async () => {
  const redirectUri = `http://127.0.0.1:${clientPort}/callback`;
  const client = await register(stack.proxy, { client_name: 'Desktop Assistant', redirect_uris: [redirectUri] });
  const pkce = pkcePair();
  const state = `state-${Date.now()}`;
  const url = new URL(`${stack.proxy.base}/authorize`);
  for (const [k, v] of Object.entries({ response_type: 'code', client_id: client.client_id, redirect_uri: redirectUri, state, code_challenge: pkce.challenge, code_challenge_method: 'S256', scope: 'notes:read notes:write', resource: stack.resource })) {
    url.searchParams.set(k, v);
  }
  const page = await browser.newPage();
  await page.goto(url.toString());

  // Our consent page, then the IdP's login and consent.
  await clickAndWait(page, 'button[value="approve"]');
  await page.waitForSelector('input[name="login"]');
  assert.ok(page.url().startsWith(stack.idp.issuer), `at the IdP: ${page.url()}`);
  await page.fill('input[name="login"]', 'alice');
  await page.fill('input[name="password"]', 'any');
  await clickAndWait(page, 'button[type="submit"]');
  await page.waitForSelector('input[name="prompt"][value="consent"]', { state: 'attached' });
  await clickAndWait(page, 'button[type="submit"]');

  // Our connect page: says what is about to happen and links to Nextcloud.
  await page.waitForSelector('#open-nextcloud');
  assert.ok(page.url().startsWith(`${stack.proxy.base}/nextcloud/connect`), page.url());
  const link = page.locator('#open-nextcloud');
  assert.equal(await link.getAttribute('target'), '_blank');
  assert.match(await link.getAttribute('rel'), /noopener/);
  assert.ok((await link.getAttribute('href')).startsWith(`${stack.nextcloud.base}/index.php/login/v2/flow/`));
  await page.screenshot({ path: path.join(artifacts, 'connect-waiting.png'), fullPage: true });

  // "Open Nextcloud": a new tab.
  const [tab] = await Promise.all([browser.waitForEvent('page'), page.click('#open-nextcloud')]);
  await tab.waitForLoadState();
  const steps = [];
  for (let i = 0; i < 12; i += 1) {
    await tab.waitForSelector('#redirect-link a, #sso-login, input[name="login"], input[name="prompt"][value="consent"], form[action$="/login/v2/grant"] input[type="submit"], h2:has-text("Account connected")', { state: 'attached' });
    if (await tab.$('h2:has-text("Account connected")')) { steps.push('connected'); break; }
    if (await tab.$('#redirect-link a')) { steps.push('picker'); await clickAndWait(tab, '#redirect-link a'); continue; }
    if (await tab.$('#sso-login')) { steps.push('nextcloud-login'); await clickAndWait(tab, '#sso-login'); continue; }
    if (await tab.$('input[name="login"]')) { // the IdP asks again (it should not: alice is signed in there)
      steps.push('idp-login');
      await tab.fill('input[name="login"]', 'alice');
      await tab.fill('input[name="password"]', 'any');
      await clickAndWait(tab, 'button[type="submit"]');
      continue;
    }
    if (await tab.$('input[name="prompt"][value="consent"]')) { steps.push('idp-consent'); await clickAndWait(tab, 'button[type="submit"]'); continue; }
    steps.push('grant');
    assert.match(await tab.textContent('#logged-in-as'), /\(alice\)/, 'logged in to Nextcloud as alice by SSO');
    await tab.screenshot({ path: path.join(artifacts, 'connect-grant.png'), fullPage: true });
    await clickAndWait(tab, 'form[action$="/login/v2/grant"] input[type="submit"]');
  }
  assert.equal(steps.at(-1), 'connected', `Nextcloud steps: ${steps.join(' → ')}`);
  assert.ok(steps.includes('nextcloud-login') && steps.includes('grant'), steps.join(' → '));
  assert.ok(!steps.includes('idp-login'), `single sign-on: no second IdP login (${steps.join(' → ')})`);
  assert.ok(stack.nextcloud.state.requests.some((r) => r.path === '/index.php/apps/user_oidc/code' && r.status === 303), 'logged in through user_oidc');

  // The first tab moves on by itself.
  await page.waitForURL((u) => u.port === String(clientPort), { timeout: 20000 });
  const got = received.at(-1);
  assert.ok(got?.code, JSON.stringify(got));
  assert.equal(got.state, state);
  assert.equal(got.iss, stack.proxy.issuer);
  await tab.close();
  await page.close();

  // The code is good, and the app password is what the mcp-server uses.
  const issued = await token(stack.proxy, { grant_type: 'authorization_code', code: got.code, redirect_uri: redirectUri, client_id: client.client_id, code_verifier: pkce.verifier, resource: stack.resource });
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  assert.equal(stack.nextcloud.state.appPasswords('alice').length, 1);
  assert.ok(stack.nextcloud.state.appPasswords('alice')[0].name.includes('Desktop Assistant'), stack.nextcloud.state.appPasswords('alice')[0].name);
  const call = await fetch(stack.mcpServers[0].url, {
    method: 'POST',
    headers: { authorization: `Bearer ${issued.body.access_token}`, 'content-type': 'application/json', accept: 'application/json, text/event-stream', 'mcp-protocol-version': '2025-06-18' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'notes_create', arguments: { title: 'Clicked together', content: 'by a person' } } }),
  });
  assert.equal(call.status, 200, await call.clone().text());
  const { result } = await call.json();
  assert.equal(result.isError, false, JSON.stringify(result));
  assert.ok(stack.nextcloud.state.notes('alice').some((n) => n.title === 'Clicked together'));
  assert.equal(stack.nextcloud.state.requests.filter((r) => r.auth === 'bearer').length, 0, 'Nextcloud saw no Bearer token');
});
