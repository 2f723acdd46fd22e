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

/** Identifies the layer's content: same store paths with the same NAR hashes, same tar. */
export function contentKey(delta: Pick<StorePathInfo, 'path' | 'narHash'>[]): string {
  const h = createHash('sha256').update(`${TAR_FORMAT}\n`);
  for (const p of [...delta].sort((a, b) => byteOrder(a.path, b.path))) h.update(`${p.path} ${p.narHash}\n`);
  return `sha256:${h.digest('hex')}`;
}
