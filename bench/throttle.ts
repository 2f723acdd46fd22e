// A loopback TCP proxy that caps each connection's downstream rate, as registries' CDNs cap
// each stream: one blob over one connection gets at most `bytesPerSecond`, so a puller gains
// only by pulling several blobs at once. It counts the bytes it forwards to the client.
import { createConnection, createServer, type Socket } from 'node:net';

export interface Throttle {
  port: number;
  host: string;
  /** Bytes sent to clients since start (or the last reset). */
  bytes: () => number;
  reset: () => void;
  stop: () => Promise<void>;
}

export async function startThrottle(target: { host: string; port: number }, bytesPerSecond: number): Promise<Throttle> {
  let total = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const up = createConnection(target.port, target.host);
    sockets.add(client).add(up);
    client.pipe(up);
    // Downstream: each chunk is due at `next`; the upstream pauses until then, and while the
    // client's buffer is full (so the cap holds end to end, not into our memory).
    let next = 0;
    let holds = 0;
    const hold = () => {
      if (holds++ === 0) up.pause();
    };
    const release = () => {
      if (--holds === 0) up.resume();
    };
    up.on('data', (chunk: Buffer) => {
      total += chunk.length;
      if (!client.write(chunk)) {
        hold();
        client.once('drain', release);
      }
      const now = performance.now();
      next = Math.max(next, now) + (chunk.length / bytesPerSecond) * 1000;
      if (next - now > 2) {
        hold();
        setTimeout(release, next - now);
      }
    });
    up.on('end', () => client.end());
    const close = () => {
      client.destroy();
      up.destroy();
      sockets.delete(client);
      sockets.delete(up);
    };
    up.on('error', close);
    client.on('error', close);
    client.on('close', close);
    up.on('close', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    host: `127.0.0.1:${port}`,
    bytes: () => total,
    reset: () => void (total = 0),
    stop: () => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
