// What the headless-browser tests share: the "MCP client" (a loopback page recording what the
// authorization server sent to its /callback) and a headless Chromium (Debian's, driven by
// playwright-core) with a throw-away profile.
import { createServer } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import { freePort } from './procs.mjs';

/**
 * A loopback "MCP client" → `{ port, redirectUri, received, close() }`: `received` lists the
 * query of every request to /callback (browsers also ask for /favicon.ico, which does not count).
 */
export async function startCallbackRecorder() {
  const received = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    if (url.pathname === '/callback') received.push(Object.fromEntries(url.searchParams));
    res.setHeader('content-type', 'text/html');
    res.end('<h1>client received the response</h1>');
  });
  const port = await freePort();
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  return { port, redirectUri: `http://127.0.0.1:${port}/callback`, received, close: () => server.close() };
}

/** Headless Chromium with a fresh profile → `{ context, close() }` (close removes the profile). */
export async function launchChromium() {
  const profile = mkdtempSync(path.join(tmpdir(), 'chromium-profile-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
