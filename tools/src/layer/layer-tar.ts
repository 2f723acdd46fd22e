import { closeSync, openSync, readSync } from 'node:fs';
import { MegapakError } from '../util/errors.ts';
import type { ByteSink } from '../util/write.ts';
import { BLOCK, END_OF_ARCHIVE, encodeHeader, encodeHeaderInto, padding, writePlainHeader, type TarEntry } from './tar-header.ts';
import { walkStorePath, type WalkEntry } from './store-walk.ts';
import { byteOrder } from '../util/bytes.ts';
import { READ_AHEAD_MAX, ReadAhead } from './read-ahead.ts';

const BATCH = 1 << 20;
/** A PAX header's blocks are made here, then copied into the batch (names are at most a few KiB). */
const SCRATCH = Buffer.allocUnsafeSlow(64 << 10);
/** Batch buffers in use at once: one being filled, the rest being written. */
const POOL = 4;

/**
 * Collects headers, padding and file content into 1 MiB buffers from a small pool, so the
 * hash and compressor see few large writes and a layer of any size allocates 4 MiB, not a
 * buffer per read for the garbage collector to catch up with.
 */
class Batcher {
  buf: Buffer;
  used = 0;
  readonly capacity = BATCH;
  private readonly free: Buffer[] = [];
  private readonly writing: Promise<void>[] = [];
  constructor(private readonly sink: ByteSink) {
    this.buf = Buffer.allocUnsafeSlow(BATCH);
  }
  async push(b: Buffer): Promise<void> {
    for (let off = 0; off < b.length;) {
      if (this.used === BATCH) await this.flush();
      const n = b.copy(this.buf, this.used, off);
      this.used += n;
      off += n;
    }
  }
  async flush(): Promise<void> {
    if (this.used === 0) return;
    const full = this.buf;
    const written = this.sink.write(full.subarray(0, this.used)).then(() => void this.free.push(full));
    written.catch(() => {}); // awaited below or in finish(); never an unhandled rejection
    this.writing.push(written);
    this.used = 0;
    // At most POOL + 1 buffers ever exist: a new one only while fewer than POOL writes are out.
    while (this.writing.length > POOL || (this.free.length === 0 && this.writing.length === POOL)) await this.writing.shift();
    this.buf = this.free.pop() ?? Buffer.allocUnsafeSlow(BATCH);
  }
  /** An entry's header, written in place when it is a plain one (entries and padding keep `used` a multiple of 512). */
  async header(e: TarEntry): Promise<void> {
    if (BATCH - this.used < BLOCK) await this.flush();
    if (writePlainHeader(e, this.buf, this.used)) {
      this.used += BLOCK;
      return;
    }
    // SCRATCH is shared by every tar being written (parts are made two at a time): encode and
    // copy it out with no await in between; after a flush, encode again.
    let n = encodeHeaderInto(e, SCRATCH);
    if (n < 0) return this.push(encodeHeader(e));
    if (BATCH - this.used < n) {
      await this.flush();
      n = encodeHeaderInto(e, SCRATCH);
    }
    SCRATCH.copy(this.buf, this.used, 0, n);
    this.used += n;
  }
  /** Whether earlier batches are still being written (the sink needs the event loop to finish them). */
  get busy(): boolean {
    return this.writing.length > 0;
  }
  async finish(): Promise<void> {
    await this.flush();
    await Promise.all(this.writing.splice(0));
  }
}

/** Top directories of the store dir, e.g. `nix` and `nix/store`, each a 0755 dir entry. */
export function storeDirEntries(storeDir: string): TarEntry[] {
  const parts = storeDir.split('/').filter(Boolean);
  return parts.map((_, i) => ({ name: parts.slice(0, i + 1).join('/'), type: 'dir', mode: 0o755, size: 0 }));
}

const shrank = (abs: string) => new MegapakError(`${abs} shrank while it was being read; the Nix store must not change during a build`);

const ZEROS = Buffer.alloc(512);

/**
 * A file's content, read synchronously straight into the batch buffers: a handful of
 * syscalls and no allocation, where the promise API cost three thread-pool round trips per
 * file (most of the time of a site-packages tree of 4 KiB files went there). Nothing else
 * needs this thread meanwhile: hashing and compression run on their own threads.
 */
