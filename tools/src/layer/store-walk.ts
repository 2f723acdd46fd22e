import { lstatSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { MegapakError } from '../util/errors.ts';
import type { TarEntry } from './tar-header.ts';

export interface WalkEntry extends TarEntry {
  /** Absolute path on disk (for reading file content). */
  abs: string;
}

/**
 * All entries of one store path, in bytewise order of their full names. Sorting whole names
 * (not per directory) is what the layer contract asks; memory is one store path's listing.
 * Synchronous on purpose: a store path is tens of thousands of tiny entries, and a direct
 * syscall costs a few microseconds where a round trip through libuv's thread pool costs tens.
 * Directory entries' types come from readdir, so symlinks need no lstat.
 */
export function walkStorePath(abs: string, name: string): WalkEntry[] {
  const out: WalkEntry[] = [];
  const top = lstatSync(abs);
  const entry = (p: string, n: string, st: Stats): WalkEntry => {
    if (st.isSymbolicLink()) return { abs: p, name: n, type: 'symlink', mode: 0o777, size: 0, linkname: readlinkSync(p) };
    if (st.isFile()) return { abs: p, name: n, type: 'file', mode: st.mode & 0o7777, size: st.size };
    if (st.isDirectory()) return { abs: p, name: n, type: 'dir', mode: st.mode & 0o7777, size: 0 };
    throw new MegapakError(`${p}: not a file, directory or symlink; the Nix store holds nothing else`);
  };
  function visit(dir: string, n: string): void {
    for (const d of readdirSync(dir, { withFileTypes: true })) {
      const p = `${dir}/${d.name}`;
      const cn = `${n}/${d.name}`;
      if (d.isSymbolicLink()) out.push({ abs: p, name: cn, type: 'symlink', mode: 0o777, size: 0, linkname: readlinkSync(p) });
      else {
        const e = entry(p, cn, lstatSync(p));
        out.push(e);
        if (e.type === 'dir') visit(p, cn);
      }
    }
  }
  const root = entry(abs, name, top);
  out.push(root);
  if (root.type === 'dir') visit(abs, name);
  return sortByBytes(out);
}

/** Sort by the UTF-8 bytes of the names; plain string order is the same for ASCII names and needs no buffers. */
function sortByBytes(entries: WalkEntry[]): WalkEntry[] {
  if (entries.every((e) => /^[\x00-\x7f]*$/.test(e.name))) return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return entries
    .map((e) => ({ key: Buffer.from(e.name), e }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map((k) => k.e);
}
