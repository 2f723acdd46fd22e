// The worker thread of layer/toc-writer.ts: the whole TOC encoding (cutting the tar at its
// entries, content-defined chunking, per-chunk digests, CRC-64, zstd or gzip) runs here, so it
// gets a core of its own while the main thread walks the store and writes the tar. Its own
// entry point (bundled to dist/toc-worker.mjs), not a string evaluated as the small workers
// are: it needs the encoders' modules and zstd-napi.
import { parentPort, workerData } from 'node:worker_threads';
import type { TocFormat } from '../model/compression.ts';
import { TarEntryStream } from './tar-entry-stream.ts';
import { TOC_ENCODERS } from './toc-encoders.ts';

export type ToWorker = { op: 'data'; buf: Uint8Array } | { op: 'end' };
export type FromWorker =
  | { op: 'out'; buf: Uint8Array }
  | { op: 'ack'; n: number }
  | { op: 'done'; annotations: Record<string, string>; diff?: { diffId: string; diffSize: number } }
  | { op: 'error'; message: string };

/** Many small frames leave as few large messages. */
const BATCH = 1 << 20;

const port = parentPort!;
let parts: Buffer[] = [];
let bytes = 0;
function release(all: boolean): void {
  if (bytes === 0 || (!all && bytes < BATCH)) return;
  // Its own memory (never a pooled slice), so it can be handed over instead of copied.
  const buf = Buffer.allocUnsafeSlow(bytes);
  let at = 0;
  for (const p of parts) at += p.copy(buf, at);
  parts = [];
  bytes = 0;
  port.postMessage({ op: 'out', buf } satisfies FromWorker, [buf.buffer]);
}

const { format, threads } = workerData as { format: TocFormat; threads: number };
const encoder = TOC_ENCODERS[format](
  (b) => {
    parts.push(b);
    bytes += b.length;
    release(false);
  },
  { threads },
);
const tar = new TarEntryStream(encoder);

/** Tar bytes waiting in an encoder's own compression threads, at most, before input is acknowledged. */
const BACKLOG = 16 << 20;

port.on('message', async (m: ToWorker) => {
  try {
    // The tar is read here in the order messages come; only the acknowledgement may wait.
    if (m.op === 'data') {
      tar.write(m.buf);
      release(false);
      await encoder.drained?.(BACKLOG);
      port.postMessage({ op: 'ack', n: m.buf.length } satisfies FromWorker);
    } else {
      tar.end();
      const { annotations, diff } = await encoder.finish();
      release(true);
      port.postMessage({ op: 'done', annotations, ...(diff ? { diff } : {}) } satisfies FromWorker);
      port.close();
    }
  } catch (err) {
    port.postMessage({ op: 'error', message: (err as Error).message ?? String(err) } satisfies FromWorker);
    port.close();
  }
});
