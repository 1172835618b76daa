// Two more real MCP clients against the whole stack, each completing the OAuth flow on its own
// and making a tool call: the official Python SDK (`mcp` from PyPI, in tests/.venv) and
// `mcp-remote` (the stdio bridge Claude Desktop and others use for remote servers).
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import {
  startStack, completeAuthorization, freePort, repoRoot, dumpLogsOnFailure, dumpMcpLogsOnFailure, stopAll,
} from '../lib/harness.mjs';

const testsDir = path.join(repoRoot, 'tests');
const python = path.join(testsDir, '.venv', 'bin', 'python');

let stack;
before(async () => { stack = await startStack(); });
after(async () => { await stack?.stop(); await stopAll(); });
afterEach((t) => { dumpLogsOnFailure(t); dumpMcpLogsOnFailure(t); });

/** Collects a child's output; `waitFor(re)` resolves with the first match in stdout+stderr. */
function watch(child) {
  let out = '';
  const waiters = [];
  const onData = (d) => {
    out += d;
    for (const w of [...waiters]) {
      const m = out.match(w.re);
      if (m) { waiters.splice(waiters.indexOf(w), 1); w.resolve(m); }
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return {
    output: () => out,
    waitFor: (re, ms = 30000) => new Promise((resolve, reject) => {
      const m = out.match(re);
      if (m) return resolve(m);
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${re}; output:\n${out.slice(-3000)}`)), ms);
      waiters.push({ re, resolve: (x) => { clearTimeout(timer); resolve(x); } });
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code} before ${re}; output:\n${out.slice(-3000)}`)); });
    }),
  };
}

test('the official Python SDK client authorizes itself and creates a note', { timeout: 90000 }, async () => {
  assert.ok(existsSync(python), `${python} missing: make deps creates tests/.venv with the mcp package`);
  const redirect = `http://127.0.0.1:${await freePort()}/callback`;
  const child = spawn(python, [path.join(testsDir, 'python', 'mcp_oauth_client.py'), stack.mcpServers[0].url, redirect], { stdio: ['pipe', 'pipe', 'pipe'] });
  const w = watch(child);
  try {
    const [, url] = await w.waitFor(/^AUTHORIZE (\S+)$/m);
    const authUrl = new URL(url);
    assert.equal(authUrl.searchParams.get('code_challenge_method'), 'S256');
    assert.equal(authUrl.searchParams.get('resource'), stack.resource);
    const run = await completeAuthorization(url, redirect);
    assert.ok(run.query.code, run.redirect);
    child.stdin.write(`${JSON.stringify(run.query)}\n`);
    const [, json] = await w.waitFor(/^RESULT (.+)$/m, 60000);
    const result = JSON.parse(json);
    assert.equal(result.is_error, false, result.text);
    assert.ok(result.tools.includes('notes_create') && result.tools.includes('files_list'), result.tools.join(','));
    assert.equal(JSON.parse(result.text).title, 'From Python');
    assert.ok(stack.nextcloud.state.notes('alice').some((n) => n.title === 'From Python' && n.content === 'written by the Python SDK'));
  } finally {
    child.kill();
  }
});

test('mcp-remote bridges stdio to the server after its own OAuth flow', { timeout: 90000 }, async () => {
  const callbackPort = await freePort();
  const configDir = mkdtempSync(path.join(tmpdir(), 'mcp-remote-'));
  const bin = path.join(testsDir, 'node_modules', 'mcp-remote', 'dist', 'proxy.js');
  const child = spawn(process.execPath, [bin, stack.mcpServers[0].url, String(callbackPort), '--allow-http', '--host', '127.0.0.1'], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, MCP_REMOTE_CONFIG_DIR: configDir, BROWSER: 'true', DISPLAY: '' },
  });
  const w = watch(child);
  const responses = new Map();
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      const msg = JSON.parse(line);
      if (msg.id !== undefined) responses.set(msg.id, msg);
    } catch { /* not JSON-RPC */ }
  });
  const rpc = async (id, method, params) => {
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', id, method, params })}\n`);
    const deadline = Date.now() + 30000;
    while (!responses.has(id)) {
      if (Date.now() > deadline) throw new Error(`no answer to ${method}; output:\n${w.output().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    return responses.get(id);
  };
  try {
    const [, url] = await w.waitFor(/Please authorize this client by visiting:\s+(\S+)/);
    const redirect = `http://127.0.0.1:${callbackPort}/oauth/callback`;
    assert.equal(new URL(url).searchParams.get('redirect_uri'), redirect);
    // The browser lands on mcp-remote's own callback server, which takes the code.
    const run = await completeAuthorization(url, redirect, { deliver: true });
    assert.ok(run.query.code, run.redirect);
    await w.waitFor(/Connected to remote server|Proxy established|connected/i, 30000);
    const init = await rpc(1, 'initialize', { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'stdio-e2e', version: '1' } });
    assert.equal(init.result.serverInfo.name, 'nextcloud-mcp-server');
    child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' })}\n`);
    const call = await rpc(2, 'tools/call', { name: 'whoami', arguments: {} });
    assert.equal(call.result.isError, false, JSON.stringify(call));
    assert.equal(JSON.parse(call.result.content[0].text).user.id, 'alice');
  } finally {
    child.kill();
  }
});
