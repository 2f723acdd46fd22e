import { createHash, type Hash } from 'node:crypto';
import { CompressedPieces } from '../util/compressed-pieces.ts';
import { END_OF_ARCHIVE, encodeHeader, padding } from './tar-header.ts';
import type { TarEntryMeta, TarEvents } from './tar-entry-stream.ts';

// eStargz (stargz-snapshotter's docs/estargz.md; its writer is estargz/estargz.go): the layer
// as a series of gzip members, each regular file's content starting a member of its own and
// cut into members of at most 4 MiB (estargz's default chunk size); then a member holding the
// TOC as the tar entry `stargz.index.json`, and a 51-byte footer member whose gzip extra field
// says where the TOC member starts. To gzip readers it is one gzip stream of a tar that holds
// one file more than the layer: that stream's sha256 is the layer's diffID.

export const ESTARGZ_TOC_DIGEST = 'containerd.io/snapshot/stargz/toc.digest';
export const ESTARGZ_UNCOMPRESSED_SIZE = 'io.containers.estargz.uncompressed-size';
export const ESTARGZ_TOC_NAME = 'stargz.index.json';
export const ESTARGZ_FOOTER_SIZE = 51;
const CHUNK = 4 << 20;
/** gzip level 6, as the gzip blobs. */
const LEVEL = 6;

