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
  finish(): { annotations: Record<string, string>; diff?: { diffId: string; diffSize: number } };
}

export const TOC_ENCODERS: Record<TocFormat, (out: (b: Buffer) => void) => TocEncoder> = {
  'zstd:chunked': (out) => new ZstdChunkedEncoder(out),
  estargz: (out) => new EstargzEncoder(out),
};
