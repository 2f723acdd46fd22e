// Small files' contents read on a worker thread, ahead of the tar writer, into a ring of shared
// memory. A many-file layer (site-packages: ~170k entries, most under 16 KiB) kept the main thread
// in open/read/close for about 40 % of a cold build (`node --cpu-prof`, bench/README.md), while
// the second core sat mostly idle: GNU tar has the same bound. Here the main thread walks,
// writes headers and copies bytes out of the ring (one memcpy, no system call), while the worker
// makes the system calls. Large files are not sent: the tar writer reads those itself, straight
// into its buffers, since one large read costs little and a ring copy would cost more.
import { Worker } from 'node:worker_threads';

const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { openSync, readSync, closeSync } = require('node:fs');
const ring = Buffer.from(workerData.ring);
const st = new BigInt64Array(workerData.state);
const errText = Buffer.from(workerData.error);
const SIZE = BigInt(ring.length);
function fail(msg) {
  const n = errText.write(msg.slice(0, 2000), 4);
  errText.writeUInt32LE(n, 0);
  Atomics.store(st, 2, 1n);
  Atomics.notify(st, 0);
}
parentPort.on('message', (m) => {
  if (m.op === 'reset') { Atomics.store(st, 0, 0n); Atomics.store(st, 1, 0n); Atomics.store(st, 2, 0n); parentPort.postMessage('reset'); return; }
  for (let i = 0; i < m.files.length; i += 2) {
    if (Atomics.load(st, 2) !== 0n) return;
    const abs = m.files[i];
    const size = m.files[i + 1];
    let fd;
    try {
      fd = openSync(abs, 'r');
      for (let pos = 0; pos < size;) {
        const w = Atomics.load(st, 0);
        const c = Atomics.load(st, 1);
        if (Atomics.load(st, 2) !== 0n) return;
        const free = SIZE - (w - c);
        if (free === 0n) { Atomics.wait(st, 1, c); continue; }
        const at = Number(w % SIZE);
        const n = Math.min(Number(free), ring.length - at, size - pos);
        const r = readSync(fd, ring, at, n, pos);
        if (r === 0) throw new Error(abs + ' shrank while it was being read; the Nix store must not change during a build');
        pos += r;
        Atomics.store(st, 0, w + BigInt(r));
        Atomics.notify(st, 0);
      }
    } catch (e) {
      fail(e && e.message ? e.message : String(e));
      return;
    } finally {
      if (fd !== undefined) closeSync(fd);
    }
  }
});
`;

const RING = 8 << 20;

// Node 20 has Atomics.waitAsync (V8); the ES2022 lib this project compiles against does not declare it.
const waitAsync = (Atomics as unknown as { waitAsync: (a: BigInt64Array, i: number, v: bigint, t: number) => { async: boolean; value: unknown } }).waitAsync;
/** Files at least this big are read by the tar writer itself. */
export const READ_AHEAD_MAX = 1 << 20;

/** A sink for file bytes (the tar writer's batch): room at `buf[used..]`, and a way to make room. */
export interface ByteTarget {
  buf: Buffer;
  used: number;
  readonly capacity: number;
  flush(): Promise<void>;
}

/** One worker and its ring; a writer takes one from the pool for the length of one tar. */
class Reader {
  readonly worker: Worker;
  readonly ring = Buffer.from(new SharedArrayBuffer(RING));
  /** [written, consumed, failed] byte counts (BigInt64: they pass 2^31 in a big layer). */
  readonly state = new BigInt64Array(new SharedArrayBuffer(3 * 8));
  readonly error = Buffer.from(new SharedArrayBuffer(4 + 8000));
  consumed = 0n;

  constructor() {
    this.worker = new Worker(SOURCE, { eval: true, workerData: { ring: this.ring.buffer, state: this.state.buffer, error: this.error.buffer } });
    this.worker.unref();
    // A worker that dies fails the tar that waits on it (with its error), never hangs it.
    const died = (msg: string) => {
      const n = this.error.write(msg.slice(0, 2000), 4);
      this.error.writeUInt32LE(n, 0);
      Atomics.store(this.state, 2, 1n);
      Atomics.notify(this.state, 0);
      const i = idle.indexOf(this);
      if (i >= 0) idle.splice(i, 1);
    };
    this.worker.on('error', (e) => died(`the read-ahead thread failed: ${e.message}`));
    this.worker.on('exit', (code) => died(`the read-ahead thread exited with code ${code}`));
  }

  failure(): Error | undefined {
    if (Atomics.load(this.state, 2) === 0n) return undefined;
    return new Error(this.error.toString('utf8', 4, 4 + this.error.readUInt32LE(0)));
  }
}

const idle: Reader[] = [];

/** Reads the small files of one tar, in the order they are sent, and hands their bytes out in that order. */
export class ReadAhead {
  private constructor(private readonly r: Reader) {}

  /** A reader from the pool (a new worker when none is idle); `undefined` when no worker can start. */
  static open(): ReadAhead | undefined {
    try {
      return new ReadAhead(idle.pop() ?? new Reader());
    } catch {
      return undefined;
    }
  }

  /** Queue files (absolute path, size; each smaller than READ_AHEAD_MAX) to be read in this order. */
  send(files: (string | number)[]): void {
    if (files.length) {
      this.r.worker.ref();
      this.r.worker.postMessage({ op: 'read', files });
    }
  }

  /** Copy the next `size` bytes (the next sent file's) into `t`, flushing it when full. */
  async copyInto(t: ByteTarget, size: number): Promise<void> {
    const { state, ring } = this.r;
    for (let left = size; left > 0;) {
      const w = Atomics.load(state, 0);
      let avail = Number(w - this.r.consumed);
      if (avail === 0) {
        const err = this.r.failure();
        if (err) throw err;
        const res = waitAsync(state, 0, w, 5000);
        if (res.async) await res.value;
        continue;
      }
      if (t.used === t.capacity) await t.flush();
      const at = Number(this.r.consumed % BigInt(RING));
      avail = Math.min(avail, left, RING - at, t.capacity - t.used);
      ring.copy(t.buf, t.used, at, at + avail);
      t.used += avail;
      left -= avail;
      this.r.consumed += BigInt(avail);
      Atomics.store(state, 1, this.r.consumed);
      Atomics.notify(state, 1);
    }
  }

  /** Back to the pool once the worker has dropped what is left of its queue (after a failure or an abandoned tar); else the worker ends. */
  async close(): Promise<void> {
    const { worker } = this.r;
    // A failed or abandoned tar may leave files queued: mark failed so the worker drops them, then reset.
    Atomics.store(this.r.state, 2, 1n);
    Atomics.store(this.r.state, 1, Atomics.load(this.r.state, 0));
    Atomics.notify(this.r.state, 1);
    const reset = new Promise<void>((resolve) => worker.once('message', () => resolve()));
    worker.postMessage({ op: 'reset' });
    await reset;
    this.r.consumed = 0n;
    worker.unref();
    if (idle.length < 4) idle.push(this.r);
    else await worker.terminate();
  }
}
