import { createHash } from 'node:crypto';
import { z } from 'zod';
import { gunzipSync } from 'node:zlib';
import { decompress } from 'zstd-napi';
import { ESTARGZ_FOOTER_SIZE, ESTARGZ_TOC_DIGEST, ESTARGZ_TOC_NAME, parseEstargzFooter } from './estargz.ts';
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

/** A blob's TOC: where it is (eStargz: read the footer, the last `footer` bytes, first) and the digest its annotation gives. */
export type TocPosition = { format: 'zstd:chunked'; offset: number; length: number; digest: string } | { format: 'estargz'; footer: number; digest: string };

/** Where a blob's TOC is, from its layer descriptor's annotations; undefined for a blob without one. */
export function tocPositionOf(annotations: Record<string, string> | undefined): TocPosition | undefined {
  const estargz = annotations?.[ESTARGZ_TOC_DIGEST];
  if (estargz) return { format: 'estargz', footer: ESTARGZ_FOOTER_SIZE, digest: estargz };
  const pos = annotations?.[ZSTD_CHUNKED_TOC_POSITION] ?? annotations?.['io.containers.zstd-chunked.manifest-position'];
  const digest = annotations?.[ZSTD_CHUNKED_TOC_DIGEST] ?? annotations?.['io.containers.zstd-chunked.manifest-checksum'];
  if (!pos || !digest) return undefined;
  const [offset, length] = pos.split(':').map(Number);
  return { format: 'zstd:chunked', offset: offset!, length: length!, digest };
}

/** Where an eStargz blob's TOC member starts, from its footer. */
export function estargzTocOffset(footer: Buffer, what: string): number {
  try {
    return parseEstargzFooter(footer);
  } catch {
    throw new MegapakError(`${what}: the last ${ESTARGZ_FOOTER_SIZE} bytes are not an eStargz footer`);
  }
}

const estargzEntry = z
  .object({
    name: z.string(),
    type: z.string(),
    size: z.number().optional(),
    offset: z.number().optional(),
    digest: z.string().optional(),
    chunkDigest: z.string().optional(),
  })
  .passthrough();

/**
 * The files of an eStargz TOC (`member`: the gzip member from the TOC's offset to the footer;
 * `tocOffset`: where it starts), and the digest of its JSON, which the toc.digest annotation
 * names. A chunk ends where the next file content starts, the last one at the TOC.
 */
export function parseEstargzToc(member: Buffer, tocOffset: number, what: string): { toc: LayerToc; jsonDigest: string } {
  let tar: Buffer;
  try {
    tar = gunzipSync(member);
  } catch (err) {
    throw new MegapakError(`${what}: the eStargz TOC does not gunzip: ${(err as Error).message}`);
  }
  const name = tar.toString('utf8', 0, 100).replace(/\0.*$/s, '');
  const size = parseInt(tar.toString('ascii', 124, 136).replace(/\0.*$/s, '').trim() || '0', 8);
  if (name !== ESTARGZ_TOC_NAME) throw new MegapakError(`${what}: the eStargz TOC member holds '${name}', not ${ESTARGZ_TOC_NAME}`);
  const json = tar.subarray(512, 512 + size);
  const entries = z
    .object({ entries: z.array(estargzEntry) })
    .passthrough()
    .parse(JSON.parse(json.toString('utf8'))).entries;
  const files: TocFile[] = [];
  const starts: TocChunk[] = [];
  for (const e of entries) {
    if (e.type === 'reg' && e.size && e.digest) {
      const c = { digest: e.chunkDigest ?? e.digest, offset: e.offset!, end: 0, zeros: false };
      files.push({ name: e.name, digest: e.digest, chunks: [c] });
      starts.push(c);
    } else if (e.type === 'chunk') {
      const c = { digest: e.chunkDigest!, offset: e.offset!, end: 0, zeros: false };
      files.at(-1)!.chunks.push(c);
      starts.push(c);
    }
  }
  starts.forEach((c, i) => (c.end = starts[i + 1]?.offset ?? tocOffset));
  return { toc: { tocBytes: member.length + ESTARGZ_FOOTER_SIZE, files }, jsonDigest: `sha256:${createHash('sha256').update(json).digest('hex')}` };
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
