import type { TocFormat } from '../model/compression.ts';
import { EstargzEncoder } from './estargz.ts';
import type { TarEvents } from './tar-entry-stream.ts';
import { ZstdChunkedEncoder } from './zstd-chunked.ts';

/**
 * An encoder of a format with a table of contents: fed a tar's events, it writes the blob;
 * `finish` gives the layer's annotations and, when the blob decompresses to more than the tar
 * (eStargz adds its TOC as a tar entry), the digest and size of what it decompresses to.
 */
export interface TocEncoder extends TarEvents {
  /** After the tar's last byte: the rest of the blob, once every piece is out. */
  finish(): Promise<TocResult>;
  /** Resolves once at most `limit` uncompressed bytes wait for the compression threads. */
  drained(limit: number): Promise<void>;
  /** Stop the compression threads (finish does; this is for a blob abandoned half-way). */
  close(): void;
}

export interface TocResult {
  annotations: Record<string, string>;
  diff?: { diffId: string; diffSize: number };
}

/** `threads`: how many threads compress the pieces (zstd frames, gzip members). */
export const TOC_ENCODERS: Record<TocFormat, (out: (b: Buffer) => void, o: { threads: number }) => TocEncoder> = {
  'zstd:chunked': (out, o) => new ZstdChunkedEncoder(out, o),
  estargz: (out, o) => new EstargzEncoder(out, o),
};
