import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface StoredFile {
  path: string;
  size: number;
  /** Last write, or last use: the blob store touches a blob each time a build reuses it. */
  mtimeMs: number;
}
export interface StoredBlob extends StoredFile {
  digest: string;
}
export interface IndexFile {
  path: string;
  digest?: string;
  compression?: string;
}
export interface CacheScan {
  root: string;
  blobs: StoredBlob[];
  /** Files in the blob folder that are not (yet) blobs: a build's blob being written, or left by one that died. */
  temps: StoredFile[];
  /** `layers/<content key>.<compression>.json`: content key → blob. */
  index: IndexFile[];
}

const BLOB_NAME = /^[0-9a-f]{64}$/;

async function entries(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** What the blob store under `root` holds. A file that vanishes while we look is skipped. */
export async function scanCache(root: string): Promise<CacheScan> {
  const dir = join(root, 'blobs', 'sha256');
  const blobs: StoredBlob[] = [];
  const temps: StoredFile[] = [];
  for (const name of await entries(dir)) {
    const path = join(dir, name);
    const st = await stat(path).catch(() => undefined);
    if (!st?.isFile()) continue;
    const file = { path, size: st.size, mtimeMs: st.mtimeMs };
    if (BLOB_NAME.test(name)) blobs.push({ ...file, digest: `sha256:${name}` });
    else temps.push(file);
  }
  const index: IndexFile[] = [];
  for (const name of await entries(join(root, 'layers'))) {
    if (!name.endsWith('.json') || name.startsWith('.')) continue;
    const path = join(root, 'layers', name);
    try {
      const e = JSON.parse(await readFile(path, 'utf8')) as { digest?: string; compression?: string };
      index.push({ path, digest: e.digest, compression: e.compression });
    } catch {
      index.push({ path });
    }
  }
  return { root, blobs, temps, index };
}
