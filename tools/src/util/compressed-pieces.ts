// Independently compressed pieces of a blob — eStargz's gzip members, zstd:chunked's zstd frames
// — compressed on worker threads and written out in the order they were made. On the encoder's
// one thread the compression held both formats to a single core (eStargz at half the speed of
// megapak's gzip on two). A piece's bytes depend only on its input and the level, so the blob
// is the same for any number of threads and any timing. Pieces travel in batches (most are one
// small file, and a message per piece would cost more than its compression), each batch as one
// buffer and a list of lengths both ways (a small Buffer is often a slice of a shared pool, and
// posting it would copy the whole pool). Written by hand, as parallel-gzip.ts is: no npm package
// keeps pieces whole, in order and deterministic over worker threads.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';

const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
let compress;
if (workerData.kind === 'gzip') {
  const { gzipSync } = require('node:zlib');
  compress = (src, outs) => outs.push(gzipSync(src, { level: workerData.level }));
} else {
  // As util/zstd-frame.ts writes a frame: streamed in, then ended (no content size in its header).
  const binding = require(workerData.zstdBinding);
  const cctx = new binding.CCtx();
  cctx.setParameter(binding.CParameter.compressionLevel, workerData.level);
  const dst = Buffer.allocUnsafe(128 << 10);
  const none = Buffer.alloc(0);
  // A piece may come in several batches (one frame larger than a batch): \`last\` false keeps it open.
  compress = (src, outs, last) => {
    const before = outs.length;
    for (let s = src; s.length > 0; ) {
      const [, produced, consumed] = cctx.compressStream2(dst, s, 0);
      if (produced) outs.push(Buffer.from(dst.subarray(0, produced)));
      s = s.subarray(consumed);
    }
    for (; last; ) {
      const [left, produced] = cctx.compressStream2(dst, none, 2);
      if (produced) outs.push(Buffer.from(dst.subarray(0, produced)));
      if (left === 0) break;
    }
    const one = Buffer.concat(outs.splice(before));
    outs.push(one);
  };
}
parentPort.on('message', (job) => {
  try {
    const input = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength);
    const outs = [];
    let at = 0;
    job.lengths.forEach((n, i) => {
      compress(input.subarray(at, at + n), outs, i < job.ended);
      at += n;
    });
    const data = Buffer.concat(outs);
    // The input buffer goes back to be filled again.
    parentPort.postMessage({ id: job.id, data, lengths: outs.map((o) => o.length), input: job.data }, [data.buffer, job.data.buffer]);
  } catch (e) {
    parentPort.postMessage({ id: job.id, error: String((e && e.message) || e) });
  }
});
`;

/** Uncompressed bytes per batch: large enough that a message costs nothing beside its compression. */
const BATCH_BYTES = 1 << 20;

/** A batch: whole pieces (`ended` of them), then perhaps the part so far of a piece still open. */
interface Sent {
  ended: number;
  bytes: number;
}

/**
 * Pieces in (`write` bytes into the open piece, `end` it), compressed pieces out in the same
 * order. A piece is known by its index (the count of pieces ended before it); `offset(i)` is
 * where piece i starts in the output once everything before it has gone out — the start of the
 * next piece after `flush`. Memory stays bounded for a piece of any size: a zstd frame larger
 * than a batch goes out in parts, all to the same thread, which keeps the frame open between them.
 */
export class CompressedPieces {
  /** Uncompressed bytes taken and not yet written out. */
  backlog = 0;
  /** Pieces ended so far: the index of the next one. */
  count = 0;
  private readonly workers: Worker[];
  private readonly canSplit: boolean;
  private buf = Buffer.allocUnsafeSlow(2 * BATCH_BYTES);
  private used = 0;
  /** Bytes of the open piece still in `buf` (at its end). */
  private inPiece = 0;
  /** Whether the open piece already went out in part (its thread then gets the rest). */
  private pieceSplit = false;
  private lengths: number[] = [];
  /** Batch buffers back from the threads, to fill again (a fresh one costs a page fault per 4 KiB). */
  private readonly spare: Buffer<ArrayBuffer>[] = [];
  private readonly sent = new Map<number, Sent>();
  private readonly done = new Map<number, { data: Buffer; lengths: number[] }>();
  private nextId = 0;
  private nextOut = 0;
  private lastWorker = -1;
  /** Whether the last batch sent ended inside a piece. */
  private openWentOut = false;
  /** offsets[i]: where piece i starts; one more than the pieces written out. */
  private readonly offsets: number[] = [0];
  /** Compressed bytes written out of a piece still open. */
  private partial = 0;
  private failure?: Error;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly out: (b: Buffer) => void,
    o: { kind: 'gzip' | 'zstd'; level: number; threads: number },
  ) {
    this.canSplit = o.kind === 'zstd';
    const workerData = { kind: o.kind, level: o.level, ...(o.kind === 'zstd' ? { zstdBinding: createRequire(import.meta.url).resolve('zstd-napi/binding.js') } : {}) };
    this.workers = Array.from({ length: Math.max(1, o.threads) }, () => {
      const w = new Worker(SOURCE, { eval: true, workerData });
      w.on('message', (m: { id: number; data?: Uint8Array; lengths?: number[]; input?: Uint8Array; error?: string }) => {
        if (m.error) return this.fail(new Error(`${o.kind}: ${m.error}`));
        this.spare.push(Buffer.from(m.input!.buffer as ArrayBuffer));
        this.finished(m.id, Buffer.from(m.data!.buffer, m.data!.byteOffset, m.data!.byteLength), m.lengths!);
      });
      w.on('error', (e) => this.fail(e));
      return w;
    });
  }

  /** Bytes into the open piece (copied: the caller may reuse `b`). */
  write(b: Uint8Array): void {
    if (this.failure) throw this.failure;
    if (this.used + b.length > this.buf.length) {
      const bigger = Buffer.allocUnsafeSlow(Math.max(2 * this.buf.length, this.used + b.length));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
    }
    this.buf.set(b, this.used);
    this.used += b.length;
    this.inPiece += b.length;
    this.backlog += b.length;
    if (this.canSplit && this.inPiece >= BATCH_BYTES) this.send(true);
  }

  /** Close the open piece (nothing when it is empty and never went out in part). */
  end(): void {
    if (this.inPiece === 0 && !this.pieceSplit) return;
    this.lengths.push(this.inPiece);
    this.inPiece = 0;
    this.pieceSplit = false;
    this.count++;
    if (this.used >= BATCH_BYTES) this.send(false);
  }

  /** The ended pieces to a thread, and with `withOpen` the open piece's bytes so far. */
  private send(withOpen: boolean): void {
    const ended = this.lengths.length;
    if (ended === 0 && !withOpen) return;
    const keep = withOpen ? 0 : this.inPiece;
    const lengths = withOpen ? [...this.lengths, this.inPiece] : this.lengths;
    const bytes = this.used - keep;
    const size = Math.max(2 * BATCH_BYTES, keep);
    const reuse = this.spare.findIndex((b) => b.length >= size);
    const next = reuse >= 0 ? this.spare.splice(reuse, 1)[0]! : Buffer.allocUnsafeSlow(size);
    this.buf.copy(next, 0, bytes, this.used);
    // A piece that went out in part goes on on the same thread, which holds its open frame.
    const worker = this.openWentOut ? this.lastWorker : (this.lastWorker + 1) % this.workers.length;
    const id = this.nextId++;
    this.sent.set(id, { ended, bytes });
    const data = this.buf.subarray(0, bytes);
    this.workers[worker]!.postMessage({ id, data, lengths, ended }, [this.buf.buffer]);
    this.lastWorker = worker;
    this.openWentOut = withOpen;
    if (withOpen) this.pieceSplit = true;
    this.buf = next;
    this.used = keep;
    if (withOpen) this.inPiece = 0;
    this.lengths = [];
  }

  private finished(id: number, data: Buffer, lengths: number[]): void {
    this.done.set(id, { data, lengths });
    for (let d; (d = this.done.get(this.nextOut)); this.nextOut++) {
      const b = this.sent.get(this.nextOut)!;
      this.done.delete(this.nextOut);
      this.sent.delete(this.nextOut);
      d.lengths.forEach((n, i) => {
        this.partial += n;
        if (i < b.ended) {
          this.offsets.push(this.offsets.at(-1)! + this.partial);
          this.partial = 0;
        }
      });
      this.backlog -= b.bytes;
      this.out(d.data);
    }
    this.wake();
  }

  /** Where piece `i` starts (known once the pieces before it have gone out). */
  offset(i: number): number {
    const o = this.offsets[i];
    if (o === undefined) throw new Error(`piece ${i} has not been written out yet`);
    return o;
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once at most `limit` uncompressed bytes wait (rejects when a thread failed). */
  async drained(limit: number): Promise<void> {
    if (this.backlog - this.inPiece >= limit) this.send(false);
    while (!this.failure && this.backlog - this.inPiece >= limit) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
  }

  /** Every ended piece written out: `offset(count)` is where the output now ends. */
  flush(): Promise<void> {
    this.send(false);
    return this.drained(1);
  }

  close(): void {
    for (const w of this.workers) void w.terminate();
  }
}
