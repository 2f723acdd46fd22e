import { Transform } from 'node:stream';
import type { TocFormat } from '../model/compression.ts';
import { TarEntryStream, type TarEvents } from './tar-entry-stream.ts';
import { ZstdChunkedEncoder } from './zstd-chunked.ts';
import { EstargzEncoder } from './estargz.ts';

/**
 * An encoder of a format with a table of contents: fed a tar's events, it writes the blob;
 * `finish` gives the layer's annotations and, when the blob decompresses to more than the tar
 * (eStargz adds its TOC as a tar entry), the digest and size of what it decompresses to.
 */
export interface TocEncoder extends TarEvents {
  finish(): { annotations: Record<string, string>; diff?: { diffId: string; diffSize: number } };
}

const ENCODERS: Record<TocFormat, (out: (b: Buffer) => void) => TocEncoder> = {
  'zstd:chunked': (out) => new ZstdChunkedEncoder(out),
  estargz: (out) => new EstargzEncoder(out),
};

const BATCH = 1 << 20;

/**
 * A transform from a layer tar to a blob in `format`, on this thread: the tar is cut at its
 * entries as it streams by (nothing is held but the current chunk's compressor state). The
 * layer descriptor's annotations are in `annotations` once the stream has finished.
 */
export class TocWriter extends Transform {
  annotations: Record<string, string> = {};
  /** Set when the blob's uncompressed stream is not the tar that went in (its diffID is this one's). */
  diff?: { diffId: string; diffSize: number };
  private readonly tar: TarEntryStream;
  private readonly encoder: TocEncoder;
  private parts: Buffer[] = [];
  private bytes = 0;

  constructor(format: TocFormat) {
    super();
    this.encoder = ENCODERS[format]((b) => {
      this.parts.push(b);
      this.bytes += b.length;
    });
    this.tar = new TarEntryStream(this.encoder);
  }

  /** Many small frames leave as few large writes. */
  private release(all: boolean): void {
    if (this.bytes === 0 || (!all && this.bytes < BATCH)) return;
    this.push(Buffer.concat(this.parts, this.bytes));
    this.parts = [];
    this.bytes = 0;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    try {
      this.tar.write(chunk);
      this.release(false);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }

  override _flush(cb: (e?: Error | null) => void): void {
    try {
      this.tar.end();
      ({ annotations: this.annotations, diff: this.diff } = this.encoder.finish());
      this.release(true);
      cb();
    } catch (err) {
      cb(err as Error);
    }
  }
}
