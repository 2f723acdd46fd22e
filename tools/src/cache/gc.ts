import { existsSync } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BlobStore } from '../layer/blob-store.ts';
import type { GcPlan } from './gc-plan.ts';
import type { IndexFile } from './scan.ts';

export interface GcResult {
  removed: number;
  removedBytes: number;
  /** Blobs a build used between the plan and their removal: put back. */
  reprieved: string[];
  tempsRemoved: number;
  indexRemoved: number;
  /** Check records (`checks/`) of files that are gone: removed blobs, layout copies deleted since. */
  checksRemoved: number;
}

/**
 * Carry out a plan without racing a build: each victim is first renamed aside (atomic; a
 * build that looks for it from then on misses and makes it again), then checked once more.
 * If a build touched it since the scan (a cache hit marks the blob used), it goes back.
 */
export async function applyGc(root: string, plan: GcPlan, index: IndexFile[], minAgeMs: number): Promise<GcResult> {
  const result: GcResult = { removed: 0, removedBytes: 0, reprieved: [], tempsRemoved: 0, indexRemoved: 0, checksRemoved: 0 };
  const { checks } = new BlobStore(root);
  for (const b of plan.blobs) {
    if (!b.remove) continue;
    const aside = join(dirname(b.path), `.gc-${basename(b.path)}-${process.pid}`);
    try {
      await rename(b.path, aside);
    } catch {
      continue; // already gone
    }
    const st = await stat(aside);
    if (st.mtimeMs !== b.mtimeMs || Date.now() - st.mtimeMs < minAgeMs) {
      // A build made the same blob again meanwhile (same content): either copy will do.
      if (existsSync(b.path)) await rm(aside, { force: true });
      else await rename(aside, b.path);
      result.reprieved.push(b.digest);
      continue;
    }
    await rm(aside, { force: true });
    await checks.forget(b.path);
    result.removed++;
    result.removedBytes += b.size;
  }
  for (const t of plan.temps) {
    if (!t.remove) continue;
    const st = await stat(t.path).catch(() => undefined);
    if (!st || st.mtimeMs !== t.mtimeMs) continue; // finished, or still being written
    await rm(t.path, { force: true });
    result.tempsRemoved++;
  }
  // Index entries whose blob is gone would only be misses; drop them.
  for (const e of index) {
    if (e.digest && existsSync(join(root, 'blobs', 'sha256', e.digest.replace(/^sha256:/, '')))) continue;
    await rm(e.path, { force: true });
    result.indexRemoved++;
  }
  result.checksRemoved = await checks.prune(
    minAgeMs,
    plan.blobs.map((b) => b.path),
  );
  return result;
}
