import { isSplit, type LayerRecord } from '../model/vocabulary.ts';
import { chainTo, graphOf, nameOf } from './closure-graph.ts';

export interface WhyAnswer {
  path: string;
  layer: string;
  /** From a root of a layer that needs it down to the path itself. */
  chain: string[];
  /** The layer whose root starts the chain. */
  rootLayer: string;
  /** For a split layer, the part(s) holding the path: "part 2 of 5", "parts 2–3 of 5". */
  part?: string;
}

/** Which parts of a split layer hold a store path (a path larger than the limit spans several). */
function partsHolding(r: LayerRecord | undefined, path: string): string | undefined {
  if (!r || !isSplit(r)) return undefined;
  const n = r.parts.filter((p) => p.paths.includes(path)).map((p) => p.part);
  if (!n.length) return undefined;
  return n.length === 1 ? `part ${n[0]} of ${r.parts.length}` : `parts ${n[0]}–${n[n.length - 1]} of ${r.parts.length}`;
}

/**
 * Why a store path is in the image: the layer that ships it and the chain of references from
 * a root (of that layer, else of the lowest layer above that needs it). `query` is a store
 * path, or a name matched against the part after the hash (exact first, then substring).
 */
export function why(records: LayerRecord[], query: string): WhyAnswer[] {
  const g = graphOf(records);
  let matches = [...g.keys()].filter((p) => p === query || p === query.replace(/\/+$/, ''));
  if (!matches.length) matches = [...g.keys()].filter((p) => nameOf(p) === query);
  if (!matches.length) matches = [...g.keys()].filter((p) => nameOf(p).includes(query));
  return matches.sort().map((path) => {
    const owner = g.get(path)!.layer;
    const ordered = [...records].sort((a, b) => a.index - b.index);
    const start = ordered.findIndex((r) => r.name === owner);
    const part = partsHolding(ordered[start], path);
    const withPart = part ? { part } : {};
    for (const r of ordered.slice(start)) {
      const chain = chainTo(r.roots, path, g);
      if (chain) return { path, layer: owner, chain, rootLayer: r.name, ...withPart };
    }
    return { path, layer: owner, chain: [path], rootLayer: owner, ...withPart };
  });
}
