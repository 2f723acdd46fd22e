import { createServer, request, type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { freePort } from './servers.ts';

export interface CountingProxy {
  /** host:port to pull from (plain HTTP). */
  host: string;
  /** Response body bytes of blob GETs since start or `reset` (ranged or whole), and how many such requests had a Range. */
  blobBytes: () => number;
  rangedRequests: () => number;
  reset: () => void;
  stop: () => Promise<void>;
}

/**
 * An HTTP proxy on loopback in front of a registry that counts the body bytes the registry
 * serves for blobs: what a puller really fetched, range requests included (with their
 * multipart framing, which the puller downloads too). Requests pass through unchanged.
 */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const [thost, tport] = target.split(':');
  let bytes = 0;
  let ranged = 0;
  const open = new Set<Socket>();
  const server = createServer((req: IncomingMessage, res) => {
    const path = req.url ?? '/';
    const isBlob = req.method === 'GET' && /\/blobs\/sha256:/.test(path);
    if (isBlob && req.headers.range) ranged++;
    const upstream = request({ host: thost, port: Number(tport), method: req.method, path, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      if (isBlob) up.on('data', (b: Buffer) => (bytes += b.length));
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  server.on('connection', (s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${port}`,
    blobBytes: () => bytes,
    rangedRequests: () => ranged,
    reset: () => {
      bytes = 0;
      ranged = 0;
    },
    stop: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
