import { z } from 'zod';
import { decompress } from 'zstd-napi';
import { MegapakError } from '../util/errors.ts';
import { ZSTD_CHUNKED_TOC_DIGEST, ZSTD_CHUNKED_TOC_POSITION } from './zstd-chunked.ts';

/** One chunk of a file in a layer's table of contents: where its compressed bytes are in the blob. */
export interface TocChunk {
  /** sha256 of the chunk's uncompressed bytes (of the whole file when it is one chunk). */
  digest: string;
  offset: number;
  end: number;
  /** A run of zeros: a puller makes it without fetching. */
  zeros: boolean;
}

/** A regular file with content, as a partial pull sees it. */
export interface TocFile {
  name: string;
  digest: string;
  chunks: TocChunk[];
}

/** A blob's table of contents: where it is in the blob, and the files. */
export interface LayerToc {
  tocBytes: number;
  files: TocFile[];
}

export type TocKind = 'zstd:chunked' | 'estargz';

/** Where a blob's TOC is, from its layer descriptor's annotations; undefined for a blob without one. */
export function tocPositionOf(annotations: Record<string, string> | undefined): { format: TocKind; offset: number; length: number; digest: string } | undefined {
  const pos = annotations?.[ZSTD_CHUNKED_TOC_POSITION] ?? annotations?.['io.containers.zstd-chunked.manifest-position'];
  const digest = annotations?.[ZSTD_CHUNKED_TOC_DIGEST] ?? annotations?.['io.containers.zstd-chunked.manifest-checksum'];
  if (!pos || !digest) return undefined;
  const [offset, length] = pos.split(':').map(Number);
  return { format: 'zstd:chunked', offset: offset!, length: length!, digest };
}

/** A TOC's files, whichever format wrote it. */
export function parseTocOf(format: TocKind, bytes: Buffer, what: string): LayerToc {
  return parseZstdChunkedToc(bytes, what);
}

const entrySchema = z
  .object({
    type: z.string(),
    name: z.string(),
    size: z.number().optional(),
    digest: z.string().optional(),
    offset: z.number().optional(),
    endOffset: z.number().optional(),
    chunkDigest: z.string().optional(),
    chunkType: z.string().optional(),
  })
  .passthrough();
const tocSchema = z.object({ entries: z.array(entrySchema) }).passthrough();

/**
 * The files of a zstd:chunked TOC (`compressed`: the bytes at its position), chunk ends
 * worked out as containers/storage does: a chunk ends where the next begins, the last at its
 * file's endOffset.
 */
export function parseZstdChunkedToc(compressed: Buffer, what: string): LayerToc {
  let json: unknown;
  try {
    json = JSON.parse(decompress(compressed).toString('utf8'));
  } catch (err) {
    throw new MegapakError(`${what}: the zstd:chunked table of contents does not decode: ${(err as Error).message}`);
  }
  const files: TocFile[] = [];
  for (const e of tocSchema.parse(json).entries) {
    if (e.type === 'reg' && e.size && e.digest)
      files.push({ name: e.name, digest: e.digest, chunks: [{ digest: e.chunkDigest ?? e.digest, offset: e.offset!, end: e.endOffset!, zeros: e.chunkType === 'zeros' }] });
    else if (e.type === 'chunk') {
      const f = files.at(-1)!;
      f.chunks.push({ digest: e.chunkDigest!, offset: e.offset!, end: 0, zeros: e.chunkType === 'zeros' });
    }
  }
  for (const f of files) {
    const fileEnd = f.chunks[0]!.end;
    for (let i = 0; i < f.chunks.length; i++) f.chunks[i]!.end = f.chunks[i + 1]?.offset ?? fileEnd;
  }
  return { tocBytes: compressed.length, files };
}
