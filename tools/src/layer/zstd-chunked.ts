import { createHash, type Hash } from 'node:crypto';
import { Crc64Iso } from '../util/crc64.ts';
import { CompressedPieces } from '../util/compressed-pieces.ts';
import { ZSTD_LEVEL, ZstdFrames, skippableFrame, zstdFrame } from '../util/zstd-frame.ts';
import { FileChunker } from './file-chunker.ts';
import type { TarEntryMeta, TarEvents } from './tar-entry-stream.ts';

// containers/storage's zstd:chunked (docs/containers-storage-zstd-chunked.md and
// pkg/chunked/compressor there): every regular file's content in zstd frames of its own, cut
// at content-defined points; headers, padding and directories in the frames between; then
// the table of contents (TOC), the tar-split (Go tar metadata podman 5 rebuilds the tar's
// headers from) and a footer, each in a zstd skippable frame. `zstd -d` sees one tar.

/** The annotations containers/storage reads since 1.44 (the tar-split's: current ones, podman 5)… */
export const ZSTD_CHUNKED_TOC_DIGEST = 'io.github.containers.zstd-chunked.manifest-checksum';
export const ZSTD_CHUNKED_TOC_POSITION = 'io.github.containers.zstd-chunked.manifest-position';
export const ZSTD_CHUNKED_TARSPLIT_POSITION = 'io.github.containers.zstd-chunked.tarsplit-position';
/** …and the ones containers/storage ≤ 1.43 reads (podman 4.3): both go on every layer. */
const OLD_TOC_DIGEST = 'io.containers.zstd-chunked.manifest-checksum';
const OLD_TOC_POSITION = 'io.containers.zstd-chunked.manifest-position';

const MANIFEST_TYPE_CRFS = 1;
/** The 64-byte footer's magic, "GNUlInUx". */
const FOOTER_MAGIC = Buffer.from([0x47, 0x4e, 0x55, 0x6c, 0x49, 0x6e, 0x55, 0x78]);

const TAR_TYPES: Record<string, string> = { '0': 'reg', '1': 'hardlink', '2': 'symlink', '3': 'char', '4': 'block', '5': 'dir', '6': 'fifo' };

/** A TOC entry, its fields in the order (and with the omissions) of Go's `minimal.FileMetadata`. */
export interface TocEntry {
  type: string;
  name: string;
  linkName?: string;
  mode?: number;
  size?: number;
  uid?: number;
  gid?: number;
  modtime?: string;
  digest?: string;
  offset?: number;
  endOffset?: number;
  chunkSize?: number;
  chunkOffset?: number;
  chunkDigest?: string;
  chunkType?: string;
}

interface Chunk {
  chunkOffset: number;
  /** The index of the chunk's frame until the frames have gone out, then its offset in the blob. */
  offset: number;
  digest: string;
  size: number;
  zeros: boolean;
}

const sha = (h: Hash) => `sha256:${h.digest('hex')}`;
const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');

/** The TOC's header fields of an entry (what Go's `minimal.NewFileMetadata` gives for it). */
export function tocHead(e: TarEntryMeta): TocEntry {
  return {
    type: TAR_TYPES[e.typeflag]!,
    name: e.name,
    ...(e.linkname ? { linkName: e.linkname } : {}),
    ...(e.mode ? { mode: e.mode } : {}),
    ...(e.size ? { size: e.size } : {}),
    ...(e.uid ? { uid: e.uid } : {}),
    ...(e.gid ? { gid: e.gid } : {}),
    ...(e.mtime ? { modtime: iso(e.mtime) } : {}),
  };
}

/**
 * tar-split's JSON lines (github.com/vbatts/tar-split, storage.Entry): a segment (type 2) of
 * raw header bytes before each entry, the entry (type 1: name, size, CRC-64 of its content),
 * and the end of the archive as a last segment.
 */
class TarSplitLines {
  private position = 0;
  private readonly frames: ZstdFrames;
  readonly compressed: Buffer[] = [];
  uncompressed = 0;
  constructor() {
    this.frames = new ZstdFrames((b) => this.compressed.push(b));
  }
  private line(o: object): void {
    const b = Buffer.from(`${JSON.stringify({ ...o, position: this.position++ })}\n`);
    this.uncompressed += b.length;
    this.frames.write(b);
  }
  segment(raw: Buffer): void {
    this.line({ type: 2, payload: raw.toString('base64') });
  }
  file(name: string, size: number, crc: Buffer | null): void {
    this.line({ type: 1, name, ...(size ? { size } : {}), payload: crc ? crc.toString('base64') : null });
  }
  end(): Buffer {
    this.frames.end();
    return Buffer.concat(this.compressed);
  }
}

/**
 * Turns a layer tar, slice by slice, into a zstd:chunked blob; `out` gets the blob's bytes in
 * order. `finish` returns the layer descriptor's annotations. The frames are compressed on
 * `threads` threads (util/compressed-pieces.ts): TOC offsets are frame indices until then.
 */
export class ZstdChunkedEncoder implements TarEvents {
  private pos = 0;
  private readonly frames: CompressedPieces;
  private readonly toc: TocEntry[] = [];
  private readonly tarSplit = new TarSplitLines();
  private segment: Buffer[] = [];
  private file?: {
    head: TocEntry;
    start: number;
    chunkStart: number;
    written: number;
    chunks: Chunk[];
    /** The whole file's hash, only once a second chunk follows: a file of one chunk (most) is hashed once. */
    whole?: Hash;
    part: Hash;
    crc: Crc64Iso;
    chunker: FileChunker;
  };