const TYPES: Record<string, string> = { '0': 'reg', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

/** estargz's cleanEntryName: no leading `./` or `/`, no trailing slash. */
const cleanName = (n: string) => n.replace(/^(\.?\/)+/, '').replace(/\/+$/, '');
const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');

type TocEntry = Record<string, string | number>;

/** The footer: an empty stored gzip member with extra field `SG`, "%016xSTARGZ" (the TOC member's offset). */
export function estargzFooter(tocOffset: number): Buffer {
  const f = Buffer.alloc(ESTARGZ_FOOTER_SIZE);
  Buffer.from([0x1f, 0x8b, 8, 4, 0, 0, 0, 0, 0, 0xff]).copy(f, 0);
  f.writeUInt16LE(26, 10);
  f.write('SG', 12, 'latin1');
  f.writeUInt16LE(22, 14);
  f.write(`${tocOffset.toString(16).padStart(16, '0')}STARGZ`, 16, 'latin1');
  Buffer.from([1, 0, 0, 0xff, 0xff]).copy(f, 38); // an empty final stored block; CRC and size stay 0
  return f;
}

/** Where the TOC member starts, from a blob's last 51 bytes. */
export function parseEstargzFooter(f: Buffer): number {
  if (f.length !== ESTARGZ_FOOTER_SIZE || f[0] !== 0x1f || f[1] !== 0x8b || f.toString('latin1', 12, 14) !== 'SG' || f.toString('latin1', 32, 38) !== 'STARGZ')
    throw new Error('not an eStargz footer');
  return parseInt(f.toString('latin1', 16, 32), 16);
}

/** Turns a layer tar, slice by slice, into an eStargz blob; `out` gets the blob's bytes in order. */
export class EstargzEncoder implements TarEvents {
  /** Members are compressed on threads; an entry's offset is its member's index until they have gone out. */
  private readonly members: CompressedPieces;
  private readonly diff = createHash('sha256');
  private diffSize = 0;
  private readonly toc: TocEntry[] = [];
  /** `whole` only for a file of several chunks: one of a single chunk (most) is hashed once. */
  private file?: { head: TocEntry; size: number; written: number; inChunk: number; whole?: Hash; part: Hash; entry: TocEntry };

  constructor(
    private readonly out: (b: Buffer) => void,
    o: { threads: number },
  ) {
    this.members = new CompressedPieces(out, { kind: 'gzip', level: LEVEL, threads: o.threads });
  }

  /** Bytes of the uncompressed stream into the open member. */
  private put(b: Uint8Array): void {
    if (b.length === 0) return;
    this.members.write(b);
    this.diff.update(b);
    this.diffSize += b.length;
  }

  /** Resolves once at most `limit` uncompressed bytes wait for compression. */
  drained(limit: number): Promise<void> {
    return this.members.drained(limit);
  }

  close(): void {
    this.members.close();
  }

  raw(b: Uint8Array): void {
    this.put(b);
  }

  entry(e: TarEntryMeta): void {
    const head: TocEntry = {
      name: cleanName(e.name),
      type: TYPES[e.typeflag]!,
      ...(e.typeflag === '0' && e.size ? { size: e.size } : {}),
      ...(e.mtime ? { modtime: iso(e.mtime) } : {}),
      ...(e.linkname ? { linkName: e.linkname } : {}),
      ...(e.mode ? { mode: e.mode } : {}),
      ...(e.uid ? { uid: e.uid } : {}),
      ...(e.gid ? { gid: e.gid } : {}),
    };
    if (e.typeflag !== '0' || e.size === 0) {
      this.toc.push(e.typeflag === '0' ? { ...head, digest: `sha256:${createHash('sha256').digest('hex')}` } : head);
      return;
    }
    this.file = { head, size: e.size, written: 0, inChunk: 0, ...(e.size > CHUNK ? { whole: createHash('sha256') } : {}), part: createHash('sha256'), entry: head };
    this.startChunk();
  }

  /** A chunk starts a member of its own. */
  private startChunk(): void {
    const f = this.file!;
    this.members.end();
    if (f.written > 0) f.entry = { name: f.head.name as string, type: 'chunk' };
    f.entry.offset = this.members.count;
    if (f.written > 0) f.entry.chunkOffset = f.written;
    if (f.size - f.written >= CHUNK) f.entry.chunkSize = CHUNK;
    this.toc.push(f.entry);
    f.inChunk = 0;
    f.part = createHash('sha256');
  }

  data(b: Uint8Array): void {
    const f = this.file!;
    for (let i = 0; i < b.length;) {
      if (f.inChunk === CHUNK) {
        f.entry.chunkDigest = `sha256:${f.part.digest('hex')}`;
        this.startChunk();
      }
      const n = Math.min(CHUNK - f.inChunk, b.length - i);
      const part = b.subarray(i, i + n);
      this.put(part);
      f.whole?.update(part);
      f.part.update(part);
      f.inChunk += n;
      f.written += n;
      i += n;
    }
  }

  entryEnd(): void {
    const f = this.file;
    if (!f) return;
    this.file = undefined;
    f.entry.chunkDigest = `sha256:${f.part.digest('hex')}`;
    // The file's entry (its first chunk) gets the whole file's digest, before its chunk fields.
    f.head.digest = f.whole ? `sha256:${f.whole.digest('hex')}` : f.entry.chunkDigest;
  }

  /** The layer's own end-of-archive blocks are left out: the TOC entry and its own end close the tar. */
  trailer(_b: Uint8Array): void {}

  async finish(): Promise<{ annotations: Record<string, string>; diff: { diffId: string; diffSize: number } }> {
    this.members.end();
    await this.members.flush();
    for (const e of this.toc) if (e.offset !== undefined) e.offset = this.members.offset(e.offset as number);
    const tocOffset = this.members.offset(this.members.count);
    const json = Buffer.from(JSON.stringify({ version: 1, entries: this.toc.map(ordered) }, null, '\t'));
    this.put(encodeHeader({ name: ESTARGZ_TOC_NAME, type: 'file', mode: 0o644, size: json.length }));
    this.put(json);
    this.put(Buffer.alloc(padding(json.length)));
    this.put(END_OF_ARCHIVE);
    this.members.end();
    await this.members.flush();
    this.members.close();
    this.out(estargzFooter(tocOffset));
    return {
      annotations: { [ESTARGZ_TOC_DIGEST]: `sha256:${createHash('sha256').update(json).digest('hex')}`, [ESTARGZ_UNCOMPRESSED_SIZE]: String(this.diffSize) },
      diff: { diffId: `sha256:${this.diff.digest('hex')}`, diffSize: this.diffSize },
    };
  }
}

/** An entry's fields in the order of estargz's TOCEntry. */
const ORDER = ['name', 'type', 'size', 'modtime', 'linkName', 'mode', 'uid', 'gid', 'offset', 'digest', 'chunkOffset', 'chunkSize', 'chunkDigest'];
const ordered = (e: TocEntry): TocEntry => Object.fromEntries(ORDER.filter((k) => e[k] !== undefined).map((k) => [k, e[k]!]));
