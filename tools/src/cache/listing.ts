import type { BlobReference } from './references.ts';
import type { CacheScan } from './scan.ts';

export interface ListedBlob {
  digest: string;
  size: number;
  lastUsed: string;
  compression: string | null;
  referencedBy: BlobReference[];
}

export interface CacheListing {
  root: string;
  blobs: ListedBlob[];
  temps: { path: string; size: number; lastWritten: string }[];
  total: { blobs: number; bytes: number; referencedBlobs: number; referencedBytes: number; tempBytes: number };
}

/** The store's blobs, most recently used first, each with the layer records that point at it. */
export function listCache(scan: CacheScan, refs: Map<string, BlobReference[]>): CacheListing {
  const compressionOf = new Map(scan.index.filter((e) => e.digest).map((e) => [e.digest!, e.compression ?? null]));
  const blobs = [...scan.blobs]
    .sort((a, b) => b.mtimeMs - a.mtimeMs || a.digest.localeCompare(b.digest))
    .map((b) => {
      const referencedBy = refs.get(b.digest) ?? [];
      return {
        digest: b.digest,
        size: b.size,
        lastUsed: new Date(b.mtimeMs).toISOString(),
        compression: referencedBy[0]?.compression ?? compressionOf.get(b.digest) ?? null,
        referencedBy,
      };
    });
  const referenced = blobs.filter((b) => b.referencedBy.length);
  return {
    root: scan.root,
    blobs,
    temps: scan.temps.map((t) => ({ path: t.path, size: t.size, lastWritten: new Date(t.mtimeMs).toISOString() })),
    total: {
      blobs: blobs.length,
      bytes: blobs.reduce((s, b) => s + b.size, 0),
      referencedBlobs: referenced.length,
      referencedBytes: referenced.reduce((s, b) => s + b.size, 0),
      tempBytes: scan.temps.reduce((s, t) => s + t.size, 0),
    },
  };
}

/** The store's size in one line's worth of numbers (for `megapak report`). */
export function cacheTotal(scan: CacheScan): { dir: string; blobs: number; bytes: number } {
  return { dir: scan.root, blobs: scan.blobs.length, bytes: scan.blobs.reduce((s, b) => s + b.size, 0) };
}
