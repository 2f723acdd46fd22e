import { createHash } from 'node:crypto';
import type { StorePathInfo } from '../model/vocabulary.ts';
import { byteOrder } from '../util/bytes.ts';

/**
 * The layer tar format version. Bump it whenever the bytes of a layer tar change (header
 * encoding, entry order, modes, PAX rules: see layer/tar-header.ts and layer/layer-tar.ts), so
 * blob-store entries made by the old format are never reused. The golden digest in
 * layer/layer-tar.test.ts fails when the format changes without this.
 */
export const TAR_FORMAT = 'megapak-tar-v1';

/**
 * The blob format version: bump it whenever a compressor's bytes change (model/compression.ts;
 * the zstd:chunked and eStargz writers, layer/zstd-chunked.ts and layer/estargz.ts, count too),
 * so blob-store entries and recorded digests made the old way are never reused or expected.
 * v2: gzip blobs are deflated in parallel 1 MiB blocks (util/parallel-gzip.ts), one member.
 */
export const BLOB_FORMAT = 'megapak-blobs-v2';

/** Identifies the layer's content: same store paths with the same NAR hashes, same tar, same blob format. */
export function contentKey(delta: Pick<StorePathInfo, 'path' | 'narHash'>[]): string {
  return keyOf('', delta);
}

/** The formats, then `extra`, then every store path with its NAR hash in byte order. */
function keyOf(extra: string, paths: Pick<StorePathInfo, 'path' | 'narHash'>[]): string {
  const h = createHash('sha256').update(`${TAR_FORMAT}\n${BLOB_FORMAT}\n${extra}`);
  for (const p of [...paths].sort((a, b) => byteOrder(a.path, b.path))) h.update(`${p.path} ${p.narHash}\n`);
  return `sha256:${h.digest('hex')}`;
}

/**
 * Identifies one part of a split layer: the store paths it draws from (with their NAR
 * hashes), its first tar name, and where it ends when that is inside its last store path. Another part changing leaves this key, and so this
 * part's blob in the blob store, as it was.
 */
export function partContentKey(paths: Pick<StorePathInfo, 'path' | 'narHash'>[], start: string, endInside: string | undefined): string {
  return keyOf(`part ${start}\n${endInside ?? ''}\n`, paths);
}
