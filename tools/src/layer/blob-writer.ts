import { createHash, type Hash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { PassThrough, Transform, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { COMPRESSION, type Compression } from '../model/compression.ts';
import type { BlobDigests } from '../model/vocabulary.ts';
import { writeTo, type ByteSink } from '../util/write.ts';

/** A pass-through that hashes and counts what flows by. */
function hashing(hash: Hash, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      count.n += chunk.length;
      cb(null, chunk);
    },
  });
}

/** Hash a file another process is still writing, until `finished()` and no bytes remain. */
async function hashGrowingFile(file: string, finished: () => boolean, hash: Hash, count: { n: number }): Promise<void> {
  const fh = await open(file, 'r');
  const buf = Buffer.allocUnsafe(4 << 20);
  try {
    for (;;) {
      const wasFinished = finished();
      const { bytesRead } = await fh.read(buf, 0, buf.length, count.n);
      if (bytesRead > 0) {
        hash.update(buf.subarray(0, bytesRead));
        count.n += bytesRead;
      } else if (wasFinished) return;
      else await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    await fh.close();
  }
}

/**
 * Stream what `produce` writes through hashing and compression into `file`, computing the
 * diffID and blob digest on the way: the store is read exactly once.
 */
export async function writeBlob(file: string, compression: Compression, produce: (sink: ByteSink) => Promise<void>): Promise<BlobDigests> {
  const diffHash = createHash('sha256');
  const diff = { n: 0 };
  const blobHash = createHash('sha256');
  const blob = { n: 0 };
  let input: Writable;
  let done: Promise<unknown>;
  const cleanup: (() => void)[] = [];
  const c = COMPRESSION[compression].compressor;
  if (c.kind === 'process') {
    const fh = await open(file, 'w');
    const z = c.spawnInto(fh.fd);
    const pass = new PassThrough({ highWaterMark: 4 << 20 });
    input = pass;
    cleanup.push(() => z.child.kill('SIGKILL'));
    // The blob's digest is taken by reading the file behind the compressor as it grows (from
    // the page cache), so hashing overlaps compression instead of following it.
    let exited = false;
    const compressed = Promise.all([pipeline(pass, z.stdin), z.exited]).finally(() => {
      exited = true;
      return fh.close();
    });
    done = Promise.all([compressed, hashGrowingFile(file, () => exited, blobHash, blob)]);
  } else {
    const out = createWriteStream(file, { highWaterMark: 4 << 20 });
    const counter = hashing(blobHash, blob);
    cleanup.push(() => out.destroy());
    if (c.kind === 'none') {
      input = counter;
      done = pipeline(counter, out);
    } else {
      const t = c.make();
      input = t;
      done = pipeline(t, counter, out);
    }
  }
  // Surface a failure of the pipeline while we are still producing, not only at the end.
  let failure: unknown;
  done.catch((e) => (failure = e));
  try {
    await produce({
      async write(chunk) {
        if (failure) throw failure;
        diffHash.update(chunk);
        diff.n += chunk.length;
        await writeTo(input, chunk);
      },
    });
    input.end();
    await done;
  } catch (err) {
    input.destroy();
    for (const c of cleanup) c();
    await done.catch(() => {});
    throw failure ?? err;
  }
  return { diffId: `sha256:${diffHash.digest('hex')}`, diffSize: diff.n, digest: `sha256:${blobHash.digest('hex')}`, size: blob.n };
}
