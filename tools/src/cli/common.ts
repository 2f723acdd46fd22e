import { BlobStore } from '../layer/blob-store.ts';
import { COMPRESSIONS, type Compression } from '../model/compression.ts';
import { recordBlobs, type ImageSpec, type LayerRecord } from '../model/vocabulary.ts';
import { buildAllLayers, assembleImage, type StackBuildResult } from '../pipeline/build-stack.ts';
import type { LayerBuildOptions } from '../pipeline/build-layer.ts';
import { readRecord, requireRecords } from '../pipeline/layer-record.ts';
import { buildReport, type Report } from '../report/report.ts';
import { loadStack, type Stack } from '../stack/stack.ts';
import { progressFor, type Progress } from '../util/progress.ts';
import { REPO_ROOT } from '../util/repo-root.ts';
import { cacheDir, gzipWorkersFrom } from './settings.ts';

export interface Env {
  stack: Stack;
  blobs: BlobStore;
  progress: Progress;
  /** gzip threads. */
  workers: number;
}

export async function setup(stackDir: string | undefined, gzipWorkers?: string): Promise<Env> {
  return { stack: await loadStack(stackDir ?? REPO_ROOT), blobs: new BlobStore(cacheDir()), progress: progressFor(), workers: gzipWorkersFrom(gzipWorkers) };
}

/** Every layer's dist/layer.json (read at this edge), or one line saying which layer to build first. */
export const allRecords = (stack: Stack, what: string): Promise<LayerRecord[]> => requireRecords(stack.layers, what);

/**
 * The layers' records as built; when any layer has no dist/layer.json yet, or one made with
 * another compression, every layer is built (or re-checked) first, since a missing lower
 * layer changes the deltas above it.
 */
export async function builtRecords(stack: Stack, opts: LayerBuildOptions): Promise<Pick<StackBuildResult, 'records' | 'config'>> {
  const stale = [];
  const records: LayerRecord[] = [];
  for (const l of stack.layers) {
    const r = await readRecord(l);
    if (!r || r.compression !== opts.compression) stale.push(l.name);
    else records.push(r);
  }
  if (!stale.length) return { records };
  opts.progress.log(`not built (with ${opts.compression}) yet: ${stale.join(', ')}; building the stack first`);
  return buildAllLayers(stack, opts);
}

/** The image spec as built, with every blob in the blob store. */
export async function builtImage(stack: Stack, opts: LayerBuildOptions): Promise<ImageSpec> {
  const { records, config } = await builtRecords(stack, opts);
  return assembleImage(stack, records, opts, config);
}

export async function reportFor(records: LayerRecord[], blobs: BlobStore, top: number): Promise<Report> {
  const sizes = new Map<string, Record<Compression, number | null>>();
  for (const r of records) {
    const s = { none: null, gzip: null, zstd: null } as Record<Compression, number | null>;
    // A split layer's size is its parts' total, known only when every part was made with that compression.
    if (!r.empty)
      for (const c of COMPRESSIONS) {
        let total: number | null = 0;
        for (const b of recordBlobs(r)) {
          const size = (await blobs.peek(b.contentKey, c))?.size;
          total = size === undefined || total === null ? null : total + size;
        }
        s[c] = total;
      }
    sizes.set(r.name, s);
  }
  return buildReport(records, (r) => sizes.get(r.name)!, top);
}
