// SHA-256 on a worker thread. Streaming a layer keeps the main thread busy with file-system
// calls; hashing the same bytes there too (the diffID, and the blob's digest when compressed)
// made it the bottleneck, where `tar | sha256sum` hashes in a second process. Chunks are
// copied into a fixed ring of shared memory that the worker hashes from (a memcpy costs far
// less than the hash, and nothing is allocated per chunk on either side); a full ring waits.
import { Worker } from 'node:worker_threads';

const SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const ring = Buffer.from(workerData);
const hashes = new Map();
parentPort.on('message', (m) => {
  if (m.op === 'update') {
    let h = hashes.get(m.id);
    if (!h) hashes.set(m.id, (h = createHash('sha256')));
    h.update(ring.subarray(m.off, m.off + m.n));
    parentPort.postMessage({ op: 'ack', n: m.n });
  } else {
    const h = hashes.get(m.id) || createHash('sha256');
    hashes.delete(m.id);
    parentPort.postMessage({ op: 'digest', id: m.id, hex: h.digest('hex') });
  }
});
`;

const RING = 16 << 20;

/** One worker for the process, started on first use; it keeps the process alive only while it has work. */
class HashThread {
  private worker: Worker | null = null;
  private readonly ring = Buffer.from(new SharedArrayBuffer(RING));
  private head = 0;
  private inFlight = 0;
  private waiters: (() => void)[] = [];
  private digests = new Map<number, { resolve: (hex: string) => void; reject: (e: Error) => void }>();
  private nextId = 0;

  private get w(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(SOURCE, { eval: true, workerData: this.ring.buffer });
    w.unref();
    w.on('message', (m: { op: 'ack'; n: number } | { op: 'digest'; id: number; hex: string }) => {
      if (m.op === 'ack') {
        this.inFlight -= m.n;
        for (const r of this.waiters.splice(0)) r();
      } else {
        this.digests.get(m.id)?.resolve(m.hex);
        this.digests.delete(m.id);
      }
      if (this.inFlight === 0 && this.digests.size === 0) w.unref();
    });
    const fail = (e: Error) => {
      this.worker = null;
      for (const d of this.digests.values()) d.reject(e);
      this.digests.clear();
      for (const r of this.waiters.splice(0)) r();
      this.inFlight = 0;
    };
    w.on('error', fail);
    w.on('exit', (code) => fail(new Error(`the hashing thread exited with code ${code}`)));
    this.worker = w;
    return w;
  }

  newId(): number {
    return this.nextId++;
  }

  /** Resolves at once unless the ring is full. */
  async update(id: number, chunk: Buffer): Promise<void> {
    const w = this.w;
    w.ref();
    for (let off = 0; off < chunk.length;) {
      while (this.inFlight === RING) await new Promise<void>((r) => this.waiters.push(r));
      // Acks come in order, so the free space is the part after `head`, up to the unhashed tail.
      const n = Math.min(chunk.length - off, RING - this.inFlight, RING - this.head);
      chunk.copy(this.ring, this.head, off, off + n);
      w.postMessage({ op: 'update', id, off: this.head, n });
      this.head = (this.head + n) % RING;
      this.inFlight += n;
      off += n;
    }
  }

  digest(id: number): Promise<string> {
    return new Promise((resolve, reject) => {
      this.digests.set(id, { resolve, reject });
      this.w.ref();
      this.w.postMessage({ op: 'digest', id });
    });
  }
}

const thread = new HashThread();

/** A running SHA-256 whose work happens on the shared hashing thread. */
export class ThreadedSha256 {
  private readonly id = thread.newId();
  update(chunk: Buffer): Promise<void> {
    return thread.update(this.id, chunk);
  }
  /** Hex digest of everything updated so far; the hash is finished after this. */
  digest(): Promise<string> {
    return thread.digest(this.id);
  }
}
