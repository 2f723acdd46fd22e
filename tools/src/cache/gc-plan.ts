import type { StoredBlob, StoredFile } from './scan.ts';

export interface GcPolicy {
  /** Unreferenced blobs kept anyway, most recently used first (0: remove every one old enough). */
  keepLast: number;
  /** Nothing written or used more recently than this is removed: a build in progress may be about to record it. */
  minAgeMs: number;
  now: number;
}

export type KeepReason = 'referenced' | 'kept-last' | 'recent';
export type BlobDecision = StoredBlob & ({ remove: false; reason: KeepReason } | { remove: true });
export type TempDecision = StoredFile & { remove: boolean };

export interface GcPlan {
  blobs: BlobDecision[];
  temps: TempDecision[];
}

/**
 * Which blobs go: those no layer record refers to, beyond the `keepLast` most recently used,
 * and not used within `minAgeMs`. Temp files go only when nothing wrote to them within
 * `minAgeMs` (a blob being streamed is written to continuously).
 */
export function planGc(blobs: StoredBlob[], temps: StoredFile[], referenced: Set<string>, policy: GcPolicy): GcPlan {
  const recent = (f: StoredFile) => policy.now - f.mtimeMs < policy.minAgeMs;
  const unreferenced = blobs.filter((b) => !referenced.has(b.digest)).sort((a, b) => b.mtimeMs - a.mtimeMs || a.digest.localeCompare(b.digest));
  const decided = new Map<string, BlobDecision>();
  unreferenced.forEach((b, i) => {
    if (i < policy.keepLast) decided.set(b.digest, { ...b, remove: false, reason: 'kept-last' });
    else if (recent(b)) decided.set(b.digest, { ...b, remove: false, reason: 'recent' });
    else decided.set(b.digest, { ...b, remove: true });
  });
  return {
    blobs: blobs.map((b) => decided.get(b.digest) ?? { ...b, remove: false, reason: 'referenced' }),
    temps: temps.map((t) => ({ ...t, remove: !recent(t) })),
  };
}