async function copyFile(abs: string, size: number, batch: Batcher): Promise<void> {
  const fd = openSync(abs, 'r');
  try {
    for (let pos = 0; pos < size;) {
      if (batch.used === BATCH) await batch.flush();
      const n = readSync(fd, batch.buf, batch.used, Math.min(size - pos, BATCH - batch.used), pos);
      if (n === 0) throw shrank(abs);
      batch.used += n;
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
  await batch.push(ZEROS.subarray(0, padding(size)));
}

/**
 * Bytes read between turns of the event loop while a write is out. Reading is synchronous, so
 * a sink that needs the loop (a pipe into zstd: libuv pushes a chunk into the pipe only as far
 * as the pipe takes it, then waits for the loop's poll) stalls until the reader waits — the
 * compressor then idles while files are read, and the reader idles while it catches up. A
 * turn every 256 KiB (about what the pipe holds) keeps the compressor fed while reading goes
 * on; fewer, larger turns leave it idle, and a turn per small file costs more than the reads.
 */
const TURN_EVERY = 256 << 10;
const turn = () => new Promise<void>((r) => setImmediate(r));

/** Tar name of a store path's top entry, e.g. `nix/store/…-torch`. */
export const tarNameOf = (storeDir: string, path: string) => `${storeDir.replace(/^\/+/, '')}/${path.slice(storeDir.length + 1)}`;

/** One part of a split layer: the entries from `start` (a tar name) up to `end` (the next part's start; none: to the layer's end). */
export interface PartRange {
  start: string;
  end?: string;
  /** Store paths' entries as the planner walked them (by store path), so the store is walked once, not twice. */
  walked?: Map<string, WalkEntry[]>;
}

/**
 * Bytewise (UTF-8) order without encoding: UTF-16 code units order as code points do except
 * for surrogates, so only a first difference at or above U+D800 needs the bytes.
 */
function before(a: string, b: string): boolean {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  if (i === n) return a.length < b.length;
  const x = a.charCodeAt(i);
  const y = b.charCodeAt(i);
  return x < 0xd800 && y < 0xd800 ? x < y : byteOrder(a, b) < 0;
}

/** The first index of sorted `entries` whose name is not before `name`. */
function firstFrom(entries: WalkEntry[], name: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(entries[mid]!.name, name)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The directories above `name` up to and including its store path's top entry `root`, outermost first. */
export function parentsOf(name: string, root: string): string[] {
  const out: string[] = [];
  for (let i = name.lastIndexOf('/'); i >= root.length; i = name.lastIndexOf('/', i - 1)) out.unshift(name.slice(0, i));
  return out;
}

/**
 * A store path's entries (tar order) that fall in `range`, with the directories above them
 * inside the store path that fall outside it: a part repeats the directories it needs, so
 * every file ships once and every part unpacks on its own with the store's own modes.
 */
function inRange(entries: WalkEntry[], root: string, range: PartRange): WalkEntry[] {
  // A store path wholly inside the range (the common case) needs no filtering: store paths'
  // names differ within their hash, so `end` is either inside this path or past all of it.
  if (!before(root, range.start) && (range.end === undefined || (before(root, range.end) && !range.end.startsWith(`${root}/`)))) return entries;
  const from = firstFrom(entries, range.start);
  const to = range.end === undefined ? entries.length : firstFrom(entries, range.end);
  // Directories above the kept entries that sort before the range: walking up from each entry
  // stops at the first directory inside the range, whose own parents its own walk covers.
  const parents = new Set<string>();
  for (let i = from; i < to; i++)
    for (const d of parentsOf(entries[i]!.name, root).reverse()) {
      if (!before(d, range.start)) break;
      parents.add(d);
    }
  const above = entries.slice(0, from).filter((e) => e.type === 'dir' && parents.has(e.name));
  return [...above, ...entries.slice(from, to)];
}

/**
 * Stream the deterministic layer tar of `paths` (sorted store paths) into `sink`, whose
 * `write` must be done with a chunk when it resolves (the chunk's memory is reused).
 * Hardlinks written by `nix-store --optimise` are ignored: every file is a regular entry.
 * `fsRoot` is where the store lives on disk when not at `/` (a chroot store such as
 * `--store /x`; the golden-digest test): the tar names stay those under `storeDir`. With
 * `range`, only that part of the layer (see `inRange`).
 */
export async function writeLayerTar(storeDir: string, paths: string[], sink: ByteSink, onBytes: (n: number) => void = () => {}, fsRoot = '', range?: PartRange): Promise<void> {
  const batch = new Batcher(sink);
  let sinceTurn = 0;
  for (const e of storeDirEntries(storeDir)) await batch.push(encodeHeader(e));
  const entriesOf = (p: string): WalkEntry[] => {
    if (!p.startsWith(`${storeDir}/`) || p.slice(storeDir.length + 1).includes('/'))
      throw new MegapakError(`refusing to put ${p} in a layer: only top-level paths of ${storeDir} may enter a tar`);
    const root = tarNameOf(storeDir, p);
    const entries = range?.walked?.get(p) ?? walkStorePath(fsRoot + p, root);
    return range ? inRange(entries, root, range) : entries;
  };
  const ahead = ReadAhead.open();
  const small = (e: WalkEntry) => e.type === 'file' && e.size > 0 && e.size < READ_AHEAD_MAX;
  // The next store path is walked, and its small files sent to the reader, before this one is
  // written: the reader works through them while the headers of this one are made.
  const send = (list: WalkEntry[]) => ahead?.send(list.filter(small).flatMap((e) => [e.abs, e.size]));
  try {
    let next = paths.length ? entriesOf(paths[0]!) : [];
    send(next);
    for (let i = 0; i < paths.length; i++) {
      const list = next;
      if (i + 1 < paths.length) send((next = entriesOf(paths[i + 1]!)));
      for (const e of list) {
        await batch.header(e);
        if (e.type !== 'file') continue;
        if (ahead && small(e)) {
          await ahead.copyInto(batch, e.size);
          await batch.push(ZEROS.subarray(0, padding(e.size)));
        } else await copyFile(e.abs, e.size, batch);
        onBytes(e.size);
        if ((sinceTurn += e.size + 512) >= TURN_EVERY && batch.busy) {
          sinceTurn = 0;
          await turn();
        }
      }
    }
  } finally {
    await ahead?.close();
  }
  await batch.push(END_OF_ARCHIVE);
  await batch.finish();
}
