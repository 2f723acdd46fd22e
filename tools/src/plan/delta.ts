import type { StorePathInfo } from '../model/vocabulary.ts';
import { byteOrder } from '../util/bytes.ts';

export interface ShippedLayer {
  name: string;
  paths: { path: string }[];
}

/** Every store path the given (lower) layers ship, mapped to the layer that ships it. */
export function shippedBy(lower: ShippedLayer[]): Map<string, string> {
  const m = new Map<string, string>();
  for (const layer of lower) for (const p of layer.paths) if (!m.has(p.path)) m.set(p.path, layer.name);
  return m;
}

/** This layer's delta: its closure minus everything a lower layer ships, in byte order. */
export function planDelta(closure: StorePathInfo[], shipped: Map<string, string>): StorePathInfo[] {
  return closure
    .filter((p) => !shipped.has(p.path))
    .map((p) => ({ path: p.path, narHash: p.narHash, narSize: p.narSize, references: [...p.references].sort(byteOrder) }))
    .sort((a, b) => byteOrder(a.path, b.path));
}
