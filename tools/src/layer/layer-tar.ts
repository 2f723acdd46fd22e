import { closeSync, openSync, readSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { MegapakError } from '../util/errors.ts';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarEntry } from './tar-header.ts';
import { walkStorePath } from './store-walk.ts';

export interface ByteSink {
  write(chunk: Buffer): Promise<void>;
}

const READ_CHUNK = 4 << 20;
const BATCH = 1 << 20;
/** Files up to this size (with their padding) are read straight into the batch buffer. */
const SMALL_FILE = BATCH / 4;

/**
 * Collects small pieces (headers, padding, small files) into 1 MiB chunks so the hash and
 * compressor see few large writes; big reads pass straight through without a copy.
 */
class Batcher {
  buf = Buffer.allocUnsafe(BATCH);
  used = 0;
  constructor(private readonly sink: ByteSink) {}
  async push(b: Buffer): Promise<void> {
    if (b.length >= SMALL_FILE) {
      await this.flush();
      await this.sink.write(b);
      return;
    }
    await this.room(b.length);
    b.copy(this.buf, this.used);
    this.used += b.length;
  }
  /** Make room for `n` (≤ BATCH) more bytes at `buf[used]`. */
  async room(n: number): Promise<void> {
    if (this.used + n > BATCH) await this.flush();
  }
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const out = this.buf.subarray(0, this.used);
    this.buf = Buffer.allocUnsafe(BATCH);
    this.used = 0;
    await this.sink.write(out);
  }
}

/** Top directories of the store dir, e.g. `nix` and `nix/store`, each a 0755 dir entry. */
function storeDirEntries(storeDir: string): TarEntry[] {
  const parts = storeDir.split('/').filter(Boolean);
  return parts.map((_, i) => ({ name: parts.slice(0, i + 1).join('/'), type: 'dir', mode: 0o755, size: 0 }));
}

const shrank = (abs: string) => new MegapakError(`${abs} shrank while it was being read; the Nix store must not change during a build`);

/**
 * A small file, read synchronously into the batch buffer: three syscalls and no allocation,
 * where the promise API costs three thread-pool round trips per file (most of the time of a
 * site-packages tree of 4 KiB files went there).
 */
async function copySmallFile(abs: string, size: number, batch: Batcher): Promise<void> {
  const pad = padding(size);
  await batch.room(size + pad);
  const fd = openSync(abs, 'r');
  try {
    for (let got = 0; got < size; ) {
      const n = readSync(fd, batch.buf, batch.used + got, size - got, got);
      if (n === 0) throw shrank(abs);
      got += n;
    }
  } finally {
    closeSync(fd);
  }
  batch.buf.fill(0, batch.used + size, batch.used + size + pad);
  batch.used += size + pad;
}

/** A large file in 4 MiB reads, the next one already under way while the last is hashed and compressed. */
async function copyLargeFile(abs: string, size: number, batch: Batcher): Promise<void> {
  const fh = await open(abs, 'r');
  const readAt = (pos: number) => {
    const want = Math.min(size - pos, READ_CHUNK);
    return fh.read(Buffer.allocUnsafe(want), 0, want, pos);
  };
  let next: ReturnType<typeof readAt> | null = readAt(0);
  try {
    for (let pos = 0; pos < size; ) {
      const { bytesRead, buffer } = await next!;
      next = null;
      if (bytesRead === 0) throw shrank(abs);
      pos += bytesRead;
      if (pos < size) next = readAt(pos);
      await batch.push(bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead));
    }
  } finally {
    await next?.catch(() => {});
    await fh.close();
  }
  const pad = padding(size);
  if (pad) await batch.push(Buffer.alloc(pad));
}

/**
 * Stream the deterministic layer tar of `paths` (sorted store paths) into `sink`.
 * Hardlinks written by `nix-store --optimise` are ignored: every file is a regular entry.
 */
export async function writeLayerTar(
  storeDir: string,
  paths: string[],
  sink: ByteSink,
  onBytes: (n: number) => void = () => {},
): Promise<void> {
  const batch = new Batcher(sink);
  for (const e of storeDirEntries(storeDir)) await batch.push(encodeHeader(e));
  const prefix = storeDir.replace(/^\/+/, '');
  for (const p of paths) {
    if (!p.startsWith(`${storeDir}/`) || p.slice(storeDir.length + 1).includes('/'))
      throw new MegapakError(`refusing to put ${p} in a layer: only top-level paths of ${storeDir} may enter a tar`);
    for (const e of walkStorePath(p, `${prefix}/${p.slice(storeDir.length + 1)}`)) {
      await batch.push(encodeHeader(e));
      if (e.type !== 'file') continue;
      if (e.size + padding(e.size) <= SMALL_FILE) await copySmallFile(e.abs, e.size, batch);
      else await copyLargeFile(e.abs, e.size, batch);
      onBytes(e.size);
    }
  }
  await batch.push(END_OF_ARCHIVE);
  await batch.flush();
}
