import { z } from 'zod';
import type { StorePathInfo } from '../model/vocabulary.ts';
import { MegapakError } from '../util/errors.ts';
import { toSriHash } from './nar-hash.ts';

export type { StorePathInfo };

const entry = z.object({
  path: z.string().optional(),
  narHash: z.string(),
  narSize: z.number().int().nonnegative(),
  references: z.array(z.string()).default([]),
});

function objectOrThrow(data: unknown): object {
  if (data === null || typeof data !== 'object') throw new MegapakError('nix path-info printed neither an array nor an object');
  return data;
}

/** The store directory a store path is in (`/nix/store` for `/nix/store/<hash>-name`). */
export const storeDirOf = (p: string) => p.slice(0, p.lastIndexOf('/'));

/**
 * Parse `nix path-info --json` output of any Nix version:
 * Nix <= 2.18 prints an array of objects with a `path` field; 2.19+ prints an object keyed
 * by store path (value `null` for an invalid path); later versions may key by, and
 * reference with, bare base names. `storeDir` completes base names.
 */
export function parsePathInfoJson(text: string, storeDir = '/nix/store'): StorePathInfo[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new MegapakError(`nix path-info printed something that is not JSON: ${text.slice(0, 80)}`);
  }
  const full = (p: string) => (p.includes('/') ? p : `${storeDir}/${p}`);
  const pairs: [string, unknown][] = Array.isArray(data)
    ? data.map((v, i) => {
        const p = (v as { path?: unknown })?.path;
        if (typeof p !== 'string') throw new MegapakError(`nix path-info entry ${i} has no path`);
        return [p, v];
      })
    : Object.entries(objectOrThrow(data));
  const out: StorePathInfo[] = [];
  for (const [key, value] of pairs) {
    if (value === null) throw new MegapakError(`store path ${full(key)} is not valid in the Nix store`);
    const parsed = entry.safeParse(value);
    if (!parsed.success) throw new MegapakError(`nix path-info: unexpected entry for ${full(key)} (${parsed.error.issues[0]?.message})`);
    const v = parsed.data;
    out.push({
      path: full(key),
      narHash: toSriHash(v.narHash),
      narSize: v.narSize,
      references: v.references.map(full).sort(),
    });
  }
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}
