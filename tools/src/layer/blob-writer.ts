import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { PassThrough, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { MegapakError } from '../util/errors.ts';
import type { Compression } from './compression.ts';
import type { ByteSink } from './layer-tar.ts';

export interface BlobDigests {
  /** sha256 of the uncompressed tar (the OCI diffID). */
  diffId: string;
  diffSize: number;
  /** sha256 of the blob as stored (equals diffId when uncompressed). */
  digest: string;
  size: number;
}

async function writeTo(w: Writable, chunk: Buffer): Promise<void> {
  if (!w.write(chunk)) await once(w, 'drain');
}

// zstd runs as its own process: Node 20's zlib has no zstd, and a separate process lets
// compression use the second core while this one reads and hashes.
function zstdProcess(): { child: ChildProcess; input: Writable; output: NodeJS.ReadableStream; exited: Promise<void> } {
  const child = spawn('zstd', ['-3', '-T0', '-q', '-c', '--no-progress'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'ENOENT' ? new MegapakError("'zstd' was not found on PATH; install it (Debian: apt-get install -y zstd)", 2) : e),
    );
    child.on('close', (code) => (code === 0 ? resolve() : reject(new MegapakError(`zstd exited with ${code}: ${stderr.trim()}`))));
  });
  return { child, input: child.stdin!, output: child.stdout!, exited };
}

/**
 * Stream what `produce` writes through hashing and compression into `file`, computing the
 * diffID and blob digest on the way: the tar is read from the store exactly once.
 */
export async function writeBlob(file: string, compression: Compression, produce: (sink: ByteSink) => Promise<void>): Promise<BlobDigests> {
  const diffHash = createHash('sha256');
  let diffSize = 0;
  const blobHash = createHash('sha256');
  let size = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      blobHash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const out = createWriteStream(file, { highWaterMark: 4 << 20 });
  let input: Writable;
  let done: Promise<unknown>;
  let zstd: ReturnType<typeof zstdProcess> | undefined;
  if (compression === 'none') {
    input = counter;
    done = pipeline(counter, out);
  } else if (compression === 'gzip') {
    const gz = createGzip({ level: 6 });
    input = gz;
    done = pipeline(gz, counter, out);
  } else {
    zstd = zstdProcess();
    const pass = new PassThrough({ highWaterMark: 4 << 20 });
    input = pass;
    done = Promise.all([pipeline(pass, zstd.input), pipeline(zstd.output, counter, out), zstd.exited]);
  }
  // Surface a failure of the pipeline while we are still producing, not only at the end.
  let failure: unknown;
  done.catch((e) => (failure = e));
  try {
    await produce({
      async write(chunk) {
        if (failure) throw failure;
        diffHash.update(chunk);
        diffSize += chunk.length;
        await writeTo(input, chunk);
      },
    });
    input.end();
    await done;
  } catch (err) {
    input.destroy();
    out.destroy();
    zstd?.child.kill('SIGKILL');
    await done.catch(() => {});
    throw failure ?? err;
  }
  const diffId = `sha256:${diffHash.digest('hex')}`;
  return { diffId, diffSize, digest: `sha256:${blobHash.digest('hex')}`, size };
}
