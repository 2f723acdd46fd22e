import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { execCapture } from '../util/exec.ts';
import { MegapakError } from '../util/errors.ts';
import { sinkOf } from '../util/write.ts';
import { writeDockerArchive } from './docker-archive.ts';
import type { ImageParts } from './image.ts';

const NO_DAEMON_HINT = 'write an archive with `megapak build --docker-archive FILE` and run `docker load -i FILE` where a daemon runs';

/** Fail with a clear line unless a Docker daemon answers `docker info`. */
export async function requireDockerDaemon(): Promise<void> {
  let r;
  try {
    r = await execCapture('docker', ['info', '--format', '{{.ServerVersion}}']);
  } catch {
    throw new MegapakError(`no Docker client ('docker') on PATH; ${NO_DAEMON_HINT}`);
  }
  if (r.code !== 0 || !r.stdout.trim()) {
    const why = r.stderr.trim().split('\n').find((l) => l.trim()) ?? `docker info exited ${r.code}`;
    throw new MegapakError(`no Docker daemon is reachable (${why}); ${NO_DAEMON_HINT}`);
  }
}

/** Stream the docker-archive straight into `docker load`: nothing is written to disk. */
export async function dockerLoad(image: ImageParts, blobPathOf: (digest: string) => string): Promise<string> {
  const child = spawn('docker', ['load'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (b) => (out += b));
  child.stderr.on('data', (b) => (err += b));
  const closed = once(child, 'close');
  await writeDockerArchive(image, blobPathOf, sinkOf(child.stdin));
  child.stdin.end();
  const [code] = (await closed) as [number];
  if (code !== 0) throw new MegapakError(`docker load failed (exit ${code}): ${err.trim()}`);
  return out.trim();
}
