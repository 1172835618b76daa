// Child processes for the test harness: free loopback ports, readiness polling (never fixed
// sleeps), and a registry of every process started, so that `stopAll()` (and the exit of the
// test process) ends them. Shared by harness.mjs and sabredav/sabredav.mjs without either
// importing the other. Everything binds to and talks to 127.0.0.1 only.
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** Every process started here and not yet seen exiting. */
const children = new Set();

/** Ends a child; a `detached` one is the leader of its own process group, which is ended whole. */
function signal(child, sig) {
  try {
    if (child.detachedGroup) process.kill(-child.pid, sig);
    else child.kill(sig);
  } catch {
    // already gone
  }
}

process.on('exit', () => { for (const c of children) signal(c, 'SIGKILL'); });

/** Ports this process has handed out: never handed out twice (see freePort). */
const handedOut = new Set();

/**
 * A loopback port free now. The OS may give a port just closed to the next caller, and callers
 * often take several ports before binding any (two replicas and their metrics listeners
 * started together): a port already handed out by this process is never returned again.
 */
export async function freePort() {
  for (;;) {
    const port = await new Promise((resolve, reject) => {
      const srv = createServer();
      srv.unref();
      srv.on('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const { port: p } = srv.address();
        srv.close(() => resolve(p));
      });
    });
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Polls `check` until it returns true; fails early (with its output) if `proc` exits. */
export async function waitFor(what, check, { timeoutMs = 20000, proc, intervalMs = 50 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    if (proc?.spawnError) throw proc.spawnError;
    if (proc && proc.exitCode !== null) {
      throw new Error(`${what} exited with ${proc.exitCode}:\n${proc.output()}`);
    }
    try {
      if (await check()) return;
    } catch (e) {
      lastError = e;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(`${what} not ready in ${timeoutMs} ms (${lastError?.message ?? 'no answer'})${proc ? `:\n${proc.output()}` : ''}`);
}

/**
 * Starts `cmd args` with `env` added to this process's environment (less the harness's own
 * switches), capturing its output. `detached: true` puts it in its own process group (for
 * programs that fork workers); stopping it then signals the whole group.
 */
export function launch(name, cmd, args, env = {}, { detached = false, cwd } = {}) {
  // The harness's own switches are not the services' configuration (which refuses unknown names).
  const inherited = { ...process.env };
  delete inherited.AUTH_PROXY_BIN;
  delete inherited.MCP_SERVER_BIN;
  const child = spawn(cmd, args, { env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached, cwd });
  child.detachedGroup = detached;
  let out = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { out += d; });
  child.on('error', (err) => {
    child.spawnError = err.code === 'ENOENT'
      ? new Error(`${name}: \`${cmd}\` not found (${err.message})`)
      : err;
  });
  child.output = () => out;
  child.stop = () => new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null || child.spawnError) {
      if (detached) signal(child, 'SIGKILL'); // workers may outlive their leader
      return resolve();
    }
    const hard = setTimeout(() => signal(child, 'SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(hard);
      if (detached) signal(child, 'SIGKILL');
      resolve();
    });
    signal(child, 'SIGTERM');
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  child.once('error', () => children.delete(child));
  return child;
}

/** Stops every process started here that is still running. */
export async function stopAll() {
  await Promise.all([...children].map((c) => c.stop()));
}
