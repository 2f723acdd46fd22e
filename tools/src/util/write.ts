import { once } from 'node:events';
import type { Writable } from 'node:stream';
import type { ByteSink } from '../layer/layer-tar.ts';

/** Write with backpressure: wait for 'drain' when the stream's buffer is full. */
export async function writeTo(w: Writable, chunk: Buffer): Promise<void> {
  if (!w.write(chunk)) await once(w, 'drain');
}

/** A ByteSink over a Node writable stream. */
export const sinkOf = (w: Writable): ByteSink => ({ write: (chunk) => writeTo(w, chunk) });
