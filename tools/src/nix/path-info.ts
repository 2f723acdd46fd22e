import { z } from 'zod';
import { toSriHash } from './nar-hash.ts';

/** One store path as the planner needs it. References are full store paths, sorted. */
export interface StorePathInfo {
  path: string;
  narHash: string;
  narSize: number;
  references: string[];
}

const entry = z.object({
  path: z.string().optional(),
  narHash: z.string(),
  narSize: z.number().int().nonnegative(),
  references: z.array(z.string()).default([]),
});

/**
 * Parse `nix path-info --json` output of any Nix version:
 * Nix <= 2.18 prints an array of objects with a `path` field; 2.19+ prints an object keyed
 * by store path (value `null` for an invalid path); later versions may key by, and
 * reference with, bare base names. `storeDir` completes base names.
 */
export function parsePathInfoJson(text: string, storeDir = '/nix/store'): StorePathInfo[] {
  const data: unknown = JSON.parse(text);
  const full = (p: string) => (p.includes('/') ? p : `${storeDir}/${p}`);
  const pairs: [string, unknown][] = Array.isArray(data)
    ? data.map((v, i) => {
        const p = (v as { path?: unknown })?.path;
        if (typeof p !== 'string') throw new Error(`nix path-info entry ${i} has no path`);
        return [p, v];
      })
    : Object.entries(z.record(z.string(), z.unknown()).parse(data));
  const out: StorePathInfo[] = [];
  for (const [key, value] of pairs) {
    if (value === null) throw new Error(`store path ${full(key)} is not valid in the Nix store`);
    const v = entry.parse(value);
    out.push({
      path: full(key),
      narHash: toSriHash(v.narHash),
      narSize: v.narSize,
      references: v.references.map(full).sort(),
    });
  }
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}
