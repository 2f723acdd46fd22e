import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** Where streamed bytes go (a hash + compressor, an archive, a pipe); awaiting `write` is backpressure. */
export interface ByteSink {
  write(chunk: Buffer): Promise<void>;
}

/**
 * Write with backpressure: wait for 'drain' when the stream's buffer is full. A stream that
 * closes instead (a program that exited: EPIPE) fails the write rather than waiting forever.
 */
export async function writeTo(w: Writable, chunk: Buffer): Promise<void> {
  if (w.destroyed) throw w.errored ?? new Error('write to a closed stream');
  if (w.write(chunk)) return;
  const ac = new AbortController();
  const closed = once(w, 'close', { signal: ac.signal }).then(() => {
    throw w.errored ?? new Error('the stream closed before it drained');
  });
  try {
    await Promise.race([once(w, 'drain', { signal: ac.signal }), closed]);
  } finally {
    ac.abort();
  }
}

/** A ByteSink over a Node writable stream. */
export const sinkOf = (w: Writable): ByteSink => ({ write: (chunk) => writeTo(w, chunk) });
