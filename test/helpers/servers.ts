import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO } from './cli.ts';

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Poll `url` until it answers (any HTTP status), for at most `ms`. */
export async function waitForHttp(url: string, ms = 20_000): Promise<void> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(1000) });
      return;
    } catch (err) {
      if (Date.now() > until) throw new Error(`${url} did not answer within ${ms} ms: ${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export interface Server {
  url: string;
  port: number;
  proc: ChildProcess;
  log: () => string;
  stop: () => Promise<void>;
}

export async function startProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv, port: number, probe: string): Promise<Server> {
  const proc = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  proc.stdout!.on('data', (b) => (log += b));
  proc.stderr!.on('data', (b) => (log += b));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${url}${probe}`);
  } catch (err) {
    proc.kill('SIGKILL');
    throw new Error(`${cmd} did not start: ${err}\n${log}`);
  }
  return {
    url,
    port,
    proc,
    log: () => log,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('close', () => resolve());
        proc.kill('SIGTERM');
        setTimeout(() => proc.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/** The npm package turborepo-remote-cache, local storage, static token, on loopback. */
export async function startTurboRemoteCache(storage: string, token: string): Promise<Server> {
  const port = await freePort();
  return startProcess(
    process.execPath,
    [join(REPO, 'node_modules', 'turborepo-remote-cache', 'dist', 'cli.js')],
    {
      HOST: '127.0.0.1',
      PORT: String(port),
      STORAGE_PROVIDER: 'local',
      STORAGE_PATH: storage,
      STORAGE_PATH_USE_TMP_FOLDER: 'false',
      TURBO_TOKEN: token,
      AUTH_MODE: 'static',
      LOG_LEVEL: 'warn',
    },
    port,
    '/v8/artifacts/status',
  );
}

/** Serves the files under `root` on loopback (enough for git's dumb HTTP and tarballs). */
export async function startStaticServer(root: string): Promise<{ url: string; hits: string[]; stop: () => Promise<void> }> {
  const { createServer: createHttp } = await import('node:http');
  const { createReadStream, statSync } = await import('node:fs');
  const { normalize } = await import('node:path');
  const hits: string[] = [];
  const server = createHttp((req, res) => {
    const rel = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, '');
    hits.push(rel);
    const file = join(root, rel);
    try {
      if (!statSync(file).isFile()) throw new Error('not a file');
    } catch {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${port}`, hits, stop: () => new Promise((resolve) => server.close(() => resolve())) };
}
