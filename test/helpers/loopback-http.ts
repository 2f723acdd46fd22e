// In-process HTTP servers on 127.0.0.1 for the registry clients' unit tests (fake registries).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

const open: Server[] = [];

/** Serve `handle` on a free loopback port; `closeLoopbackServers` (an afterEach) closes it. */
export async function listenLoopback(handle: (req: IncomingMessage, res: ServerResponse) => Promise<void> | void): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push(server);
  return { server, port: (server.address() as AddressInfo).port };
}

export async function closeLoopbackServers(): Promise<void> {
  for (const s of open.splice(0)) await new Promise((r) => s.close(r));
}

/** A request's whole body. */
export const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve) => {
    const parts: Buffer[] = [];
    req.on('data', (b: Buffer) => parts.push(b));
    req.on('end', () => resolve(Buffer.concat(parts)));
  });
