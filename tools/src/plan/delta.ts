import { createHash } from 'node:crypto';
import type { StorePathInfo } from '../nix/path-info.ts';

/** Bumped whenever the tar layout changes, so old blob-store entries can never be reused. */
export const TAR_FORMAT = 'megapak-tar-v1';

export interface DeltaPath {
  path: string;
  narHash: string;
  narSize: number;
  references: string[];
}

export interface ShippedLayer {
  name: string;
  paths: { path: string }[];
}

export const byteOrder = (a: string, b: string): number => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** Every store path the given (lower) layers ship, mapped to the layer that ships it. */
export function shippedBy(lower: ShippedLayer[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const layer of lower) for (const p of layer.paths) if (!m.has(p.path)) m.set(p.path, layer.name);
  return m;
}

/** This layer's delta: its closure minus everything a lower layer ships, in byte order. */
export function planDelta(closure: StorePathInfo[], shipped: Map<string, string>): DeltaPath[] {
  return closure
    .filter((p) => !shipped.has(p.path))
    .map((p) => ({ path: p.path, narHash: p.narHash, narSize: p.narSize, references: [...p.references].sort(byteOrder) }))
    .sort((a, b) => byteOrder(a.path, b.path));
}

/** Identifies the layer's content: same store paths with the same NAR hashes, same tar. */
export function contentKey(delta: Pick<DeltaPath, 'path' | 'narHash'>[]): string {
  const h = createHash('sha256').update(`${TAR_FORMAT}\n`);
  for (const p of [...delta].sort((a, b) => byteOrder(a.path, b.path))) h.update(`${p.path} ${p.narHash}\n`);
  return `sha256:${h.digest('hex')}`;
}
