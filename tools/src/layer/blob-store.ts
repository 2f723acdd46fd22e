import { existsSync } from 'node:fs';
import { rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { blobDigestsSchema, type BlobDigests } from '../model/vocabulary.ts';
import { compressionSchema, type Compression } from '../model/compression.ts';
import { withTempFile, writeJsonAtomic } from '../util/atomic.ts';
import { readJsonFile } from '../util/json-file.ts';
import { BlobChecks } from './blob-check.ts';

const entrySchema = z.object({ contentKey: z.string(), compression: compressionSchema, ...blobDigestsSchema.shape });
export type BlobEntry = z.infer<typeof entrySchema>;

const hex = (digest: string) => digest.replace(/^sha256:/, '');

/**
 * Content-addressed blobs (`blobs/sha256/<hex>`) plus an index from a layer's content key and
 * compression to its digests (`layers/<key>.<compression>.json`), so an unchanged layer is
 * never streamed twice. Every write is temp file + rename: two builds at once both succeed.
 */
export class BlobStore {
  readonly checks: BlobChecks;

  /** `log` gets the one line said when a damaged blob is evicted. */
  constructor(
    readonly root: string,
    private readonly log: (line: string) => void = (l) => console.error(l),
  ) {
    this.checks = new BlobChecks(join(root, 'checks'));
  }

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

  /**
   * As `peek`, for a build about to use the blob: checks its bytes (`intact`) and marks it
   * used. A damaged blob is evicted and this is a miss: the caller makes it again.
   */
  async lookup(contentKey: string, compression: Compression): Promise<BlobEntry | undefined> {
    const entry = await this.peek(contentKey, compression);
    if (!entry || !(await this.intact(entry.digest, entry.size))) return undefined;
    // Mark it used: `megapak cache gc` keeps blobs used within its --min-age, and a blob it
    // moved aside a moment ago fails here, which is a miss (the layer streams it again).
    const file = this.blobPath(entry.digest);
    const now = new Date();
    if (
      !(await utimes(file, now, now).then(
        () => true,
        () => false,
      ))
    )
      return undefined;
    // Touching changed the change time: stamp it again (the bytes were just checked).
    await this.checks.record(file, entry.digest);
    return entry;
  }

  /**
   * The hand-out check: true when the blob is present and its bytes are its digest's (a stat
   * against the stamp taken when it was written; a full re-hash when that differs, or with
   * `full`). A blob that fails is evicted with one line saying so, and this is false.
   */
  async intact(digest: string, size?: number, full = false): Promise<boolean> {
    const file = this.blobPath(digest);
    const r = await this.checks.check(file, digest, size, full);
    if (r.state === 'ok') return true;
    if (r.state === 'damaged') {
      await this.evict(digest);
      this.log(`blob store: ${file} is damaged (holds ${r.actual}, not ${digest}); evicted, it is made again from the Nix store`);
    }
    return false;
  }

  /** Remove a blob (and its stamp); index entries pointing at it become misses. */
  async evict(digest: string): Promise<void> {
    const file = this.blobPath(digest);
    await rm(file, { force: true });
    await this.checks.forget(file);
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
   * recorded under its content key. `need`: about how many bytes it will take (for a full disk's message).
   */
  async put(contentKey: string, compression: Compression, write: (tmp: string) => Promise<BlobDigests>, need?: number): Promise<BlobEntry> {
    const d = await withTempFile((r: BlobDigests) => this.blobPath(r.digest), write, join(this.root, 'blobs', 'sha256'), need);
    await this.checks.record(this.blobPath(d.digest), d.digest);
    const entry: BlobEntry = { contentKey, compression, ...d };
    await writeJsonAtomic(this.indexPath(contentKey, compression), entry);
    return entry;
  }
}
