import { BlobStore } from '../layer/blob-store.ts';
import { COMPRESSIONS, type Compression } from '../model/compression.ts';
import { recordBlobs, type ImageSpec, type LayerRecord } from '../model/vocabulary.ts';
import { buildAllLayers, assembleImage, type StackBuildResult } from '../pipeline/build-stack.ts';
import type { LayerBuildOptions } from '../pipeline/build-layer.ts';
import { requireRecords } from '../pipeline/layer-record.ts';
import { checkRecords, staleLine } from '../pipeline/stale-records.ts';
import { MegapakError } from '../util/errors.ts';
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
  const progress = progressFor();
  return { stack: await loadStack(stackDir ?? REPO_ROOT), blobs: new BlobStore(cacheDir(), (l) => progress.log(l)), progress, workers: gzipWorkersFrom(gzipWorkers) };
}

/** Every layer's dist/layer.json (read at this edge), or one line saying which layer to build first. */
export const allRecords = (stack: Stack, what: string): Promise<LayerRecord[]> => requireRecords(stack.layers, what);

/** `noBuild`: stop at stale records; `anyCompression`: records of any compression are fresh (`compression` is then only for rebuilding). */
type BuiltOptions = LayerBuildOptions & { noBuild?: boolean; anyCompression?: boolean };

/**
 * The layers' records, checked against the current sources first (one evaluation of the
 * stack; pipeline/stale-records.ts). Stale or missing ones are rebuilt, from the first stale
 * layer up, the ones below used as they are; with `noBuild`, one line names them instead.
 */
export async function builtRecords(stack: Stack, opts: BuiltOptions): Promise<Pick<StackBuildResult, 'records' | 'config' | 'meta'>> {
  const check = await checkRecords(stack, opts.anyCompression ? undefined : opts.compression);
  if (!check.stale.length) return { records: check.fresh, config: check.config, meta: check.meta };
  if (opts.noBuild) throw new MegapakError(`stale layer records (--no-build): ${staleLine(check.stale)}; run megapak build, or leave out --no-build`);
  opts.progress.log(`stale: ${staleLine(check.stale)}; building from ${stack.layers[check.fresh.length]!.name} up (the layers above re-check their delta)`);
  return { ...(await buildAllLayers(stack, opts, check.fresh)), meta: check.meta };
}

/** The image spec as built, with every blob in the blob store. */
export async function builtImage(stack: Stack, opts: BuiltOptions): Promise<ImageSpec> {
  const { records, config } = await builtRecords(stack, opts);
  return assembleImage(stack, records, opts, config);
}

export async function reportFor(records: LayerRecord[], blobs: BlobStore, top: number): Promise<Report> {
  const sizes = new Map<string, Record<Compression, number | null>>();
  for (const r of records) {
    const s = Object.fromEntries(COMPRESSIONS.map((c) => [c, null])) as Record<Compression, number | null>;
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
