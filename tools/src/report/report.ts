import type { Compression } from '../model/compression.ts';
import { isSplit, type LayerRecord } from '../model/vocabulary.ts';
import { closureOf } from '../plan/closure.ts';
import { graphOf } from './closure-graph.ts';

export interface LayerReport {
  name: string;
  version: string;
  /** Store paths this layer ships. */
  paths: number;
  /** Sum of their NAR sizes. */
  bytes: number;
  /** Blob size as built, null for an empty layer. */
  size: number | null;
  /** Blob size per compression, where that blob has been made (null: not made). */
  sizes: Record<Compression, number | null>;
  /** The blob's digest; null for an empty layer or a split one (see `parts`). */
  digest: string | null;
  /** A layer split by its maxLayerSize: each part's blob (sizes as built) and how many store paths it draws from. */
  parts?: { part: number; digest: string; size: number; diffSize: number; paths: number }[];
  /** What this layer would weigh if it shipped its roots' whole closure (no deduplication). */
  closureBytes: number;
  top: { path: string; narSize: number }[];
}

export interface Report {
  layers: LayerReport[];
  total: {
    paths: number;
    /** Equals the NAR size of the whole image closure: every path counted once. */
    bytes: number;
    size: number;
    /** Sum of the layers' closureBytes: a layering that repeats shared dependencies. */
    cumulativeBytes: number;
    /** How much smaller ours is than the cumulative layering, in percent. */
    savedPercent: number;
  };
}

/** Pure: the report of built layers. `sizes` gives known blob sizes per layer and compression. */
export function buildReport(records: LayerRecord[], sizes: (r: LayerRecord) => Record<Compression, number | null>, topN = 10): Report {
  const g = graphOf(records);
  const layers = records.map((r): LayerReport => {
    // Paths outside the records (not shipped by any layer) are left out.
    const closure = closureOf(r.roots, (p) => g.get(p)?.references);
    return {
      name: r.name,
      version: r.version,
      paths: r.paths.length,
      bytes: r.narSize,
      size: r.size,
      sizes: sizes(r),
      digest: r.digest ?? null,
      ...(isSplit(r) ? { parts: r.parts.map((p) => ({ part: p.part, digest: p.digest, size: p.size, diffSize: p.diffSize, paths: p.paths.length })) } : {}),
      closureBytes: [...closure].reduce((s, p) => s + g.get(p)!.narSize, 0),
      top: [...r.paths]
        .sort((a, b) => b.narSize - a.narSize || (a.path < b.path ? -1 : 1))
        .slice(0, topN)
        .map((p) => ({ path: p.path, narSize: p.narSize })),
    };
  });
  const bytes = layers.reduce((s, l) => s + l.bytes, 0);
  const cumulativeBytes = layers.reduce((s, l) => s + l.closureBytes, 0);
  return {
    layers,
    total: {
      paths: layers.reduce((s, l) => s + l.paths, 0),
      bytes,
      size: layers.reduce((s, l) => s + (l.size ?? 0), 0),
      cumulativeBytes,
      savedPercent: cumulativeBytes > 0 ? Math.round((1 - bytes / cumulativeBytes) * 1000) / 10 : 0,
    },
  };
}
