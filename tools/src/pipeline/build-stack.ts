import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildLayerRoots, evalImageConfig } from '../nix/nix.ts';
import { layerCountWarning } from '../plan/warnings.ts';
import type { BlobStore } from '../layer/blob-store.ts';
import { imageLayerOf, type BlobLayerRecord, type ImageSpec, type LayerRecord } from '../model/vocabulary.ts';
import type { Stack } from '../stack/stack.ts';
import type { Progress } from '../util/progress.ts';
import { buildLayer, ensureBlob, type LayerBuildOptions } from './build-layer.ts';
import { checkConfigPaths, mergeConfig } from './image-config.ts';

export interface StackBuildResult {
  records: LayerRecord[];
  /** Names of the layers whose tar was streamed (not answered by the blob store). */
  streamed: string[];
}

/** Build every layer of the stack in order, each on the records of the ones below (what `megapak build` does without Turborepo). */
export async function buildAllLayers(stack: Stack, opts: LayerBuildOptions): Promise<StackBuildResult> {
  const records: LayerRecord[] = [];
  const streamed: string[] = [];
  for (const w of layerCountWarning(stack.layers.length)) opts.progress.log(`warning: ${w}`);
  for (const layer of stack.layers) {
    const r = await buildLayer(stack, layer, records, opts);
    records.push(r.record);
    if (r.streamed) streamed.push(layer.name);
  }
  return { records, streamed };
}

/**
 * Make a layer's blob again unless the blob store has it (a record restored from a remote
 * cache, say): its store paths are realised when absent (binary caches, else the layer's roots
 * built here) and the blob is checked against the recorded digest. Returns the blob's file.
 */
export async function ensureRecordBlob(stack: Stack, r: BlobLayerRecord, opts: { blobs: BlobStore; progress: Progress }): Promise<string> {
  if (!(await opts.blobs.hasBlob(r.digest, r.size))) {
    const layer = stack.layers.find((l) => l.name === r.name);
    await ensureBlob(
      { what: r.name, storeDir: r.storeDir, paths: r.paths, contentKey: r.contentKey, compression: r.compression },
      { ...opts, expectedDigest: r.digest, buildRoots: layer && (() => buildLayerRoots(stack.dir, layer.layerFile, layer.name)) },
    );
  }
  return opts.blobs.blobPath(r.digest);
}

/**
 * The image spec from the layers' records (in layer order), without touching any blob;
 * nix/config.nix, when the stack has one, is merged into the config.
 */
export async function imageSpecOf(stack: Stack, records: LayerRecord[]): Promise<ImageSpec> {
  let meta = stack.meta;
  if (existsSync(join(stack.dir, 'nix', 'config.nix'))) {
    meta = mergeConfig(stack.meta, await evalImageConfig(stack.dir));
    const shipped = new Set(records.flatMap((r) => r.paths.map((p) => p.path)));
    checkConfigPaths(meta.config ?? {}, records[0]?.storeDir ?? '/nix/store', shipped);
  }
  return { meta, layers: records.map(imageLayerOf) };
}

/** The image spec with every blob in the blob store (made again where missing; see ensureRecordBlob). */
export async function assembleImage(stack: Stack, records: LayerRecord[], opts: { blobs: BlobStore; progress: Progress }): Promise<ImageSpec> {
  for (const r of records) if (!r.empty) await ensureRecordBlob(stack, r, opts);
  return imageSpecOf(stack, records);
}
