import { z } from 'zod';
import { execCapture } from '../util/exec.ts';
import { NIX_COMMAND as NIX } from './nix.ts';

/** The binary caches Nix is configured with (`substituters`, extra ones merged), in order. */
export async function configuredSubstituters(): Promise<string[]> {
  // `show-config` is Nix 2.8's name; 2.19+ calls it `config show` (and may drop the old name).
  for (const args of [
    ['show-config', '--json'],
    ['config', 'show', '--json'],
  ]) {
    const r = await execCapture('nix', [...NIX, ...args]);
    if (r.code !== 0) continue;
    const v = (JSON.parse(r.stdout) as { substituters?: { value?: unknown } }).substituters?.value;
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string' && s.length > 0) : [];
  }
  return [];
}

/** One store path as a binary cache's narinfo describes it. */
export interface NarInfo {
  /** The compressed NAR's size (narinfo `FileSize`); narSize where the cache records none. */
  downloadSize: number;
  narSize: number;
  references: string[];
  substituter: string;
}

const entry = z.object({
  path: z.string().optional(),
  valid: z.boolean().optional(),
  narSize: z.number().optional(),
  downloadSize: z.number().optional(),
  references: z.array(z.string()).default([]),
});

/**
 * Pure: `nix path-info --json --store CACHE` output of any Nix version — 2.8's array (a path the
 * cache lacks is `{"path", "valid": false}`) or 2.19+'s object keyed by path (`null` when absent),
 * keys and references possibly base names.
 */
export function parseCachePathInfo(text: string, substituter: string, storeDir: string): Map<string, NarInfo> {
  const full = (p: string) => (p.includes('/') ? p : `${storeDir}/${p}`);
  const data = JSON.parse(text) as unknown;
  const pairs: [string, unknown][] = Array.isArray(data) ? data.map((v) => [String((v as { path?: unknown })?.path), v]) : Object.entries(data as object);
  const out = new Map<string, NarInfo>();
  for (const [key, value] of pairs) {
    const e = value === null ? null : entry.safeParse(value);
    if (!e?.success || e.data.valid === false || e.data.narSize === undefined) continue;
    out.set(full(key), { downloadSize: e.data.downloadSize ?? e.data.narSize, narSize: e.data.narSize, references: e.data.references.map(full).sort(), substituter });
  }
  return out;
}

/**
 * Each path's narinfo from the first configured substituter that has it (Nix's own
 * `path-info --store`, so any cache Nix can read: https, file, s3, …). A cache that cannot be
 * asked is skipped; paths no cache describes are left out of the map.
 */
export async function narInfos(paths: string[], substituters: string[], storeDir: string): Promise<Map<string, NarInfo>> {
  const found = new Map<string, NarInfo>();
  for (const s of substituters) {
    const pending = paths.filter((p) => !found.has(p));
    if (!pending.length) break;
    const r = await execCapture('nix', [...NIX, 'path-info', '--json', '--store', s, ...pending]);
    if (r.code !== 0) continue;
    for (const [p, info] of parseCachePathInfo(r.stdout, s, storeDir)) if (!found.has(p)) found.set(p, info);
  }
  return found;
}
