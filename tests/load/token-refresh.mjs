// Load benchmark of the auth-proxy's token endpoint (refresh_token grant: the Lua rotation
// script in Redis plus an ES256/EdDSA signature per request) against DESIGN's target of 10k/s
// with p99 under 5 ms. Not a test: it prints figures.
//
//   cargo build --release -p auth-proxy
//   cd tests && node load/token-refresh.mjs [--duration 15] [--connections 32] [--alg EdDSA|ES256]
//
// A real sign-in (redis-server, the oidc-provider IdP) yields one refresh token; with a long
// refresh grace every presentation of it within the grace yields a new sibling token, so each
// request does the full rotation. Rate limiting is off. wrk (apt) generates the load from the
// same machine, so the figures include its CPU share.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync, mkdtempSync, existsSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: {
  duration: { type: 'string', default: '15' },
  connections: { type: 'string', default: '32' },
  threads: { type: 'string', default: '2' },
  alg: { type: 'string', default: 'EdDSA' },
} });
const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const bin = process.env.AUTH_PROXY_BIN ?? path.join(repoRoot, 'target', 'release', 'auth-proxy');
if (!existsSync(bin)) { console.error(`${bin} missing: cargo build --release -p auth-proxy`); process.exit(2); }
if (spawnSync('wrk', ['--version']).error) { console.error('wrk missing: apt-get install -y wrk'); process.exit(2); }
// The harness picks its binary when imported: point it at the release build first.
process.env.AUTH_PROXY_BIN = bin;
const {
  startRedis, startIdp, startProxy, register, runAuthorization, redeemCode, freePort, stopAll,
} = await import('../lib/harness.mjs');

const signing = values.alg === 'ES256'
  ? generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' })
  : generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' });

try {
  const redis = await startRedis();
  const port = await freePort();
  const idp = await startIdp({ redirectUris: [`http://127.0.0.1:${port}/callback`] });
  const proxy = await startProxy({
    idp, redis, port, keys: { signing },
    env: {
      AUTH_PROXY_RATE_LIMIT_TOKEN: 'off',
      AUTH_PROXY_REFRESH_GRACE_SECS: '300',
      AUTH_PROXY_LOG_FORMAT: 'json',
      RUST_LOG: 'warn',
    },
  });
  const client = await register(proxy, { redirect_uris: [`http://127.0.0.1:${await freePort()}/cb`] });
  const run = await runAuthorization({ proxy, client });
  const issued = await redeemCode(proxy, client, run);
  if (issued.status !== 200) throw new Error(`redeem: ${JSON.stringify(issued.body)}`);
  const body = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: issued.body.refresh_token, client_id: client.client_id }).toString();

  const dir = mkdtempSync(path.join(tmpdir(), 'token-load-'));
  const script = path.join(dir, 'refresh.lua');
  writeFileSync(script, `
wrk.method = "POST"
wrk.body = "${body}"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local non200 = 0
response = function(status, headers, body) if status ~= 200 then non200 = non200 + 1 end end
done = function(summary, latency, requests)
  io.write(string.format("p50_us=%d p90_us=%d p99_us=%d max_us=%d\\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`);
  // Warm-up, then the measured run.
  spawnSync('wrk', ['-t1', '-c4', '-d2s', '-s', script, `${proxy.base}/token`]);
  const out = spawnSync('wrk', [`-t${values.threads}`, `-c${values.connections}`, `-d${values.duration}s`, '--latency', '-s', script, `${proxy.base}/token`], { encoding: 'utf8' });
  console.log(out.stdout);
  const rps = out.stdout.match(/Requests\/sec:\s+([\d.]+)/)?.[1];
  const p99 = out.stdout.match(/p99_us=(\d+)/)?.[1];
  const errors = out.stdout.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? '0';
  console.log(`token refresh (${values.alg}): ${rps} req/s, p99 ${(Number(p99) / 1000).toFixed(2)} ms, non-2xx ${errors} — ${values.connections} connections, ${values.duration} s`);
} finally {
  await stopAll();
}
