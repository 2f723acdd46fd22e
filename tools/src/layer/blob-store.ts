import { existsSync } from 'node:fs';
import { stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { blobDigestsSchema, type BlobDigests } from '../model/vocabulary.ts';
import { compressionSchema, type Compression } from '../model/compression.ts';
import { withTempFile, writeJsonAtomic } from '../util/atomic.ts';
import { readJsonFile } from '../util/json-file.ts';

const entrySchema = z.object({ contentKey: z.string(), compression: compressionSchema, ...blobDigestsSchema.shape });
export type BlobEntry = z.infer<typeof entrySchema>;

const hex = (digest: string) => digest.replace(/^sha256:/, '');

/**
 * Content-addressed blobs (`blobs/sha256/<hex>`) plus an index from a layer's content key and
 * compression to its digests (`layers/<key>.<compression>.json`), so an unchanged layer is
 * never streamed twice. Every write is temp file + rename: two builds at once both succeed.
 */
export class BlobStore {
  constructor(readonly root: string) {}

  blobPath(digest: string): string {
    return join(this.root, 'blobs', 'sha256', hex(digest));
  }

  private indexPath(contentKey: string, compression: Compression): string {
    return join(this.root, 'layers', `${hex(contentKey)}.${compression}.json`);
  }

  /** The entry for this content, only if its blob is present with the recorded size; read-only. */
  async peek(contentKey: string, compression: Compression): Promise<BlobEntry | undefined> {
    const p = this.indexPath(contentKey, compression);
    if (!existsSync(p)) return undefined;
    const entry = await readJsonFile(p, entrySchema);
    return (await this.hasBlob(entry.digest, entry.size)) ? entry : undefined;
  }

  /** As `peek`, for a build about to use the blob: marks it used. */
  async lookup(contentKey: string, compression: Compression): Promise<BlobEntry | undefined> {
    const entry = await this.peek(contentKey, compression);
    if (!entry) return undefined;
    // Mark it used: `megapak cache gc` keeps blobs used within its --min-age, and a blob it
    // moved aside a moment ago fails here, which is a miss (the layer streams it again).
    const now = new Date();
    return (await utimes(this.blobPath(entry.digest), now, now).then(
      () => true,
      () => false,
    ))
      ? entry
      : undefined;
  }

  async hasBlob(digest: string, size?: number): Promise<boolean> {
    try {
      const st = await stat(this.blobPath(digest));
      return size === undefined || st.size === size;
    } catch {
      return false;
    }
  }

  /**
   * Make a blob: `write` fills a temp file inside the store (same file system as the blobs)
   * and returns its digests (throwing leaves nothing); the blob is then moved into place and
   * recorded under its content key.
   */
  async put(contentKey: string, compression: Compression, write: (tmp: string) => Promise<BlobDigests>): Promise<BlobEntry> {
    const d = await withTempFile((r: BlobDigests) => this.blobPath(r.digest), write, join(this.root, 'blobs', 'sha256'));
    const entry: BlobEntry = { contentKey, compression, ...d };
    await writeJsonAtomic(this.indexPath(contentKey, compression), entry);
    return entry;
  }
}
