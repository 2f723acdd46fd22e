import { createHash } from 'node:crypto';
import { estargzTocOffset, parseEstargzToc, parseZstdChunkedToc, tocPositionOf, type LayerToc } from '../layer/toc-reader.ts';
import { MegapakError } from '../util/errors.ts';
import type { ImageSource, SourceLayer } from './image-source.ts';

/** The tables of contents of an image's zstd:chunked and eStargz layers, by layer digest (each read with one range request, its digest checked). */
export async function tocsOf(src: ImageSource): Promise<Map<string, LayerToc>> {
  const out = new Map<string, LayerToc>();
  for (const l of src.layers) {
    const pos = tocPositionOf(l.annotations);
    if (!pos || !src.range) continue;
    const what = `${src.what} layer ${l.digest}`;
    const mismatch = (actual: string) => new MegapakError(`${what}: its table of contents has digest ${actual}, but its annotation says ${pos.digest}`);
    if (pos.format === 'zstd:chunked') {
      const bytes = await src.range(l, pos.offset, pos.length);
      const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      if (actual !== pos.digest) throw mismatch(actual);
      out.set(l.digest, parseZstdChunkedToc(bytes, what));
    } else {
      // As podman reads it: the footer, then the TOC member between its offset and the footer.
      const offset = estargzTocOffset(await src.range(l, l.size - pos.footer, pos.footer), what);
      const { toc, jsonDigest } = parseEstargzToc(await src.range(l, offset, l.size - pos.footer - offset), offset, what);
      if (jsonDigest !== pos.digest) throw mismatch(jsonDigest);
      out.set(l.digest, toc);
    }
  }
  return out;
}

/**
 * Pure: what a client with partial pulls (podman, CRI-O) fetches of NEW's layer `l` when it
 * holds OLD: nothing for a blob OLD has; the whole blob for one without a table of contents;
 * else the TOC, and the compressed bytes of each chunk whose file OLD lacks (by the file's
 * digest) and which OLD lacks itself (by the chunk's digest), zero runs excepted: containers/
 * storage's rules (pkg/chunked, storage_linux.go). OLD's files are those in OLD's TOCs.
 */
export function partialBytes(l: SourceLayer, toc: LayerToc | undefined, held: { blobs: Set<string>; files: Set<string>; chunks: Set<string> }): number {
  if (held.blobs.has(l.digest) || held.blobs.has(l.diffId)) return 0;
  if (!toc) return l.size;
  let n = toc.tocBytes;
  for (const f of toc.files) {
    if (held.files.has(f.digest)) continue;
    for (const c of f.chunks) if (!c.zeros && !(f.chunks.length > 1 && held.chunks.has(c.digest))) n += c.end - c.offset;
  }
  return n;
}

/** What OLD holds, as a partial pull looks things up. */
export function heldBy(old: ImageSource, tocs: Map<string, LayerToc>): { blobs: Set<string>; files: Set<string>; chunks: Set<string> } {
  const files = new Set<string>();
  const chunks = new Set<string>();
  for (const t of tocs.values())
    for (const f of t.files) {
      files.add(f.digest);
      if (f.chunks.length > 1) for (const c of f.chunks) chunks.add(c.digest);
    }
  return { blobs: new Set(old.layers.flatMap((l) => [l.digest, l.diffId])), files, chunks };
}
