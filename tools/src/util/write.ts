import { once } from 'node:events';
import type { Writable } from 'node:stream';

/** Where streamed bytes go (a hash + compressor, an archive, a pipe); awaiting `write` is backpressure. */
export interface ByteSink {
  write(chunk: Buffer): Promise<void>;
}

/** Write with backpressure: wait for 'drain' when the stream's buffer is full. */
export async function writeTo(w: Writable, chunk: Buffer): Promise<void> {
  if (!w.write(chunk)) await once(w, 'drain');
}

/** A ByteSink over a Node writable stream. */
export const sinkOf = (w: Writable): ByteSink => ({ write: (chunk) => writeTo(w, chunk) });
