import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { evalImageConfig } from '../nix/nix.ts';
import { layerCountWarning } from '../plan/warnings.ts';
import type { BlobStore } from '../layer/blob-store.ts';
import { imageLayerOf, type ImageSpec, type LayerRecord } from '../model/vocabulary.ts';
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
 * The image spec from the layers' records (in layer order). A blob missing from the blob
 * store (a record restored from a remote cache, say) is made again from the store and checked
 * against its recorded digest; nix/config.nix, when the stack has one, is merged into the config.
 */
export async function assembleImage(stack: Stack, records: LayerRecord[], opts: { blobs: BlobStore; progress: Progress }): Promise<ImageSpec> {
  for (const r of records) {
    if (r.empty || (await opts.blobs.hasBlob(r.digest, r.size))) continue;
    await ensureBlob(
      { what: r.name, storeDir: r.storeDir, paths: r.paths, contentKey: r.contentKey, compression: r.compression },
      { ...opts, expectedDigest: r.digest },
    );
  }
  let meta = stack.meta;
  if (existsSync(join(stack.dir, 'nix', 'config.nix'))) {
    meta = mergeConfig(stack.meta, await evalImageConfig(stack.dir));
    const shipped = new Set(records.flatMap((r) => r.paths.map((p) => p.path)));
    checkConfigPaths(meta.config ?? {}, records[0]?.storeDir ?? '/nix/store', shipped);
  }
  return { meta, layers: records.map(imageLayerOf) };
}
