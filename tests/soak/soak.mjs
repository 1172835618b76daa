// Soak (issue 12): a mixed load against the whole stack (startStack: real Redis, the dev IdP,
// the Nextcloud stand-in with sabre/dav, auth-proxy, mcp-server), all on loopback, for a fixed
// time, with the memory of the services sampled. It fails (exit 1) when a legitimate request
// fails, a 5xx other than a clean 503 appears, a service exits or panics, or memory passes its
// ceiling. Figures go to stdout as one JSON line (`soak-result {...}`); docs/reliability.md
// quotes them.
//
//   cd tests && node soak/soak.mjs [--duration 600] [--json out.json]
//   make soak            # 10 minutes
//
// The load, concurrently until the deadline:
//   sign-in   2 workers: consent, IdP login, Nextcloud connect page (Login Flow v2) when needed,
//             code redemption, on a fixed set of clients, as alice/bob/carol; every 4th grant is
//             revoked again (which also deletes its app password, so the next sign-in of that
//             pair goes through Login Flow again); the others join a pool of at most 8 grants
//             per worker (older ones are revoked).
//   refresh   2 workers: refresh-token rotation on grants of the pool.
//   tools     2 workers: an MCP SDK client calling whoami and notes_list with a pool grant's
//             access token (a new session with a fresh token every 20 calls).
//   CIMD      2 abusive workers: /authorize with random https client ids on loopback (refused
//             before any fetch; up to 2 KB long), each from a random X-Forwarded-For address.
//   DCR       2 abusive workers: /register with random metadata (201 until the global quota,
//             then 429), broken JSON and oversized bodies, from random addresses.
// The auth-proxy trusts X-Forwarded-For from 127.0.0.1 so that the abusive traffic comes from
// many addresses (one rate-limit bucket each, as in an attack); per-IP limits are high enough
// that the legitimate workers (127.0.0.1) are never limited; the global registration quota keeps
// its default.
import { parseArgs } from 'node:util';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { randomBytes, randomInt } from 'node:crypto';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  startStack, register, runAuthorization, redeemCode, token, revoke, stopAll,
} from '../lib/harness.mjs';

const { values } = parseArgs({ options: {
  duration: { type: 'string', default: '75' },
  json: { type: 'string' },
  // Ceilings (MiB). Peak RSS of each service and Redis used_memory over the whole run, and RSS
  // growth from the end of the warm-up (the first quarter, at most 60 s) to the end.
  'max-proxy-rss': { type: 'string', default: '160' },
  'max-mcp-rss': { type: 'string', default: '160' },
  'max-redis': { type: 'string', default: '64' },
  'max-rss-growth': { type: 'string', default: '48' },
  'sample-secs': { type: 'string', default: '5' },
} });
const durationMs = Number(values.duration) * 1000;
const MiB = 1024 * 1024;
const ceilings = {
  proxyRssMiB: Number(values['max-proxy-rss']),
  mcpRssMiB: Number(values['max-mcp-rss']),
  redisUsedMiB: Number(values['max-redis']),
  rssGrowthMiB: Number(values['max-rss-growth']),
};

const REDIRECT = 'http://127.0.0.1:17997/oauth/callback';
const USERS = ['alice', 'bob', 'carol'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const problems = [];
const counts = {};
const count = (k) => { counts[k] = (counts[k] ?? 0) + 1; };
const problem = (what) => { if (problems.length < 50) problems.push(what); count('problem'); };

function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch { return NaN; }
}

function redisInfo(port) {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let out = '';
    sock.setTimeout(2000, () => { sock.destroy(); resolve({}); });
    sock.on('error', () => resolve({}));
    sock.on('data', (d) => {
      out += d;
      const m = /^\$(\d+)\r\n/.exec(out);
      if (m && Buffer.byteLength(out) >= m[0].length + Number(m[1])) {
        sock.destroy();
        resolve(Object.fromEntries(out.split('\r\n').filter((l) => l.includes(':')).map((l) => l.split(':'))));
      }
    });
    sock.write('INFO\r\n');
  });
}

