import { open } from 'node:fs/promises';
import { MegapakError } from '../util/errors.ts';
import type { ByteSink } from '../util/write.ts';
import { END_OF_ARCHIVE, encodeHeader, padding, type TarEntry } from './tar-header.ts';
import { walkStorePath } from './store-walk.ts';

const READ_CHUNK = 4 << 20;
const BATCH = 1 << 20;

/**
 * Collects small pieces (headers, padding, small files) into 1 MiB chunks so the hash and
 * compressor see few large writes; big reads pass straight through without a copy.
 */
class Batcher {
  private buf = Buffer.allocUnsafe(BATCH);
  private used = 0;
  constructor(private readonly sink: ByteSink) {}
  async push(b: Buffer): Promise<void> {
    if (b.length >= BATCH / 4) {
      await this.flush();
      await this.sink.write(b);
      return;
    }
    if (this.used + b.length > BATCH) await this.flush();
    b.copy(this.buf, this.used);
    this.used += b.length;
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

async function copyFile(abs: string, size: number, batch: Batcher, onBytes: (n: number) => void): Promise<void> {
  const fh = await open(abs, 'r');
  try {
    let left = size;
    while (left > 0) {
      const want = Math.min(left, READ_CHUNK);
      const buf = Buffer.allocUnsafe(want);
      const { bytesRead } = await fh.read(buf, 0, want, size - left);
      if (bytesRead === 0) throw new MegapakError(`${abs} shrank while it was being read; the Nix store must not change during a build`);
      await batch.push(bytesRead === want ? buf : buf.subarray(0, bytesRead));
      left -= bytesRead;
      onBytes(bytesRead);
    }
  } finally {
    await fh.close();
  }
  const pad = padding(size);
  if (pad) await batch.push(Buffer.alloc(pad));
}

/**
 * Stream the deterministic layer tar of `paths` (sorted store paths) into `sink`.
 * Hardlinks written by `nix-store --optimise` are ignored: every file is a regular entry.
 * `fsRoot` is where the store lives on disk when not at `/` (a chroot store such as
 * `--store /x`; the golden-digest test): the tar names stay those under `storeDir`.
 */
export async function writeLayerTar(storeDir: string, paths: string[], sink: ByteSink, onBytes: (n: number) => void = () => {}, fsRoot = ''): Promise<void> {
  const batch = new Batcher(sink);
  for (const e of storeDirEntries(storeDir)) await batch.push(encodeHeader(e));
  const prefix = storeDir.replace(/^\/+/, '');
  for (const p of paths) {
    if (!p.startsWith(`${storeDir}/`) || p.slice(storeDir.length + 1).includes('/'))
      throw new MegapakError(`refusing to put ${p} in a layer: only top-level paths of ${storeDir} may enter a tar`);
    for (const e of await walkStorePath(fsRoot + p, `${prefix}/${p.slice(storeDir.length + 1)}`)) {
      await batch.push(encodeHeader(e));
      if (e.type === 'file') await copyFile(e.abs, e.size, batch, onBytes);
    }
  }
  await batch.push(END_OF_ARCHIVE);
  await batch.flush();
}
