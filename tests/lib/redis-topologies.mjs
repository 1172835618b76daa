// Redis beyond one node, on loopback, for the e2e tests: a Redis Cluster (3 masters, 3
// replicas) and a Sentinel setup (1 master, 2 replicas, 3 sentinels). Every process is started
// with procs.mjs's `launch` (so `stopAll` ends it), on ports from the OS, ready by polling.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, waitFor, launch } from './procs.mjs';

const serverBin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
const cliBin = process.env.REDIS_CLI_BIN ?? 'redis-cli';

/** Runs redis-cli against 127.0.0.1:`port`; resolves with its output (rejects on failure). */
export function redisCli(port, args, { timeoutMs = 30000 } = {}) {
  return new Promise((resolve, reject) => {
    execFile(cliBin, ['-h', '127.0.0.1', '-p', String(port), ...args], { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`redis-cli -p ${port} ${args.join(' ')}: ${err.message} ${stderr}`));
      else resolve(stdout);
    });
  });
}

function startServer(name, port, args) {
  const proc = launch(name, serverBin, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--daemonize', 'no', ...args]);
  return { port, proc };
}

async function pong(port) {
  try {
    return (await redisCli(port, ['PING'], { timeoutMs: 1000 })).trim() === 'PONG';
  } catch {
    return false;
  }
}

/** The `key\nvalue\n…` reply of redis-cli to a map-like command, as an object. */
function pairs(out) {
  const lines = out.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  const o = {};
  for (let i = 0; i + 1 < lines.length; i += 2) o[lines[i]] = lines[i + 1];
  return o;
}

/**
 * Six cluster-enabled servers joined by `redis-cli --cluster create … --cluster-replicas 1`.
 * Returns `{ url, nodes, stop }`, `url` in the `redis+cluster://` form auth-proxy takes.
 */
/** How many WAIT commands the Redis servers on `ports` ran (INFO commandstats). */
export async function waitCalls(ports) {
  let total = 0;
  for (const port of ports) {
    const stats = await redisCli(port, ['INFO', 'commandstats']);
    const m = /cmdstat_wait:calls=(\d+)/.exec(stats);
    total += m ? Number(m[1]) : 0;
  }
  return total;
}

export async function startRedisCluster() {
  const dir = mkdtempSync(path.join(tmpdir(), 'e2e-redis-cluster-'));
  const nodes = [];
  for (let i = 0; i < 6; i += 1) {
    const port = await freePort();
    const bus = await freePort();
    const own = mkdtempSync(path.join(dir, `n${port}-`));
    nodes.push(startServer(`redis cluster node ${port}`, port, [
      '--appendonly', 'no', '--cluster-enabled', 'yes', '--cluster-port', String(bus),
      '--cluster-node-timeout', '2000', '--repl-diskless-sync-delay', '0', '--dir', own,
    ]));
  }
  for (const n of nodes) await waitFor(`redis cluster node ${n.port}`, () => pong(n.port), { proc: n.proc });
  const addrs = nodes.map((n) => `127.0.0.1:${n.port}`);
  await redisCli(nodes[0].port, ['--cluster', 'create', ...addrs, '--cluster-replicas', '1', '--cluster-yes']);
  for (const n of nodes) {
    await waitFor(`redis cluster node ${n.port} in a healthy cluster`, async () => {
      const info = await redisCli(n.port, ['CLUSTER', 'INFO']);
      if (!/cluster_state:ok/.test(info) || !/cluster_known_nodes:6/.test(info)) return false;
      const repl = await redisCli(n.port, ['INFO', 'replication']);
      // A replica must be in sync; a master must have its replica attached.
      return /role:slave/.test(repl) ? /master_link_status:up/.test(repl) : /connected_slaves:1/.test(repl);
    }, { proc: n.proc, timeoutMs: 30000 });
  }
  return {
    url: `redis+cluster://${addrs.join(',')}`,
    nodes,
    stop: async () => {
      await Promise.all(nodes.map((n) => n.proc.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * One master, two replicas, three sentinels watching the master as `masterName` (quorum 2,
 * down after 1 s). Returns `{ master, replicas, sentinels, masterName, url(query), currentMaster(),
 * stop }`; `url` is in the `redis+sentinel://` form auth-proxy takes.
 */
export async function startRedisSentinel({ masterName = 'mymaster' } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'e2e-redis-sentinel-'));
  const masterPort = await freePort();
  // No pause before a replica's first full sync; AOF on, so a restarted node keeps its data.
  const dataArgs = (port) => ['--appendonly', 'yes', '--appendfsync', 'always', '--repl-diskless-sync-delay', '0', '--dir', mkdtempSync(path.join(dir, `d${port}-`))];
  const master = startServer(`redis master ${masterPort}`, masterPort, dataArgs(masterPort));
  await waitFor('redis master', () => pong(masterPort), { proc: master.proc });
  const replicas = [];
  for (let i = 0; i < 2; i += 1) {
    const port = await freePort();
    replicas.push(startServer(`redis replica ${port}`, port, [...dataArgs(port), '--replicaof', '127.0.0.1', String(masterPort)]));
  }
  for (const r of replicas) {
    await waitFor(`redis replica ${r.port} in sync`, async () => /master_link_status:up/.test(await redisCli(r.port, ['INFO', 'replication'])), { proc: r.proc });
  }
  const sentinels = [];
  for (let i = 0; i < 3; i += 1) {
    const port = await freePort();
    const conf = path.join(dir, `sentinel-${port}.conf`);
    writeFileSync(conf, [
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor ${masterName} 127.0.0.1 ${masterPort} 2`,
      `sentinel down-after-milliseconds ${masterName} 1000`,
      `sentinel failover-timeout ${masterName} 10000`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n'));
    sentinels.push({ port, proc: launch(`redis sentinel ${port}`, serverBin, [conf, '--sentinel']) });
  }
  // Ready once every sentinel knows both replicas and the two other sentinels (a failover
  // needs a quorum and an elected leader).
  for (const s of sentinels) {
    await waitFor(`redis sentinel ${s.port} aware of its peers`, async () => {
      const m = pairs(await redisCli(s.port, ['SENTINEL', 'MASTER', masterName]));
      return Number(m['num-slaves']) === 2 && Number(m['num-other-sentinels']) === 2;
    }, { proc: s.proc, timeoutMs: 30000, intervalMs: 200 });
  }
  const currentMaster = async () => {
    for (const s of sentinels) {
      try {
        const [host, port] = (await redisCli(s.port, ['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName])).trim().split('\n');
        if (host && port) return Number(port);
      } catch { /* try the next sentinel */ }
    }
    return undefined;
  };
  const all = [master, ...replicas, ...sentinels];
  return {
    master, replicas, sentinels, masterName, currentMaster,
    url: (query = '') => `redis+sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${masterName}${query}`,
    stop: async () => {
      await Promise.all(all.map((n) => n.proc.stop()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
