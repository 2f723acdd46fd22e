import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { byteOrder } from '../util/bytes.ts';
import { MegapakError } from '../util/errors.ts';
import type { TarEntry } from './tar-header.ts';

export interface WalkEntry extends TarEntry {
  /** Absolute path on disk (for reading file content). */
  abs: string;
}

/**
 * All entries of one store path, in bytewise order of their full names. Sorting whole names
 * (not per directory) is what the layer contract asks; memory is one store path's listing.
 */
export async function walkStorePath(abs: string, name: string): Promise<WalkEntry[]> {
  const out: WalkEntry[] = [];
  async function visit(p: string, n: string): Promise<void> {
    const st = await lstat(p);
    const mode = st.mode & 0o7777;
    if (st.isSymbolicLink()) out.push({ abs: p, name: n, type: 'symlink', mode: 0o777, size: 0, linkname: await readlink(p) });
    else if (st.isFile()) out.push({ abs: p, name: n, type: 'file', mode, size: st.size });
    else if (st.isDirectory()) {
      out.push({ abs: p, name: n, type: 'dir', mode, size: 0 });
      for (const child of await readdir(p)) await visit(join(p, child), `${n}/${child}`);
    } else throw new MegapakError(`${p}: not a file, directory or symlink; the Nix store holds nothing else`);
  }
  await visit(abs, name);
  return out.sort((a, b) => byteOrder(a.name, b.name));
}
