import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { buildLayerRoots, queryClosure } from '../nix/nix.ts';
import { contentKey, planDelta, shippedBy, type DeltaPath } from '../plan/delta.ts';
import { bigLayerWarning, budgetViolation, redundantRoots } from '../plan/warnings.ts';
import type { LayerDef, Stack } from '../stack/stack.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { MegapakError } from '../util/errors.ts';
import { formatBytes, type Progress } from '../util/progress.ts';
import type { BlobStore, BlobEntry } from './blob-store.ts';
import { writeBlob } from './blob-writer.ts';
import { MEDIA_TYPES, type Compression } from './compression.ts';
import { recordPath, readRecord, requireRecord, type LayerRecord } from './layer-record.ts';
import { writeLayerTar } from './layer-tar.ts';

export interface LayerBuildOptions {
  compression: Compression;
  blobs: BlobStore;
  progress: Progress;
}

export interface LayerBuildResult {
  record: LayerRecord;
  /** True when the tar was streamed from the store; false when the blob store answered. */
  streamed: boolean;
}

const storeDirOf = (p: string) => p.slice(0, p.lastIndexOf('/'));

/**
 * Make the blob for `paths` (streaming the tar from the store) unless the blob store has it.
 * `expectedDigest`, when given, is a digest recorded earlier (e.g. restored from a remote
 * cache): a blob made again must match it.
 */
export async function ensureBlob(
  what: string,
  storeDir: string,
  paths: DeltaPath[],
  compression: Compression,
  opts: { blobs: BlobStore; progress: Progress; expectedDigest?: string | null },
): Promise<{ entry: BlobEntry; streamed: boolean }> {
  const key = contentKey(paths);
  const hit = await opts.blobs.lookup(key, compression);
  if (hit && (!opts.expectedDigest || hit.digest === opts.expectedDigest)) return { entry: hit, streamed: false };
  const absent = paths.filter((p) => !existsSync(p.path));
  if (absent.length)
    throw new MegapakError(
      `${what}: ${absent.length} store path(s) to put in the blob are not in this machine's Nix store (first: ${absent[0]!.path}); ` +
        `build the layer here or substitute its paths from a Nix binary cache`,
    );
  const total = paths.reduce((s, p) => s + p.narSize, 0);
  const temp = await opts.blobs.newTemp();
  try {
    opts.progress.streamStart(what, total);
    const d = await writeBlob(temp, compression, (sink) =>
      writeLayerTar(storeDir, paths.map((p) => p.path), sink, (n) => opts.progress.streamBytes(n)),
    );
    opts.progress.streamEnd(what, d.size);
    if (opts.expectedDigest && d.digest !== opts.expectedDigest)
      throw new MegapakError(
        `${what}: the blob made again from the Nix store has digest ${d.digest}, but dist/layer.json records ${opts.expectedDigest}; ` +
          `the store paths' content or the compressor differs from the machine that recorded it`,
      );
    return { entry: await opts.blobs.commit(temp, key, compression, d), streamed: true };
  } finally {
    await opts.blobs.discardTemp(temp);
  }
}

/** Build one layer: roots → closure → delta → blob → dist/layer.json. */
export async function buildLayer(stack: Stack, layer: LayerDef, opts: LayerBuildOptions): Promise<LayerBuildResult> {
  try {
    const lower = [];
    for (const l of stack.layers) if (l.index < layer.index) lower.push(await requireRecord(l, layer.name));
    opts.progress.step(layer.name, 'evaluating and building roots');
    const roots = await buildLayerRoots(stack.dir, layer.layerFile, layer.name);
    const closure = await queryClosure(roots, layer.name);
    const shipped = shippedBy(lower);
    const delta = planDelta(closure, shipped);
    const key = contentKey(delta);
    const previous = await readRecord(layer).catch(() => undefined);
    const storeDir = roots[0] ? storeDirOf(roots[0]) : lower[0]?.storeDir ?? '/nix/store';
    const narSize = delta.reduce((s, p) => s + p.narSize, 0);
    opts.progress.step(layer.name, `${closure.length} paths in closure, ${delta.length} new (${formatBytes(narSize)})`);
    const warnings = [...redundantRoots(layer.name, roots, shipped), ...bigLayerWarning(layer.name, narSize)];
    for (const w of warnings) opts.progress.log(`warning: ${w}`);
    const overBudget = budgetViolation(layer.name, narSize, layer.budget, delta);
    if (overBudget) throw new MegapakError(overBudget);
    let blob: { diffId: string; diffSize: number; digest: string; size: number } | null = null;
    let streamed = false;
    if (delta.length > 0) {
      const expected = previous?.contentKey === key && previous.compression === opts.compression ? previous.digest : undefined;
      const r = await ensureBlob(layer.name, storeDir, delta, opts.compression, { ...opts, expectedDigest: expected });
      blob = r.entry;
      streamed = r.streamed;
    }
    const record: LayerRecord = {
      name: layer.name,
      version: layer.version,
      index: layer.index,
      storeDir,
      roots,
      paths: delta,
      narSize,
      contentKey: key,
      empty: delta.length === 0,
      compression: opts.compression,
      mediaType: MEDIA_TYPES[opts.compression],
      diffId: blob?.diffId ?? null,
      diffSize: blob?.diffSize ?? null,
      digest: blob?.digest ?? null,
      size: blob?.size ?? null,
      warnings,
    };
    await writeJsonAtomic(recordPath(layer), record);
    return { record, streamed };
  } catch (err) {
    // A record that no longer describes layer.nix must not be read by the layers above.
    await rm(recordPath(layer), { force: true });
    throw err;
  }
}
