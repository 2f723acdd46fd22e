import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildLayerRoots, buildStackRoots, evalImageConfig, evalStack, type RootMeta } from '../nix/nix.ts';
import { queryClosureRemembered } from '../nix/closure-memo.ts';
import { closureOf } from '../plan/closure.ts';
import { layerCountWarning } from '../plan/warnings.ts';
import { blobLabel, imageLayersOf, recordBlobs, type BlobLayerRecord, type ImageSpec, type LayerRecord, type RecordBlob } from '../model/vocabulary.ts';
import type { Stack } from '../stack/stack.ts';
import { MegapakError } from '../util/errors.ts';
import type { Progress } from '../util/progress.ts';
import { buildLayer, type LayerBuildOptions, type ResolvedLayer } from './build-layer.ts';
import { ensureBlob, type BlobMakingOptions } from './ensure-blob.ts';
import { checkConfigPaths, mergeConfig } from './image-config.ts';
import { planSummaryLine } from './plan-stack.ts';

export interface StackBuildResult {
  records: LayerRecord[];
  /** nix/config.nix as evaluated with the layers (undefined: not evaluated yet; null: the stack has none). */
  config?: Record<string, unknown> | null;
  /** The layers' roots' nixpkgs meta from the same evaluation (undefined: not evaluated). */
  meta?: RootMeta[][];
  /** Names of the layers whose tar was streamed (not answered by the blob store). */
  streamed: string[];
}

/**
 * Every layer's roots, built, and their closures from one evaluation, at most one nix-build
 * (only when a root is missing) and one path-info query for the whole stack (remembered for the
 * same roots: nix/closure-memo.ts). Null when any of
 * that fails: the layers are then built one by one, and the first that fails says which and why.
 */
async function resolveStack(
  stack: Stack,
  pending: Stack['layers'],
  progress: Progress,
  cacheDir: string,
): Promise<{ layers: ResolvedLayer[]; config: Record<string, unknown> | null; meta: RootMeta[][]; remember: () => Promise<void> } | null> {
  try {
    progress.step('stack', "evaluating every layer's roots");
    const { roots, config, meta } = await evalStack(stack.dir, pending);
    if (roots.flat().some((p) => !existsSync(p))) {
      // Only here, so a no-change build pays nothing for it.
      progress.log(await planSummaryLine(stack, pending).catch((e: Error) => `plan: ${e.message}`));
      progress.step('stack', "building every layer's roots");
      await buildStackRoots(stack.dir, pending);
    }
    const { closure: all, remember } = await queryClosureRemembered([...new Set(roots.flat())], 'stack', cacheDir, stack.dir);
    const byPath = new Map(all.map((p) => [p.path, p]));
    const referencesOf = (p: string) => {
      const info = byPath.get(p);
      if (!info) throw new MegapakError(`stack: nix path-info did not list ${p}`);
      return info.references;
    };
    // Each layer's closure in queryClosure's order (that of `all`).
    const layers = roots.map((r) => {
      const closure = closureOf(r, referencesOf);
      return { roots: r, closure: all.filter((p) => closure.has(p.path)) };
    });
    return { layers, config, meta, remember };
  } catch {
    return null;
  }
}

/**
 * Build every layer of the stack in order, each on the records of the ones below (what
 * `megapak build` does without Turborepo). `keep`: records of the lowest layers known to be
 * fresh (pipeline/stale-records.ts), used as they are: only the layers above them are built.
 */
export async function buildAllLayers(stack: Stack, opts: LayerBuildOptions, keep: LayerRecord[] = []): Promise<StackBuildResult> {
  const records: LayerRecord[] = [...keep];
  const streamed: string[] = [];
  const pending = stack.layers.slice(keep.length);
  const resolved = await resolveStack(stack, pending, opts.progress, opts.blobs.root);
  for (const [i, layer] of pending.entries()) {
    const r = await buildLayer(stack, layer, records, opts, resolved?.layers[i]);
    records.push(r.record);
    if (r.streamed) streamed.push(layer.name);
  }
  await resolved?.remember();
  // Counted after the build: a split layer is several OCI layers.
  for (const w of layerCountWarning(records.reduce((n, r) => n + recordBlobs(r).length, 0))) opts.progress.log(`warning: ${w}`);
  // With `keep`, the evaluation covered only the layers above: their meta is not the stack's.
  return { records, streamed, config: resolved?.config, meta: keep.length ? undefined : resolved?.meta };
}

/**
 * Make one blob of a record (the whole layer's, or one part's) again unless the blob store has
 * it (a record restored from a remote cache, say): its store paths are realised when absent
 * (binary caches, else the layer's roots built here) and the blob is checked against the
 * recorded digest. A blob present but damaged is evicted and made again. Returns the blob's file.
 */
export async function ensureRecordPart(stack: Stack, r: BlobLayerRecord, b: RecordBlob, opts: BlobMakingOptions & { rehash?: boolean }): Promise<string> {
  // The blob store's hand-out check (a full re-hash with `rehash`: a registry said the bytes are wrong).
  if (!(await opts.blobs.intact(b.digest, b.size, opts.rehash))) {
    const layer = stack.layers.find((l) => l.name === r.name);
    const paths = b.part ? r.paths.filter((p) => b.part!.paths.includes(p.path)) : r.paths;
    await ensureBlob(
      {
        what: blobLabel(r.name, b.part),
        storeDir: r.storeDir,
        paths,
        contentKey: b.contentKey,
        compression: r.compression,
        ...(b.part ? { range: { start: b.part.start, end: b.part.end } } : {}),
      },
      { ...opts, expectedDigest: b.digest, buildRoots: layer && (() => buildLayerRoots(stack.dir, layer.layerFile, layer.name)) },
    );
  }
  return opts.blobs.blobPath(b.digest);
}

/**
 * The image spec from the layers' records (in layer order), without touching any blob;
 * nix/config.nix, when the stack has one, is merged into the config (`config`: already
 * evaluated with the layers; null: the stack has none; undefined: evaluate it here).
 */
export async function imageSpecOf(stack: Stack, records: LayerRecord[], config?: Record<string, unknown> | null): Promise<ImageSpec> {
  let meta = stack.meta;
  if (config !== null && existsSync(join(stack.dir, 'nix', 'config.nix'))) {
    meta = mergeConfig(stack.meta, config ?? (await evalImageConfig(stack.dir)));
    const shipped = new Set(records.flatMap((r) => r.paths.map((p) => p.path)));
    checkConfigPaths(meta.config ?? {}, records[0]?.storeDir ?? '/nix/store', shipped);
  }
  return { meta, layers: records.flatMap(imageLayersOf) };
}

/** The image spec with every blob (every part of a split layer) in the blob store (made again where missing; see ensureRecordPart). */
export async function assembleImage(stack: Stack, records: LayerRecord[], opts: BlobMakingOptions, config?: Record<string, unknown> | null): Promise<ImageSpec> {
  for (const r of records) if (!r.empty) for (const b of recordBlobs(r)) await ensureRecordPart(stack, r, b, opts);
  return imageSpecOf(stack, records, config);
}
