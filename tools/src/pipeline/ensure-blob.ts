// Making one blob (a whole layer's or one part's) unless the blob store has it: used by a layer's
// build, by a split layer's parts and by assembling an image, so it sits below all three.
import type { BlobEntry, BlobStore } from '../layer/blob-store.ts';
import { writeBlob } from '../layer/blob-writer.ts';
import { writeLayerTar, type PartRange } from '../layer/layer-tar.ts';
import type { Compression } from '../model/compression.ts';
import type { StorePathInfo } from '../model/vocabulary.ts';
import { MegapakError } from '../util/errors.ts';
import type { Progress } from '../util/progress.ts';
import { realiseAbsent } from './realise-paths.ts';

export interface BlobMakingOptions {
  blobs: BlobStore;
  progress: Progress;
  /** Compression threads (gzip); the blob's bytes do not depend on it. */
  workers: number;
}

/** What to put in one blob: a layer's delta, keyed by its content. */
export interface BlobContent {
  /** Names the layer in messages. */
  what: string;
  storeDir: string;
  paths: StorePathInfo[];
  contentKey: string;
  compression: Compression;
  /** One part of a split layer (`paths` are then the store paths it draws from). */
  range?: PartRange;
}

/**
 * Make the blob for `c.paths` (streaming the tar from the store) unless the blob store has it.
 * `expectedDigest`, when given, is a digest recorded earlier (e.g. restored from a remote
 * cache): a blob made again must match it. Paths absent here are realised first
 * (binary caches, else `buildRoots`).
 */
export async function ensureBlob(
  c: BlobContent,
  opts: BlobMakingOptions & { expectedDigest?: string; buildRoots?: () => Promise<unknown> },
): Promise<{ entry: BlobEntry; streamed: boolean }> {
  const hit = await opts.blobs.lookup(c.contentKey, c.compression);
  if (hit && (!opts.expectedDigest || hit.digest === opts.expectedDigest)) return { entry: hit, streamed: false };
  await realiseAbsent(
    c.what,
    c.paths.map((p) => p.path),
    opts,
  );
  const total = c.paths.reduce((s, p) => s + p.narSize, 0);
  const entry = await opts.blobs.put(
    c.contentKey,
    c.compression,
    async (tmp) => {
      opts.progress.streamStart(c.what, total);
      const d = await writeBlob(
        tmp,
        c.compression,
        (sink) =>
          writeLayerTar(
            c.storeDir,
            c.paths.map((p) => p.path),
            sink,
            (n) => opts.progress.streamBytes(n),
            '',
            c.range,
          ),
        opts,
      );
      opts.progress.streamEnd(c.what, d.size);
      if (opts.expectedDigest && d.digest !== opts.expectedDigest)
        throw new MegapakError(
          `${c.what}: the blob made again from the Nix store has digest ${d.digest}, but dist/layer.json records ${opts.expectedDigest}; ` +
            `the store paths' content or the compressor differs from the machine that recorded it`,
        );
      return d;
    },
    total,
  );
  return { entry, streamed: true };
}
