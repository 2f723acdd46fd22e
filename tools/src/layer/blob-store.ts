import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { tempPathFor, writeJsonAtomic } from '../util/atomic.ts';
import { trackTemp, untrackTemp } from '../util/temp-files.ts';
import type { BlobDigests } from './blob-writer.ts';
import type { Compression } from './compression.ts';

const entrySchema = z.object({
  contentKey: z.string(),
  compression: z.enum(['none', 'gzip', 'zstd']),
  diffId: z.string(),
  diffSize: z.number(),
  digest: z.string(),
  size: z.number(),
});
export type BlobEntry = z.infer<typeof entrySchema>;

const hex = (digest: string) => digest.replace(/^sha256:/, '');

export function defaultCacheDir(): string {
  return process.env.MEGAPAK_CACHE_DIR || join(homedir(), '.cache', 'megapak');
}

/**
 * Content-addressed blobs (`blobs/sha256/<hex>`) plus an index from a layer's content key and
 * compression to its digests (`layers/<key>.<compression>.json`), so an unchanged layer is
 * never streamed twice. Every write is temp file + rename: two builds at once both succeed.
 */
export class BlobStore {
  constructor(readonly root: string = defaultCacheDir()) {}

  blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', hex(digest));
  }

  private indexPath(contentKey: string, compression: Compression): string {
    return join(this.root, 'layers', `${hex(contentKey)}.${compression}.json`);
  }

  /** The entry for this content, only if its blob is present with the recorded size. */
  async lookup(contentKey: string, compression: Compression): Promise<BlobEntry | undefined> {
    const p = this.indexPath(contentKey, compression);
    if (!existsSync(p)) return undefined;
    const parsed = entrySchema.safeParse(JSON.parse(await readFile(p, 'utf8')));
    if (!parsed.success) return undefined;
    return (await this.hasBlob(parsed.data.digest, parsed.data.size)) ? parsed.data : undefined;
  }

  async hasBlob(digest: string, size?: number): Promise<boolean> {
    try {
      const st = await stat(this.blobPath(digest));
      return size === undefined || st.size === size;
    } catch {
      return false;
    }
  }

  /** A temp file inside the store (same file system as the blobs) for a blob being written. */
  async newTemp(): Promise<string> {
    const dir = join(this.root, 'blobs', 'sha256');
    await mkdir(dir, { recursive: true });
    const p = tempPathFor(join(dir, 'incoming'));
    trackTemp(p);
    return p;
  }

  async discardTemp(temp: string): Promise<void> {
    await rm(temp, { force: true });
    untrackTemp(temp);
  }

  /** Move a finished temp blob into place and record it under its content key. */
  async commit(temp: string, contentKey: string, compression: Compression, d: BlobDigests): Promise<BlobEntry> {
    await rename(temp, this.blobPath(d.digest));
    untrackTemp(temp);
    const entry: BlobEntry = { contentKey, compression, ...d };
    await writeJsonAtomic(this.indexPath(contentKey, compression), entry);
    return entry;
  }
}
