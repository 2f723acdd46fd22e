import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform, type Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import { COMPRESSION, type Compression } from '../model/compression.ts';
import type { BlobDigests } from '../model/vocabulary.ts';
import type { ByteSink } from '../util/write.ts';
import { ThreadedSha256 } from '../util/sha256-thread.ts';
import { TocWriter } from './toc-writer.ts';

/** A pass-through that hashes and counts what flows by. */
function hashing(hash: ThreadedSha256, count: { n: number }): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      count.n += chunk.length;
      hash.update(chunk).then(() => cb(null, chunk), cb);
    },
  });
}

/** Hash a file another process is still writing, until `finished()` and no bytes remain. */
async function hashGrowingFile(file: string, finished: () => boolean, hash: ThreadedSha256, count: { n: number }): Promise<void> {
  const fh = await open(file, 'r');
  const buf = Buffer.allocUnsafe(4 << 20);
  try {
    for (;;) {
      const wasFinished = finished();
      const { bytesRead } = await fh.read(buf, 0, buf.length, count.n);
      if (bytesRead > 0) {
        await hash.update(buf.subarray(0, bytesRead));
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
export async function writeBlob(file: string, compression: Compression, produce: (sink: ByteSink) => Promise<void>, o: { workers: number }): Promise<BlobDigests> {
  const diffHash = new ThreadedSha256();
  const diff = { n: 0 };
  const blobHash = new ThreadedSha256();
  const blob = { n: 0 };
  let input: Writable;
  let done: Promise<unknown>;
  const cleanup: (() => void)[] = [];
  const c = COMPRESSION[compression].compressor;
  let toc: TocWriter | undefined;
  if (c.kind === 'process') {
    const fh = await open(file, 'w');
    const z = c.spawnInto(fh.fd);
    input = z.stdin;
    cleanup.push(() => z.child.kill('SIGKILL'));
    // The blob's digest is taken by reading the file behind the compressor as it grows (from
    // the page cache), so hashing overlaps compression instead of following it.
    let exited = false;
    const compressed = Promise.all([finished(z.stdin), z.exited]).finally(() => {
      exited = true;
      return fh.close();
    });
    done = Promise.all([compressed, hashGrowingFile(file, () => exited, blobHash, blob)]);
  } else {
    const out = createWriteStream(file, { highWaterMark: 4 << 20 });
    cleanup.push(() => out.destroy());
    if (c.kind === 'none') {
      // The blob is the tar: its digest is the diffID, so the bytes are hashed once, not twice.
      input = out;
      done = finished(out);
    } else {
      const t = c.kind === 'toc' ? (toc = new TocWriter(c.format, { threads: o.workers })) : c.make(o);
      input = t;
      done = pipeline(t, hashing(blobHash, blob), out);
    }
  }
  // Surface a failure of the pipeline while we are still producing, not only at the end: a
  // write into a pipeline that failed downstream (a full disk) may never call back.
  let failure: unknown;
  // Once we destroy the input ourselves, the pipeline's "Premature close" is a consequence, never the cause.
  let destroyedHere = false;
  const failed = new Promise<never>((_, reject) => done.catch(reject));
  failed.catch((e) => {
    if (!destroyedHere) failure ??= e;
  });
  try {
    await produce({
      async write(chunk) {
        if (failure) throw failure;
        diff.n += chunk.length;
        await diffHash.update(chunk);
        // Resolve only once the stream is done with the chunk (the tar writer reuses its buffer).
        await Promise.race([new Promise<void>((resolve, reject) => input.write(chunk, (e) => (e ? reject(e) : resolve()))), failed]);
      },
    });
    input.end();
    await done;
  } catch (err) {
    destroyedHere = true;
    input.destroy();
    for (const c of cleanup) c();
    await done.catch(() => {});
    throw failure ?? err;
  }
  const diffId = `sha256:${await diffHash.digest()}`;
  if (c.kind === 'none') return { diffId, diffSize: diff.n, digest: diffId, size: diff.n };
  const annotations = toc ? { annotations: toc.annotations } : {};
  // eStargz decompresses to the tar plus its TOC entry: that stream's digest is the diffID.
  const uncompressed = toc?.diff ?? { diffId, diffSize: diff.n };
  return { ...uncompressed, digest: `sha256:${await blobHash.digest()}`, size: blob.n, ...annotations };
}
