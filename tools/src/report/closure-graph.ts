import type { LayerRecord } from '../model/vocabulary.ts';

export interface PathNode {
  path: string;
  narSize: number;
  references: string[];
  /** The layer that ships it. */
  layer: string;
}

/** A store path's name without its directory and hash: `/nix/store/<hash>-python3-3.14.0` → `python3-3.14.0`. */
export const nameOf = (p: string) => p.slice(p.lastIndexOf('/') + 1).replace(/^[0-9a-z]{32}-/, '');

/** Every shipped store path, from all layers' records (each path is in exactly one). */
export function graphOf(records: LayerRecord[]): Map<string, PathNode> {
  const g = new Map<string, PathNode>();
  for (const r of records) for (const p of r.paths) g.set(p.path, { path: p.path, narSize: p.narSize, references: p.references, layer: r.name });
  return g;
}

/** The shortest chain of references from one of `roots` to `target` (breadth-first), or undefined. */
export function chainTo(roots: string[], target: string, g: Map<string, PathNode>): string[] | undefined {
  const parent = new Map<string, string | null>();
  const queue: string[] = [];
  for (const r of [...roots].sort())
    if (g.has(r) && !parent.has(r)) {
      parent.set(r, null);
      queue.push(r);
    }
  for (let i = 0; i < queue.length; i++) {
    const p = queue[i]!;
    if (p === target) {
      const chain = [p];
      for (let q = parent.get(p); q; q = parent.get(q)) chain.unshift(q);
      return chain;
    }
    for (const ref of [...g.get(p)!.references].sort())
      if (g.has(ref) && !parent.has(ref)) {
        parent.set(ref, p);
        queue.push(ref);
      }
  }
  return undefined;
}
