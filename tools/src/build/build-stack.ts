import { createWriteStream, existsSync } from 'node:fs';
import { once } from 'node:events';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { evalImageConfig } from '../nix/nix.ts';
import { checkConfigPaths, mergeConfig } from '../oci/image-config.ts';
import type { BlobStore } from '../layer/blob-store.ts';
import { buildLayer, ensureBlob, type LayerBuildOptions } from '../layer/build-layer.ts';
import { readRecord, requireRecord, type LayerRecord } from '../layer/layer-record.ts';
import { writeDockerArchive } from '../oci/docker-archive.ts';
import { composeImage, type ImageParts } from '../oci/image.ts';
import { writeOciLayout } from '../oci/oci-layout.ts';
import type { Stack } from '../stack/stack.ts';
import { layerCountWarning } from '../plan/warnings.ts';
import { tempPathFor } from '../util/atomic.ts';
import { sinkOf } from '../util/write.ts';
import type { Progress } from '../util/progress.ts';
import { trackTemp, untrackTemp } from '../util/temp-files.ts';

export interface StackBuildResult {
  records: LayerRecord[];
  /** Names of the layers whose tar was streamed (not answered by the blob store). */
  streamed: string[];
}

/** Build every layer of the stack in order (what `megapak build` does without Turborepo). */
export async function buildAllLayers(stack: Stack, opts: LayerBuildOptions): Promise<StackBuildResult> {
  const records: LayerRecord[] = [];
  const streamed: string[] = [];
  for (const w of layerCountWarning(stack.layers.length)) opts.progress.log(`warning: ${w}`);
  for (const layer of stack.layers) {
    const r = await buildLayer(stack, layer, opts);
    records.push(r.record);
    if (r.streamed) streamed.push(layer.name);
  }
  return { records, streamed };
}

/**
 * The image from the layers' dist/layer.json. A blob missing from the blob store (a record
 * restored from a remote cache, say) is made again from the store and checked against its digest.
 */
export async function assembleImage(stack: Stack, opts: { blobs: BlobStore; progress: Progress }): Promise<ImageParts> {
  const records: LayerRecord[] = [];
  for (const layer of stack.layers) records.push(await requireRecord(layer, 'image'));
  for (const r of records) {
    if (r.empty || (await opts.blobs.hasBlob(r.digest!, r.size!))) continue;
    await ensureBlob(r.name, r.storeDir, r.paths, r.compression, { ...opts, expectedDigest: r.digest });
  }
  let meta = stack.meta;
  if (existsSync(join(stack.dir, 'nix', 'config.nix'))) {
    meta = mergeConfig(stack.meta, await evalImageConfig(stack.dir));
    const shipped = new Set(records.flatMap((r) => r.paths.map((p) => p.path)));
    checkConfigPaths(meta.config ?? {}, records[0]?.storeDir ?? '/nix/store', shipped);
  }
  return composeImage(meta, records);
}

/** Write the docker-archive to `file` via a temp file, so a failed write leaves nothing. */
export async function writeDockerArchiveFile(image: ImageParts, blobs: BlobStore, file: string): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const tmp = tempPathFor(file);
  trackTemp(tmp);
  const out = createWriteStream(tmp, { highWaterMark: 4 << 20 });
  try {
    await writeDockerArchive(image, (d) => blobs.blobPath(d), sinkOf(out));
    out.end();
    await once(out, 'finish');
    await rename(tmp, file);
  } finally {
    out.destroy();
    await rm(tmp, { force: true });
    untrackTemp(tmp);
  }
}

export async function writeImageOutputs(image: ImageParts, blobs: BlobStore, out: { oci?: string; dockerArchive?: string }): Promise<void> {
  if (out.oci) await writeOciLayout(out.oci, image, (d) => blobs.blobPath(d));
  if (out.dockerArchive) await writeDockerArchiveFile(image, blobs, out.dockerArchive);
}

/**
 * The image as built; when any layer has no dist/layer.json yet, or one made with another
 * compression, every layer is built (or re-checked) first, since a missing lower layer
 * changes the deltas above it.
 */
export async function builtImage(stack: Stack, opts: LayerBuildOptions): Promise<ImageParts> {
  const stale = [];
  for (const l of stack.layers) {
    const r = await readRecord(l);
    if (!r || r.compression !== opts.compression) stale.push(l.name);
  }
  if (stale.length) {
    opts.progress.log(`not built (with ${opts.compression}) yet: ${stale.join(', ')}; building the stack first`);
    await buildAllLayers(stack, opts);
  }
  return assembleImage(stack, opts);
}
