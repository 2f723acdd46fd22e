import { createServer, request, type IncomingMessage } from 'node:http';
import { Transform } from 'node:stream';
import { freePort } from './servers.ts';

/** What the proxy does to one matching request. */
export type Fault =
  | { kind: 'status'; status: number } // answer this status without asking the registry
  | { kind: 'reset'; afterBytes: number } // drop the connection once this much of the body went through
  | { kind: 'stall'; afterBytes: number } // stop forwarding the body (and never answer) after this much
  | { kind: 'corrupt'; atByte: number }; // flip one byte of the body on its way to the registry

interface Rule {
  method: string;
  path: RegExp;
  fault: Fault;
  times: number;
}

export interface FaultProxy {
  /** host:port to push to (with --plain-http). */
  host: string;
  /** Apply `fault` to the next `times` requests whose method and path match. */
  inject: (method: string, path: RegExp, fault: Fault, times?: number) => void;
  /** How many faults were applied so far. */
  applied: () => number;
  /** "METHOD path" of every request seen. */
  seen: string[];
  stop: () => Promise<void>;
}

/**
 * A fault-injecting HTTP proxy on loopback in front of a registry (`target`: host:port).
 * Requests pass through unchanged (Host included, so the registry's Location headers point
 * back at the proxy) unless a rule matches.
 */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const [thost, tport] = target.split(':');
  const rules: Rule[] = [];
  const seen: string[] = [];
  let applied = 0;
  const open = new Set<import('node:net').Socket>();
  const server = createServer((req: IncomingMessage, res) => {
    const path = req.url ?? '/';
    seen.push(`${req.method} ${path}`);
    const rule = rules.find((r) => r.times > 0 && r.method === req.method && r.path.test(path));
    const fault = rule?.fault;
    if (rule) {
      rule.times--;
      applied++;
    }
    if (fault?.kind === 'status') {
      req.resume();
      req.on('end', () => res.writeHead(fault.status, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE","message":"injected"}]}'));
      return;
    }
    const upstream = request({ host: thost, port: Number(tport), method: req.method, path, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    let seenBytes = 0;
    const body = new Transform({
      transform(chunk: Buffer, _e, cb) {
        const start = seenBytes;
        seenBytes += chunk.length;
        if ((fault?.kind === 'reset' || fault?.kind === 'stall') && seenBytes > fault.afterBytes) {
          const keep = chunk.subarray(0, Math.max(0, fault.afterBytes - start));
          if (fault.kind === 'reset') {
            req.socket.destroy();
            upstream.destroy();
            return cb();
          }
          this.push(keep);
          req.unpipe(body);
          req.pause(); // stalled: nothing more flows either way
          return cb();
        }
        if (fault?.kind === 'corrupt' && fault.atByte >= start && fault.atByte < seenBytes) {
          chunk = Buffer.from(chunk);
          chunk[fault.atByte - start] = chunk[fault.atByte - start]! ^ 0xff;
        }
        cb(null, chunk);
      },
    });
    req.pipe(body).pipe(upstream);
  });
  server.on('connection', (s) => {
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${port}`,
    inject: (method, path, fault, times = 1) => rules.push({ method, path, fault, times }),
    applied: () => applied,
    seen,
    stop: () =>
      new Promise((resolve) => {
        for (const s of open) s.destroy();
        server.close(() => resolve());
      }),
  };
}