  constructor(
    private readonly out: (b: Buffer) => void,
    o: { threads: number },
  ) {
    this.frames = new CompressedPieces(out, { kind: 'zstd', level: ZSTD_LEVEL, threads: o.threads });
  }

  /** Resolves once at most `limit` uncompressed bytes wait for compression. */
  drained(limit: number): Promise<void> {
    return this.frames.drained(limit);
  }

  close(): void {
    this.frames.close();
  }

  private emit(b: Buffer): void {
    this.pos += b.length;
    this.out(b);
  }

  raw(b: Uint8Array): void {
    this.frames.write(b);
    this.segment.push(Buffer.from(b));
  }

  entry(e: TarEntryMeta): void {
    this.tarSplit.segment(Buffer.concat(this.segment));
    this.segment = [];
    const head = tocHead(e);
    if (e.typeflag !== '0' || e.size === 0) {
      this.toc.push(head);
      this.tarSplit.file(e.name, e.size, null);
      return;
    }
    // The header's frame ends where the content starts: the content's frames stand alone.
    this.frames.end();
    const f = {
      head,
      start: this.frames.count,
      chunkStart: this.frames.count,
      written: 0,
      chunks: [] as Chunk[],
      whole: undefined as Hash | undefined,
      part: createHash('sha256'),
      crc: new Crc64Iso(),
      chunker: undefined as unknown as FileChunker,
    };
    f.chunker = new FileChunker({
      data: (b) => {
        this.frames.write(b);
        f.whole?.update(b);
        f.part.update(b);
        f.crc.update(b);
        f.written += b.length;
      },
      cut: (zeros) => {
        this.frames.end();
        if (!f.whole && f.written < e.size) f.whole = f.part.copy();
        const prev = f.chunks.at(-1);
        const chunkOffset = prev ? prev.chunkOffset + prev.size : 0;
        f.chunks.push({ chunkOffset, offset: f.chunkStart, digest: sha(f.part), size: f.written - chunkOffset, zeros });
        f.chunkStart = this.frames.count;
        f.part = createHash('sha256');
      },
    });
    this.file = f;
  }

  data(b: Uint8Array): void {
    this.file!.chunker.write(b);
  }

  trailer(b: Uint8Array): void {
    this.raw(b);
  }

  entryEnd(): void {
    const f = this.file;
    if (!f) return;
    this.file = undefined;
    f.chunker.end();
    const main: TocEntry = { ...f.head, digest: f.whole ? sha(f.whole) : f.chunks[0]!.digest, offset: f.start, endOffset: this.frames.count };
    this.tarSplit.file(f.head.name, f.head.size ?? 0, f.crc.sum());
    if (f.chunks.length === 1) {
      this.toc.push(main);
      return;
    }
    // Several chunks: the file's entry is the first chunk, a "chunk" entry follows for each other.
    f.chunks.forEach((c, i) => {
      const chunk = { chunkSize: c.size, chunkOffset: c.chunkOffset, chunkDigest: c.digest, ...(c.zeros ? { chunkType: 'zeros' } : {}) };
      if (i === 0) {
        const { chunkOffset: _first, ...rest } = chunk;
        this.toc.push({ ...main, offset: c.offset, ...rest });
      } else this.toc.push({ type: 'chunk', name: f.head.name, offset: c.offset, ...chunk });
    });
  }

  /** After the tar's last byte: the closing frame, TOC, tar-split and footer; the annotations. */
  async finish(): Promise<{ annotations: Record<string, string> }> {
    this.tarSplit.segment(Buffer.concat(this.segment));
    // tar-split's last entry: what follows the end-of-archive blocks (nothing).
    this.tarSplit.segment(Buffer.alloc(0));
    this.frames.end();
    await this.frames.flush();
    this.frames.close();
    this.pos = this.frames.offset(this.frames.count);
    for (const e of this.toc) {
      if (e.offset !== undefined) e.offset = this.frames.offset(e.offset);
      if (e.endOffset !== undefined) e.endOffset = this.frames.offset(e.endOffset);
    }
    const tarSplit = this.tarSplit.end();
    const tocJson = Buffer.from(JSON.stringify({ version: 1, entries: this.toc, tarSplitDigest: `sha256:${createHash('sha256').update(tarSplit).digest('hex')}` }));
    const toc = zstdFrame(tocJson);
    const tocOffset = this.pos + 8;
    this.emit(skippableFrame(toc));
    const tarSplitOffset = this.pos + 8;
    this.emit(skippableFrame(tarSplit));
    const footer = Buffer.alloc(64);
    [tocOffset, toc.length, tocJson.length, MANIFEST_TYPE_CRFS, tarSplitOffset, tarSplit.length, this.tarSplit.uncompressed].forEach((v, i) =>
      footer.writeBigUInt64LE(BigInt(v), i * 8),
    );
    FOOTER_MAGIC.copy(footer, 56);
    this.emit(skippableFrame(footer));
    const tocDigest = `sha256:${createHash('sha256').update(toc).digest('hex')}`;
    const tocPosition = `${tocOffset}:${toc.length}:${tocJson.length}:${MANIFEST_TYPE_CRFS}`;
    const annotations = {
      [ZSTD_CHUNKED_TOC_DIGEST]: tocDigest,
      [ZSTD_CHUNKED_TOC_POSITION]: tocPosition,
      [ZSTD_CHUNKED_TARSPLIT_POSITION]: `${tarSplitOffset}:${tarSplit.length}:${this.tarSplit.uncompressed}`,
      [OLD_TOC_DIGEST]: tocDigest,
      [OLD_TOC_POSITION]: tocPosition,
    };
    return { annotations };
  }
}
