// A TCP proxy on loopback that can be made slow, silent or refusing, for chaos tests: put it in
// front of a service (the IdP, the Nextcloud stand-in) and point the service's clients at it.
//
//   const chaos = await startChaosProxy({ targetPort });   // listens on a free 127.0.0.1 port
//   chaos.set('delay', { ms: 3000 });  // every new connection waits 3 s before it is forwarded
//   chaos.set('hang');                 // connections are accepted, nothing is ever forwarded
//   chaos.set('refuse');               // connections are accepted and reset at once (RST)
//   chaos.set('pass');                 // normal again (connections that hang stay hung)
//   chaos.dropAll();                   // resets every open connection
//   await chaos.close();
//
// A mode applies to connections opened after `set`, as a network fault would: an established
// keep-alive connection keeps flowing in `pass` and `delay`, but `hang` and `refuse` also stop
// the bytes of connections already open (so a client's pooled connection sees the outage too).
// Everything binds to and connects to 127.0.0.1 only.
import { createServer, connect } from 'node:net';

const MODES = new Set(['pass', 'delay', 'hang', 'refuse']);

/**
 * → { port, base, set(mode, {ms}), mode, dropAll(), close(), stats: {accepted, forwarded, refused, hung} }
 * `port` (optional) is where to listen; `targetPort` is the service on 127.0.0.1.
 */
export async function startChaosProxy({ targetPort, port = 0 }) {
  let mode = 'pass';
  let delayMs = 0;
  const open = new Set();
  const stats = { accepted: 0, forwarded: 0, refused: 0, hung: 0 };

  const server = createServer({ pauseOnConnect: true }, (client) => {
    stats.accepted += 1;
    const conn = { client, upstream: null };
    open.add(conn);
    const forget = () => {
      open.delete(conn);
      client.destroy();
      conn.upstream?.destroy();
    };
    client.on('error', forget);
    client.on('close', forget);
    const forward = () => {
      if (client.destroyed) return;
      if (mode === 'refuse') { stats.refused += 1; client.resetAndDestroy(); return; }
      if (mode === 'hang') { stats.hung += 1; return; } // never read, never answered
      stats.forwarded += 1;
      const upstream = connect(targetPort, '127.0.0.1');
      conn.upstream = upstream;
      upstream.on('error', forget);
      upstream.on('close', forget);
      // Bytes flow only while the proxy is not hanging or refusing.
      client.on('data', (d) => { if (mode === 'hang') return; if (mode === 'refuse') { forget(); return; } upstream.write(d); });
      upstream.on('data', (d) => { if (mode === 'hang') return; if (mode === 'refuse') { forget(); return; } client.write(d); });
      client.on('end', () => upstream.end());
      upstream.on('end', () => client.end());
      client.resume();
    };
    if (mode === 'delay') setTimeout(forward, delayMs);
    else forward();
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  const listening = server.address().port;
  return {
    port: listening,
    base: `http://127.0.0.1:${listening}`,
    stats,
    get mode() { return mode; },
    set(next, { ms = 0 } = {}) {
      if (!MODES.has(next)) throw new Error(`chaos proxy: unknown mode ${next}`);
      mode = next;
      delayMs = ms;
    },
    dropAll() { for (const c of [...open]) { c.client.resetAndDestroy(); c.upstream?.destroy(); open.delete(c); } },
    openConnections: () => open.size,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const c of [...open]) { c.client.destroy(); c.upstream?.destroy(); }
        open.clear();
      });
    },
  };
}