// A random address from the documentation ranges (RFC 5737, RFC 3849): header strings only.
function randomIp() {
  switch (randomInt(3)) {
    case 0: return `203.0.113.${randomInt(256)}`;
    case 1: return `198.51.100.${randomInt(256)}`;
    default: return `2001:db8:${randomInt(65536).toString(16)}:${randomInt(65536).toString(16)}::${randomInt(65536).toString(16)}`;
  }
}

let stack;
try {
  stack = await startStack({
    proxyEnv: {
      AUTH_PROXY_TRUSTED_PROXIES: '127.0.0.1',
      AUTH_PROXY_RATE_LIMIT_AUTHORIZE: '100000/60',
      AUTH_PROXY_RATE_LIMIT_TOKEN: '100000/60',
      AUTH_PROXY_RATE_LIMIT_REGISTER: '100000/3600',
      AUTH_PROXY_RATE_LIMIT_AUTHORIZE_PER_CLIENT: '100000/60',
      AUTH_PROXY_RATE_LIMIT_TOKEN_PER_CLIENT: '100000/60',
      AUTH_PROXY_RATE_LIMIT_PER_USER: '100000/60',
      RUST_LOG: 'warn',
    },
    mcpEnv: { RUST_LOG: 'warn' },
  });
  const { proxy, redis, mcpServers: [mcp] } = stack;
  const procs = { proxy: proxy.proc, mcp: mcp.proc };

  // Legitimate clients, registered before the abusive registrations spend the global quota.
  const clients = [];
  for (let i = 0; i < 4; i += 1) {
    clients.push(await register(proxy, { redirect_uris: [REDIRECT], token_endpoint_auth_method: 'none', client_name: `soak client ${i}` }));
  }

  const started = Date.now();
  const deadline = started + durationMs;
  const running = () => Date.now() < deadline && problems.length < 50;
  const pool = [];

  const samples = [];
  const sample = async () => {
    const info = await redisInfo(redis.port);
    samples.push({
      t: Math.round((Date.now() - started) / 1000),
      proxyRss: rssBytes(procs.proxy.pid),
      mcpRss: rssBytes(procs.mcp.pid),
      redisUsed: Number(info.used_memory),
      redisKeys: Number(/keys=(\d+)/.exec(info.db0 ?? '')?.[1] ?? 0),
    });
  };
  await sample();
  const sampler = (async () => {
    while (running()) {
      await sleep(Number(values['sample-secs']) * 1000);
      await sample();
      for (const [name, p] of Object.entries(procs)) if (p.exitCode !== null || p.signalCode !== null) problem(`${name} exited`);
    }
  })();

  // Revoking a grant deletes the app password of its (user, client) pair, which ends every
  // other grant of that pair at its next use: they all leave the pool first.
  const revokeGrant = async (grant) => {
    for (let j = pool.length - 1; j >= 0; j -= 1) {
      if (pool[j].client === grant.client && pool[j].login === grant.login) pool.splice(j, 1);
    }
    const r = await revoke(proxy, { token: grant.refresh, client_id: grant.client.client_id });
    if (r.status !== 200) problem(`revoke ${r.status}`); else count('revoke');
  };

  const signInWorker = async (w) => {
    for (let i = 0; running(); i += 1) {
      // Each worker has clients of its own (a (user, client) pair's sign-ins and revocations
      // never race each other: a revocation deletes the pair's app password).
      const client = clients[w + 2 * (i % 2)];
      const login = USERS[Math.floor(i / 2) % USERS.length];
      try {
        const run = await runAuthorization({ proxy, client, login, scope: 'notes:read notes:write' });
        if (!run.query?.code) { problem(`sign-in ended without a code: ${run.redirect ?? run.connect?.status ?? run.consent?.status}`); continue; }
        const issued = await redeemCode(proxy, client, run);
        if (issued.status !== 200) { problem(`redeem ${issued.status} ${JSON.stringify(issued.body)}`); continue; }
        count('sign-in');
        if (run.connect) count('sign-in through Login Flow');
        const grant = { worker: w, client, login, refresh: issued.body.refresh_token, access: issued.body.access_token };
        pool.push(grant);
        const mine = pool.filter((g) => g.worker === w);
        if (i % 4 === 3) await revokeGrant(grant);
        else if (mine.length > 8) await revokeGrant(mine[0]);
      } catch (e) {
        problem(`sign-in: ${e.message.slice(0, 300)}`);
      }
    }
  };

  const refreshWorker = async () => {
    while (running()) {
      const grant = pool[randomInt(Math.max(pool.length, 1))];
      if (!grant || grant.busy) { await sleep(20); continue; }
      grant.busy = true;
      try {
        const r = await token(proxy, { grant_type: 'refresh_token', refresh_token: grant.refresh, client_id: grant.client.client_id });
        if (r.status === 200) { grant.refresh = r.body.refresh_token; grant.access = r.body.access_token; count('refresh'); }
        else if (r.status === 400 && r.body.error === 'invalid_grant' && !pool.includes(grant)) count('refresh of a grant revoked meanwhile');
        else problem(`refresh ${r.status} ${JSON.stringify(r.body)}`);
      } finally {
        grant.busy = false;
      }
    }
  };

  const toolWorker = async () => {
    while (running()) {
      const grant = pool[randomInt(Math.max(pool.length, 1))];
      if (!grant) { await sleep(50); continue; }
      const client = new Client({ name: 'soak', version: '1.0.0' });
      try {
        await client.connect(new StreamableHTTPClientTransport(new URL(mcp.url), { requestInit: { headers: { authorization: `Bearer ${grant.access}` } } }));
        for (let i = 0; i < 20 && running(); i += 1) {
          const name = i % 2 ? 'notes_list' : 'whoami';
          const r = await client.callTool({ name, arguments: {} });
          if (!r.isError) { count('tool call'); continue; }
          const text = r.content?.map((c) => c.text).join('') ?? '';
          // The grant may have been revoked by a sign-in worker meanwhile.
          if (!pool.includes(grant)) { count('tool call on a grant revoked meanwhile'); break; }
          problem(`${name}: ${text.slice(0, 200)}`);
        }
      } catch (e) {
        if (!pool.includes(grant)) count('tool session on a grant revoked meanwhile');
        else problem(`tools: ${e.message.slice(0, 300)}`);
      } finally {
        await client.close().catch(() => {});
      }
    }
  };

  const cimdWorker = async () => {
    while (running()) {
      const u = new URL(`${proxy.base}/authorize`);
      const host = ['127.0.0.1', 'localhost', '[::1]', '127.0.0.2'][randomInt(4)];
      const clientId = `https://${host}/${randomBytes(randomInt(8, 1000)).toString('hex')}.json`;
      for (const [k, v] of Object.entries({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, state: 's', code_challenge: randomBytes(32).toString('base64url'), code_challenge_method: 'S256' })) u.searchParams.set(k, v);
      try {
        const res = await fetch(u, { redirect: 'manual', headers: { 'x-forwarded-for': randomIp() } });
        await res.arrayBuffer();
        count(`abusive CIMD ${res.status}`);
        if (res.status >= 500) problem(`abusive CIMD answered ${res.status}`);
      } catch (e) {
        problem(`abusive CIMD: ${e.message}`);
      }
    }
  };

  const dcrWorker = async () => {
    for (let i = 0; running(); i += 1) {
      let body;
      switch (i % 4) {
        case 0: body = '{"redirect_uris": ["http://127.0.0.1/cb"'; break; // broken JSON
        case 1: body = JSON.stringify({ redirect_uris: [`http://127.0.0.1:${randomInt(1024, 65535)}/${'x'.repeat(randomInt(1, 4000))}`], client_name: randomBytes(2000).toString('hex') }); break; // large
        default: body = JSON.stringify({ redirect_uris: [`http://127.0.0.1:${randomInt(1024, 65535)}/cb`], token_endpoint_auth_method: 'none', client_name: `spam ${randomBytes(8).toString('hex')}` });
      }
      try {
        const res = await fetch(`${proxy.base}/register`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': randomIp() }, body });
        await res.arrayBuffer();
        count(`abusive DCR ${res.status}`);
        if (res.status >= 500) problem(`abusive DCR answered ${res.status}`);
      } catch (e) {
        problem(`abusive DCR: ${e.message}`);
      }
    }
  };

  await Promise.all([
    signInWorker(0), signInWorker(1), refreshWorker(), refreshWorker(), toolWorker(), toolWorker(),
    cimdWorker(), cimdWorker(), dcrWorker(), dcrWorker(), sampler,
  ]);
  await sample();

  for (const [name, p] of Object.entries({ 'auth-proxy': proxy, 'mcp-server': mcp })) {
    if (/panicked/.test(p.output())) problem(`${name} panicked`);
  }

  const mib = (b) => Math.round((b / MiB) * 10) / 10;
  const warm = samples.find((s) => s.t >= Math.min(60, durationMs / 4000)) ?? samples[0];
  const last = samples[samples.length - 1];
  const peak = (k) => Math.max(...samples.map((s) => s[k]).filter(Number.isFinite));
  const result = {
    durationSecs: Math.round((Date.now() - started) / 1000),
    counts,
    memoryMiB: {
      proxyRss: { start: mib(samples[0].proxyRss), warm: mib(warm.proxyRss), end: mib(last.proxyRss), peak: mib(peak('proxyRss')) },
      mcpRss: { start: mib(samples[0].mcpRss), warm: mib(warm.mcpRss), end: mib(last.mcpRss), peak: mib(peak('mcpRss')) },
      redisUsed: { start: mib(samples[0].redisUsed), warm: mib(warm.redisUsed), end: mib(last.redisUsed), peak: mib(peak('redisUsed')) },
      redisKeys: { start: samples[0].redisKeys, end: last.redisKeys },
    },
    ceilings,
    problems,
    samples: samples.map((s) => [s.t, mib(s.proxyRss), mib(s.mcpRss), mib(s.redisUsed), s.redisKeys]),
  };
  const m = result.memoryMiB;
  if (m.proxyRss.peak > ceilings.proxyRssMiB) problems.push(`auth-proxy RSS peak ${m.proxyRss.peak} MiB > ${ceilings.proxyRssMiB}`);
  if (m.mcpRss.peak > ceilings.mcpRssMiB) problems.push(`mcp-server RSS peak ${m.mcpRss.peak} MiB > ${ceilings.mcpRssMiB}`);
  if (m.redisUsed.peak > ceilings.redisUsedMiB) problems.push(`Redis used_memory peak ${m.redisUsed.peak} MiB > ${ceilings.redisUsedMiB}`);
  if (m.proxyRss.end - m.proxyRss.warm > ceilings.rssGrowthMiB) problems.push(`auth-proxy RSS grew ${Math.round(m.proxyRss.end - m.proxyRss.warm)} MiB after warm-up > ${ceilings.rssGrowthMiB}`);
  if (m.mcpRss.end - m.mcpRss.warm > ceilings.rssGrowthMiB) problems.push(`mcp-server RSS grew ${Math.round(m.mcpRss.end - m.mcpRss.warm)} MiB after warm-up > ${ceilings.rssGrowthMiB}`);
  for (const k of ['sign-in', 'refresh', 'tool call']) if (!counts[k]) problems.push(`no successful ${k}`);
  console.log(`soak-result ${JSON.stringify(result)}`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(result, null, 2)}\n`);
  if (problems.length) {
    console.error(`soak FAILED:\n  ${problems.join('\n  ')}`);
    process.exitCode = 1;
  } else {
    console.log(`soak passed: ${result.durationSecs} s, ${counts['sign-in']} sign-ins, ${counts.refresh} refreshes, ${counts['tool call']} tool calls; peaks: auth-proxy ${m.proxyRss.peak} MiB, mcp-server ${m.mcpRss.peak} MiB, Redis ${m.redisUsed.peak} MiB`);
  }
} catch (e) {
  console.error(`soak FAILED: ${e.stack}`);
  process.exitCode = 1;
} finally {
  await stack?.stop().catch(() => {});
  await stopAll();
}
