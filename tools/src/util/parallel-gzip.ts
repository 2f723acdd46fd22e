// Deterministic gzip on all cores, in the manner of pigz: the input is cut into fixed-size
// blocks, each block is raw-deflated by a worker thread with the previous 32 KiB of input as
// its dictionary and ended with a sync flush (the last one with a final block), and the
// pieces are joined in order into ONE standard gzip member whose CRC-32 is combined from the
// blocks' CRCs. Every block's bytes depend only on its own input and the 32 KiB before it,
// so the output is the same for any number of workers and any timing.
// Written by hand: no npm package does this deterministically over worker threads (the
// ones that exist wrap the pigz binary or compress independent gzip members).
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { Worker } from 'node:worker_threads';
import { crc32Combine } from './crc32-combine.ts';

/** Input bytes per block: large enough that the 5-byte sync marker and the cold start of each block cost nothing measurable. */
export const GZIP_BLOCK = 1 << 20;
const WINDOW = 32 << 10;
/** More workers than this add threads, not speed, on any machine this tool targets, and each costs memory. */
export const MAX_GZIP_WORKERS = 8;

// The worker is plain CommonJS evaluated from a string, so it runs the same from the
// TypeScript sources and from the esbuild bundle (which cannot see a worker file).
// Memory: a worker's garbage would only be collected when its own heap fills, and a
// deflated block is mostly an ArrayBuffer outside that heap, so unchecked each thread kept
// tens of MB. Instead the input block goes back to the main thread for reuse and the output
// (one chunk, sized to hold any block) is transferred there: a worker keeps nothing.
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const zlib = require('node:zlib');
parentPort.on('message', (job) => {
  try {
    const input = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength);
    const opts = { level: job.level, chunkSize: job.chunkSize, finishFlush: job.last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH };
    if (job.dict) opts.dictionary = job.dict;
    const out = zlib.deflateRawSync(input, opts);
    const crc = zlib.crc32(input);
    const give = [job.data.buffer];
    if (out.byteLength >= 4096 && out.buffer.byteLength <= 2 * out.byteLength + job.chunkSize) give.push(out.buffer);
    parentPort.postMessage({ id: job.id, out, crc, length: input.length, data: job.data }, give);
  } catch (e) {
    parentPort.postMessage({ id: job.id, error: String((e && e.message) || e) });
  }
});
`;

interface Job {
  id: number;
  data: Buffer;
  dict: Buffer | null;
  last: boolean;
  level: number;
  chunkSize: number;
}

interface Done {
  id: number;
  /** The input block, handed back. */
  data?: Uint8Array;
  out?: Uint8Array;
  crc?: number;
  length?: number;
  error?: string;
}

export interface ParallelGzipOptions {
  /** Worker threads (default: the cores available; at most MAX_GZIP_WORKERS). */
  workers?: number;
  level?: number;
  blockSize?: number;
}

export const defaultGzipWorkers = (): number => Math.min(availableParallelism(), MAX_GZIP_WORKERS);

/** gzip header: deflate, no name, mtime 0, OS unix — what zlib writes at level 6. */
const HEADER = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);

/**
 * Idle gzip workers kept for the next blob (unref'd: they never keep the process alive). A
 * split layer is dozens of blobs, and starting up to eight threads per blob cost seconds of CPU.
 */
const pool: Worker[] = [];

/** Only our own listeners: Node's Worker keeps its message port started through listener hooks of its own. */
const forget = (w: Worker) => {
  for (const e of ['message', 'error', 'exit']) w.removeAllListeners(e);
};

function takeWorker(): Worker {
  const w = pool.pop();
  if (!w) return new Worker(WORKER_SOURCE, { eval: true });
  forget(w);
  w.ref();
  return w;
}

function releaseWorker(w: Worker): void {
  forget(w);
  if (pool.length >= MAX_GZIP_WORKERS) return void w.terminate();
  w.unref();
  // A pooled worker that dies leaves the pool, so no blob waits on it.
  w.once('exit', () => pool.splice(pool.indexOf(w) >>> 0, 1));
  pool.push(w);
}

/**
 * A Transform that gzips what is written to it on worker threads. Memory is bounded: at most
 * two blocks per worker are in flight, and writes wait (backpressure) while that many are.
 */
export class ParallelGzip extends Transform {
  private readonly workerCount: number;
  private readonly level: number;
  private readonly blockSize: number;
  private readonly maxInFlight: number;
  private readonly workers: Worker[] = [];
  private readonly idle: Worker[] = [];
  private readonly queue: Job[] = [];
  private readonly results = new Map<number, Done>();
  private block: Buffer;
  /** Input blocks back from the workers, to fill again. */
  private readonly spare: Buffer[] = [];
  private used = 0;
  private tail: Buffer | null = null;
  private nextId = 0;
  private nextOut = 0;
  private crc = 0;
  private size = 0;
  private headerSent = false;
  private waiting: TransformCallback | null = null;
  private finishing: TransformCallback | null = null;
  private stopping = false;

  constructor(opts: ParallelGzipOptions = {}) {
    super({ highWaterMark: 1 << 20 });
    this.workerCount = Math.max(1, Math.min(opts.workers ?? defaultGzipWorkers(), MAX_GZIP_WORKERS));
    this.level = opts.level ?? 6;
    this.blockSize = opts.blockSize ?? GZIP_BLOCK;
    if (this.blockSize < WINDOW) throw new Error(`gzip block size must be at least ${WINDOW} bytes`);
    this.maxInFlight = 2 * this.workerCount;
    this.block = Buffer.allocUnsafeSlow(this.blockSize);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, this.blockSize - this.used);
      chunk.copy(this.block, this.used, off, off + n);
      this.used += n;
      off += n;
      if (this.used === this.blockSize) this.dispatch(false);
    }
    if (this.nextId - this.nextOut >= this.maxInFlight) this.waiting = cb;
    else cb();
  }

  override _flush(cb: TransformCallback): void {
    this.dispatch(true);
    this.finishing = cb;
  }

  override _destroy(err: Error | null, cb: (error: Error | null) => void): void {
    this.stopWorkers();
    cb(err);
  }

  /** Send the current block (a full one, or the final one of any length) to the workers. */
  private dispatch(last: boolean): void {
    const data = this.used === this.blockSize ? this.block : this.block.subarray(0, this.used);
    const nextTail = data.length >= WINDOW ? Buffer.from(data.subarray(data.length - WINDOW)) : null;
    // Deflate output never exceeds the input by more than a few bytes per 16 KiB: one chunk holds it.
    const chunkSize = this.blockSize + (this.blockSize >> 8) + 1024;
    this.queue.push({ id: this.nextId++, data, dict: this.tail, last, level: this.level, chunkSize });
    // A short final block never lends a dictionary; a full block always has ≥ WINDOW bytes.
    this.tail = nextTail;
    if (!last) this.block = this.spare.pop() ?? Buffer.allocUnsafeSlow(this.blockSize);
    this.used = 0;
    this.pump();
  }

  private pump(): void {
    while (this.queue.length > 0) {
      let w = this.idle.pop();
      if (!w && this.workers.length < this.workerCount) w = this.startWorker();
      if (!w) return;
      const job = this.queue.shift()!;
      // The block's memory moves to the worker (it is ours alone: allocUnsafeSlow, never pooled).
      w.postMessage(job, job.data.byteLength === job.data.buffer.byteLength ? [job.data.buffer as ArrayBuffer] : []);
    }
  }

  private startWorker(): Worker {
    const w = takeWorker();
    w.on('message', (m: Done) => {
      this.idle.push(w);
      this.onDone(m);
      this.pump();
    });
    w.on('error', (e) => this.destroy(e));
    w.on('exit', (code) => {
      if (code !== 0 && !this.stopping) this.destroy(new Error(`gzip worker exited with code ${code}`));
    });
    this.workers.push(w);
    return w;
  }

  private onDone(m: Done): void {
    if (m.error) {
      this.destroy(new Error(`gzip worker failed: ${m.error}`));
      return;
    }
    if (m.data && m.data.byteLength === this.blockSize) this.spare.push(Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength));
    this.results.set(m.id, m);
    for (let r = this.results.get(this.nextOut); r; r = this.results.get(this.nextOut)) {
      this.results.delete(this.nextOut);
      if (!this.headerSent) {
        this.push(HEADER);
        this.headerSent = true;
      }
      const out = r.out!;
      this.push(Buffer.from(out.buffer, out.byteOffset, out.byteLength));
      this.crc = crc32Combine(this.crc, r.crc!, r.length!);
      this.size += r.length!;
      this.nextOut++;
    }
    if (this.waiting && this.nextId - this.nextOut < this.maxInFlight) {
      const cb = this.waiting;
      this.waiting = null;
      cb();
    }
    if (this.finishing && this.nextOut === this.nextId) {
      const trailer = Buffer.alloc(8);
      trailer.writeUInt32LE(this.crc, 0);
      trailer.writeUInt32LE(this.size % 2 ** 32, 4);
      this.push(trailer);
      this.stopWorkers(true);
      const cb = this.finishing;
      this.finishing = null;
      cb();
    }
  }

  /** `done`: every job answered, so the workers are idle and go back to the pool. */
  private stopWorkers(done = false): void {
    this.stopping = true;
    for (const w of this.workers)
      if (done) releaseWorker(w);
      else void w.terminate();
    this.workers.length = 0;
    this.idle.length = 0;
  }
}
