import type { PartUnit } from '../plan/parts.ts';
import { END_OF_ARCHIVE, encodeHeader, headerLength, padding } from './tar-header.ts';
import { parentsOf, storeDirEntries, tarNameOf } from './layer-tar.ts';
import { walkStorePath, type WalkEntry } from './store-walk.ts';

/** An entry's tar bytes: its header (counted, not encoded: PAX names are common in site-packages) and its content. */
const entryBytes = (e: WalkEntry) => headerLength(e) + e.size + padding(e.size);

/** Bytes every part's tar holds besides its own entries: the store directory's entries and the end-of-archive blocks. */
export const partFixedBytes = (storeDir: string) => storeDirEntries(storeDir).reduce((s, e) => s + encodeHeader(e).length, END_OF_ARCHIVE.length);

/**
 * The units the part planner places (plan/parts.ts), read from the store in tar order: each
 * store path whole, except one whose tar alone would not fit in `limit`, which comes entry by
 * entry with the directories above each entry (so a part holding it can repeat them).
 * `walked` keeps each store path's entries for writing the parts.
 */
export function partUnits(storeDir: string, paths: string[], limit: number, walked?: Map<string, WalkEntry[]>, fsRoot = ''): PartUnit[] {
  const fixed = partFixedBytes(storeDir);
  const units: PartUnit[] = [];
  for (const path of paths) {
    const root = tarNameOf(storeDir, path);
    const entries = walkStorePath(fsRoot + path, root);
    walked?.set(path, entries);
    const sizes = entries.map(entryBytes);
    const bytes = sizes.reduce((s, n) => s + n, 0);
    if (bytes + fixed <= limit) {
      units.push({ start: root, path, bytes, parents: [] });
      continue;
    }
    const dirBytes = new Map<string, number>();
    entries.forEach((e, i) => {
      if (e.type === 'dir') dirBytes.set(e.name, sizes[i]!);
      units.push({
        start: e.name,
        path,
        bytes: sizes[i]!,
        parents: parentsOf(e.name, root).map((name) => ({ name, bytes: dirBytes.get(name)! })),
        ...(e.type === 'dir' ? { dir: e.name } : {}),
      });
    });
  }
  return units;
}
