import { Transform } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type { TocFormat } from '../model/compression.ts';
import { MegapakError } from '../util/errors.ts';
import type { FromWorker, ToWorker } from './toc-worker.ts';

/** Tar bytes handed to the worker and not yet encoded, at most: enough to keep it busy while the tar writer waits on the disk. */
const IN_FLIGHT = 16 << 20;

/**
 * How to start the worker: the bundle's sibling (dist/toc-worker.mjs, made with dist/megapak.mjs)
 * or, run from the TypeScript sources, the source file with tsx's loader registered in the
 * worker first (a loader registered in this thread does not reach a worker on Node 20).
 */
function startWorker(format: TocFormat, threads: number): Worker {
  const here = import.meta.url;
  const workerData = { format, threads };
  if (!here.endsWith('.ts')) return new Worker(new URL('./toc-worker.mjs', here), { workerData });
  const tsx = import.meta.resolve('tsx/esm/api');
  const entry = new URL('./toc-worker.ts', here).href;
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData });
}

/**
 * A transform from a layer tar to a blob in `format`. The encoding runs on a worker thread of
 * its own (layer/toc-worker.ts): per-file chunking, two digests and a CRC per byte cost more
 * than the walk that makes the tar, and on the main thread they left the second core idle
 * (a cold zstd:chunked build took 2.3× a zstd one). The worker's output is the same bytes the
 * encoders give on any thread: the blob does not depend on timing. The layer descriptor's
 * annotations are in `annotations` once the stream has finished.
 */
export class TocWriter extends Transform {
  annotations: Record<string, string> = {};
  /** Set when the blob's uncompressed stream is not the tar that went in (its diffID is this one's). */
  diff?: { diffId: string; diffSize: number };
  private readonly worker: Worker;
  private inFlight = 0;
  private failure?: Error;
  private waiting?: () => void;
  private finished?: (e?: Error) => void;
  private done = false;

  /** `threads`: compression threads the format may use besides the encoder's own (eStargz). */
  constructor(format: TocFormat, o: { threads: number }) {
    super();
    this.worker = startWorker(format, o.threads);
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    this.worker.on('error', (e) => this.fail(e));
    this.worker.on('exit', (code) => {
      if (!this.done && !this.destroyed) this.fail(new MegapakError(`the ${format} encoder's thread exited (code ${code}) before the blob was finished`));
    });
  }

  private onMessage(m: FromWorker): void {
    if (m.op === 'out') this.push(Buffer.from(m.buf.buffer, m.buf.byteOffset, m.buf.byteLength));
    else if (m.op === 'ack') {
      this.inFlight -= m.n;
      this.wake();
    } else if (m.op === 'done') {
      this.done = true;
      this.annotations = m.annotations;
      if (m.diff) this.diff = m.diff;
      const f = this.finished;
      this.finished = undefined;
      f?.();
    } else this.fail(new MegapakError(m.message));
  }

  private wake(): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
    const f = this.finished;
    this.finished = undefined;
    if (f) f(this.failure);
    else if (!this.destroyed) this.destroy(this.failure);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (e?: Error | null) => void): void {
    if (this.failure) return cb(this.failure);
    // A copy in memory of its own, handed over: the caller reuses `chunk` once this calls back.
    const buf = Buffer.allocUnsafeSlow(chunk.length);
    chunk.copy(buf);
    this.worker.postMessage({ op: 'data', buf } satisfies ToWorker, [buf.buffer]);
    this.inFlight += buf.length;
    if (this.inFlight < IN_FLIGHT) return cb();
    this.waiting = () => cb(this.failure);
  }

  override _flush(cb: (e?: Error | null) => void): void {
    if (this.failure) return cb(this.failure);
    this.finished = (e) => {
      void this.worker.terminate();
      cb(e);
    };
    this.worker.postMessage({ op: 'end' } satisfies ToWorker);
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.finished = undefined;
    void this.worker.terminate();
    cb(err);
  }
}
