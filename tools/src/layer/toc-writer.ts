import { Transform } from 'node:stream';
import type { TocFormat } from '../model/compression.ts';
import { TarEntryStream } from './tar-entry-stream.ts';
import { TOC_ENCODERS, type TocEncoder } from './toc-encoders.ts';

/** Many small frames leave as few large writes. */
const BATCH = 1 << 20;
/** Tar bytes waiting for the compression threads, at most, before the writer is asked to wait. */
const BACKLOG = 16 << 20;

/**
 * A transform from a layer tar to a blob in `format`: the tar is cut at its entries as it
 * streams by, on this thread (the cuts, digests, CRC-64 and TOC), and the zstd frames or gzip
 * members are compressed on `threads` threads (util/compressed-pieces.ts). An encoder thread of
 * its own was tried too: on two cores its copies and messages cost more than it took off this
 * thread (bench/README.md). The layer descriptor's annotations are in `annotations` once the
 * stream has finished.
 */
export class TocWriter extends Transform {
  annotations: Record<string, string> = {};
  /** Set when the blob's uncompressed stream is not the tar that went in (its diffID is this one's). */
  diff?: { diffId: string; diffSize: number };
  private readonly tar: TarEntryStream;
  private readonly encoder: TocEncoder;
  private parts: Buffer[] = [];
  private bytes = 0;

  /** `threads`: the threads that compress the format's pieces. */
  constructor(format: TocFormat, o: { threads: number }) {
    super();
    this.encoder = TOC_ENCODERS[format]((b) => {
      this.parts.push(b);
      this.bytes += b.length;
      this.release(false);
    }, o);
    this.tar = new TarEntryStream(this.encoder);
  }

  private release(all: boolean): void {
    if (this.bytes === 0 || (!all && this.bytes < BATCH)) return;
    this.push(this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.bytes));
    this.parts = [];
    this.bytes = 0;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    try {
      this.tar.write(chunk);
    } catch (err) {
      return cb(err as Error);
    }
    // The encoders copy what they keep: the caller may reuse `chunk` once this calls back.
    this.encoder.drained(BACKLOG).then(() => cb(), cb);
  }

  override _flush(cb: (e?: Error | null) => void): void {
    Promise.resolve()
      .then(() => {
        this.tar.end();
        return this.encoder.finish();
      })
      .then(({ annotations, diff }) => {
        this.annotations = annotations;
        if (diff) this.diff = diff;
        this.release(true);
        cb();
      }, cb);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.encoder.close();
    cb(err);
  }
}
