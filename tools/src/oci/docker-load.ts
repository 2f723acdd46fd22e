import { execCapture, feed, spawnPiped } from '../util/exec.ts';
import { MegapakError, MissingToolError } from '../util/errors.ts';
import { sinkOf } from '../util/write.ts';
import { writeDockerArchive } from './docker-archive.ts';
import type { ImageParts } from './image.ts';

const NO_DAEMON_HINT = 'write an archive with `megapak build --docker-archive FILE` and run `docker load -i FILE` where a daemon runs';

/** Fail with a clear line unless a Docker daemon answers `docker info`. */
export async function requireDockerDaemon(): Promise<void> {
  let r;
  try {
    r = await execCapture('docker', ['info', '--format', '{{.ServerVersion}}']);
  } catch (err) {
    if (err instanceof MissingToolError) throw new MegapakError(`no Docker client ('docker') on PATH; ${NO_DAEMON_HINT}`);
    throw err;
  }
  if (r.code !== 0 || !r.stdout.trim()) {
    const why =
      r.stderr
        .trim()
        .split('\n')
        .find((l) => l.trim()) ?? `docker info exited ${r.code}`;
    throw new MegapakError(`no Docker daemon is reachable (${why}); ${NO_DAEMON_HINT}`);
  }
}

/** Stream the docker-archive straight into `docker load`: nothing is written to disk. */
export async function dockerLoad(image: ImageParts, blobPathOf: (digest: string) => string): Promise<string> {
  const p = spawnPiped('docker', ['load'], { stdout: 'capture', what: 'docker load' });
  return feed(p, () => writeDockerArchive(image, blobPathOf, sinkOf(p.stdin)));
}
