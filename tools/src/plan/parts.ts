/**
 * A piece of a layer's tar the planner places whole: a store path, or (for a store path whose
 * tar alone is larger than the limit) one entry of it. Units come in tar order.
 */
export interface PartUnit {
  /** Tar name of the unit's first entry: where a part that starts with this unit starts. */
  start: string;
  /** The store path it belongs to. */
  path: string;
  /** Tar bytes of its entries: headers, content, padding. */
  bytes: number;
  /**
   * Directories above an entry unit inside its store path (outermost first) with their header
   * bytes: a part that holds the entry but not them repeats them. Empty for a whole store path.
   */
  parents: { name: string; bytes: number }[];
  /** Set when the unit is a directory entry: units below it in the same part need not repeat it. */
  dir?: string;
}

export interface PartPlan {
  /** Tar name of the part's first entry (its range ends where the next part starts). */
  start: string;
  /** Store paths with an entry in the part, in tar order. */
  paths: string[];
  /** The part's exact tar size: `fixedBytes`, its units, and the parent directories it repeats. */
  bytes: number;
}

/**
 * A unit's content-defined coin in [0, 1): FNV-1a over its name with murmur3's finaliser, by
 * hand because it runs for every entry of a large store path (SHA-256 per entry cost ~0.3 s on a
 * 167k-entry layer); the name carries the store hash, so the coin changes with the content.
 */
function coin(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 2 ** 32;
}

/**
 * Split a layer into parts of at most `limit` tar bytes each (a unit that alone is larger
 * excepted), or one part when the whole layer fits. `fixedBytes` is what every part's tar
 * holds besides its units (the store directory's entries and the end-of-archive blocks).
 *
 * The rule (content-defined chunking over the units in tar order, as rsync-style chunkers cut
 * byte streams): a part ends after a unit when the part holds at least an eighth of the limit
 * and the unit's coin — a hash of its name, which for Nix carries the store hash, so of its
 * content — falls below `bytes / (limit / 3)`: every byte is equally likely to end a part, so
 * parts average about 0.37 × the limit and few reach it. A part also ends before a unit that
 * would take it over the limit. Boundaries depend only on the units near them, never on a
 * running count from the layer's start: adding, removing or changing one store path changes
 * the part it lands in and at most the next one (until the next cut both layers share), where
 * packing in sorted order would shift every later boundary. Rarely, a part that ended because
 * it was full ends earlier and the change reaches a third part (parts.test.ts: 98 of 100
 * additions changed at most two parts, the other two three; a quarter-limit minimum with a
 * quarter-limit mean cascaded up to five).
 */
export function planParts(units: PartUnit[], limit: number, fixedBytes: number): PartPlan[] {
  if (!units.length) return [];
  const whole = units.reduce((s, u) => s + u.bytes, fixedBytes);
  if (whole <= limit) return [{ start: units[0]!.start, paths: [...new Set(units.map((u) => u.path))], bytes: whole }];
  const minimum = limit / 8;
  const mean = limit / 3;
  const parts: PartPlan[] = [];
  let cur: PartPlan | undefined;
  let dirs = new Set<string>();
  for (const u of units) {
    const repeated = u.parents.filter((p) => !dirs.has(p.name));
    const cost = u.bytes + repeated.reduce((s, p) => s + p.bytes, 0);
    if (cur && cur.bytes + cost > limit) cur = undefined;
    if (!cur) {
      cur = { start: u.start, paths: [], bytes: fixedBytes };
      parts.push(cur);
      dirs = new Set();
      // Every parent is repeated in a part that starts below it.
      for (const p of u.parents) dirs.add(p.name);
      cur.bytes += u.bytes + u.parents.reduce((s, p) => s + p.bytes, 0);
    } else {
      for (const p of repeated) dirs.add(p.name);
      cur.bytes += cost;
    }
    if (u.dir !== undefined) dirs.add(u.dir);
    if (cur.paths[cur.paths.length - 1] !== u.path) cur.paths.push(u.path);
    if (cur.bytes - fixedBytes >= minimum && coin(u.start) < u.bytes / mean) cur = undefined;
  }
  return parts;
}
