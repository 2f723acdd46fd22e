// Whole gzip members (eStargz: one per file and chunk) compressed on worker threads and handed
// out in the order they were added. One thread held eStargz to a single core of gzip -6, half
// the speed of megapak's gzip blobs on two cores. A member's bytes depend only on its input and
// the level, so the output is the same for any number of threads and any timing. Members are
// sent in batches: most are one small file, and a message per member would cost more than its
// compression. Written by hand for the same reason as parallel-gzip.ts: no npm package keeps
// members whole, in order and deterministic over worker threads.
import { Worker } from 'node:worker_threads';

// A batch travels as one buffer and a list of lengths, both ways: a small Buffer is often a
// slice of a shared pool, and posting it would copy the whole pool.
const SOURCE = `
const { parentPort } = require('node:worker_threads');
const { gzipSync } = require('node:zlib');
parentPort.on('message', (job) => {
  try {
    const input = Buffer.from(job.data.buffer, job.data.byteOffset, job.data.byteLength);
    const outs = [];
    let at = 0;
    for (const n of job.lengths) {
      outs.push(gzipSync(input.subarray(at, at + n), { level: job.level }));
      at += n;
    }
    const data = Buffer.concat(outs);
    parentPort.postMessage({ id: job.id, data, lengths: outs.map((o) => o.length) }, [data.buffer]);
  } catch (e) {
    parentPort.postMessage({ id: job.id, error: String((e && e.message) || e) });
  }
});
`;

/** Uncompressed bytes per batch: large enough that a message costs nothing beside its gzip. */
const BATCH_BYTES = 1 << 20;
const BATCH_MEMBERS = 4096;

interface Batch {
  members: Buffer[];
  starts: (((offset: number) => void) | undefined)[];
  bytes: number;
}

/** Members in, gzip members out in the same order; `position` is how many bytes have gone out. */
export class GzipMembers {
  position = 0;
  /** Uncompressed bytes added and not yet written out. */
  backlog = 0;
  private readonly workers: Worker[];
  private open: Batch = { members: [], starts: [], bytes: 0 };
  private readonly sent = new Map<number, Batch>();
  private readonly done = new Map<number, { data: Buffer; lengths: number[] }>();
  private nextId = 0;
  private nextOut = 0;
  private failure?: Error;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly out: (b: Buffer) => void,
    private readonly o: { level: number; threads: number },
  ) {
    this.workers = Array.from({ length: Math.max(1, o.threads) }, () => {
      const w = new Worker(SOURCE, { eval: true });
      w.on('message', (m: { id: number; data?: Uint8Array; lengths?: number[]; error?: string }) =>
        m.error ? this.fail(new Error(`gzip: ${m.error}`)) : this.finished(m.id, Buffer.from(m.data!.buffer, m.data!.byteOffset, m.data!.byteLength), m.lengths!),
      );
      w.on('error', (e) => this.fail(e));
      return w;
    });
  }

  /** Queue a member; `onStart` hears the offset it starts at once that is known. */
  add(member: Buffer, onStart?: (offset: number) => void): void {
    if (this.failure) throw this.failure;
    const b = this.open;
    b.members.push(member);
    b.starts.push(onStart);
    b.bytes += member.length;
    this.backlog += member.length;
    if (b.bytes >= BATCH_BYTES || b.members.length >= BATCH_MEMBERS) this.send();
  }

  private send(): void {
    const b = this.open;
    if (b.members.length === 0) return;
    this.open = { members: [], starts: [], bytes: 0 };
    const id = this.nextId++;
    this.sent.set(id, b);
    const data = Buffer.allocUnsafeSlow(b.bytes);
    let at = 0;
    for (const m of b.members) at += m.copy(data, at);
    const job = { id, data, lengths: b.members.map((m) => m.length), level: this.o.level };
    this.workers[id % this.workers.length]!.postMessage(job, [data.buffer]);
    b.members = [];
  }

  private finished(id: number, data: Buffer, lengths: number[]): void {
    this.done.set(id, { data, lengths });
    for (let r; (r = this.done.get(this.nextOut)); this.nextOut++) {
      const b = this.sent.get(this.nextOut)!;
      this.done.delete(this.nextOut);
      this.sent.delete(this.nextOut);
      let at = 0;
      r.lengths.forEach((n, i) => {
        b.starts[i]?.(this.position + at);
        at += n;
      });
      this.position += r.data.length;
      this.out(r.data);
      this.backlog -= b.bytes;
    }
    this.wake();
  }

  private fail(e: Error): void {
    this.failure ??= e;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  /** Resolves once the backlog is under `limit` bytes (rejects when a thread failed). */
  async drained(limit: number): Promise<void> {
    if (this.backlog >= limit) this.send();
    while (!this.failure && this.backlog >= limit) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure) throw this.failure;
  }

  /** Every member added so far written out. */
  flush(): Promise<void> {
    this.send();
    return this.drained(1);
  }

  close(): void {
    for (const w of this.workers) void w.terminate();
  }
}
