import { buildLayerRoots, queryClosure } from '../nix/nix.ts';
import { storeDirOf } from '../nix/path-info.ts';
import { planDelta, shippedBy } from '../plan/delta.ts';
import { bigLayerWarning, budgetViolation, redundantRoots } from '../plan/warnings.ts';
import { contentKey } from '../layer/content-key.ts';
import { mediaTypeOf, type Compression } from '../model/compression.ts';
import { cutFits, digestsOf, isSplit, type LayerRecord, type StorePathInfo } from '../model/vocabulary.ts';
import type { LayerDef, Stack } from '../stack/stack.ts';
import { formatBytes } from '../util/bytes.ts';
import { MegapakError } from '../util/errors.ts';
import { annotateIoError } from '../util/io-error.ts';
import { readRecord, removeRecord, writeRecord } from './layer-record.ts';
import { ensureBlob, type BlobMakingOptions } from './ensure-blob.ts';
import { withPythonDists } from './record-dists.ts';
import { splitLayer } from './split-layer.ts';

export interface LayerBuildOptions extends BlobMakingOptions {
  compression: Compression;
  /**
   * Registry first (push): a layer whose content is what its previous record says keeps that
   * record's digests without its blob being made here; the push makes it only if the registry lacks it.
   */
  registryFirst?: boolean;
}

export interface LayerBuildResult {
  record: LayerRecord;
  /** True when the tar was streamed from the store; false when the blob store answered. */
  streamed: boolean;
}

/** A layer's built roots and their closure, when the whole stack was resolved at once (pipeline/build-stack.ts). */
export interface ResolvedLayer {
  roots: string[];
  closure: StorePathInfo[];
}

/**
 * Build one layer on top of the records of the layers below it (in memory): roots → closure
 * → delta → blob → record, which is also written to dist/layer.json for Turborepo and for
 * `megapak image`.
 */
export async function buildLayer(stack: Stack, layer: LayerDef, lower: LayerRecord[], opts: LayerBuildOptions, resolved?: ResolvedLayer): Promise<LayerBuildResult> {
  try {
    let roots: string[];
    let closure: StorePathInfo[];
    if (resolved) ({ roots, closure } = resolved);
    else {
      opts.progress.step(layer.name, 'evaluating and building roots');
      roots = await buildLayerRoots(stack.dir, layer.layerFile, layer.name);
      closure = await queryClosure(roots, layer.name);
    }
    const shipped = shippedBy(lower);
    const delta = planDelta(closure, shipped);
    const key = contentKey(delta);
    // The record an earlier build left: when its content is the same, its digest is what a
    // blob made again must match (a record restored from a remote cache, say).
    const previous = await readRecord(layer).catch(() => undefined);
    const storeDir = roots[0] ? storeDirOf(roots[0]) : (lower[0]?.storeDir ?? '/nix/store');
    const narSize = delta.reduce((s, p) => s + p.narSize, 0);
    opts.progress.step(layer.name, `${closure.length} paths in closure, ${delta.length} new (${formatBytes(narSize)})`);
    const warnings = [...redundantRoots(layer.name, roots, shipped), ...bigLayerWarning(layer.name, narSize)];
    for (const w of warnings) opts.progress.log(`warning: ${w}`);
    const overBudget = budgetViolation(layer.name, narSize, layer.budget, delta);
    if (overBudget) throw new MegapakError(overBudget);
    const head = { name: layer.name, version: layer.version, index: layer.index, storeDir, roots, paths: delta, narSize, contentKey: key };
    const tail = { compression: opts.compression, mediaType: mediaTypeOf(opts.compression) };
    let record: LayerRecord;
    let streamed = false;
    const same = previous && !previous.empty && previous.contentKey === key && previous.compression === opts.compression ? previous : undefined;
    // Registry first (push): the previous record stands, its blobs (or parts) made only if the registry lacks them.
    const keep = same && opts.registryFirst && cutFits(same, layer.maxLayerSize) ? same : undefined;
    const split =
      layer.maxLayerSize !== undefined && delta.length > 0 && !keep
        ? await splitLayer({ name: layer.name, maxLayerSize: layer.maxLayerSize }, storeDir, delta, key, opts.compression, previous, opts)
        : undefined;
    if (delta.length === 0) {
      record = { ...head, empty: true, ...tail, diffId: null, diffSize: null, digest: null, size: null, warnings };
    } else if (keep && isSplit(keep)) {
      record = { ...head, empty: false, ...tail, maxLayerSize: keep.maxLayerSize, diffSize: keep.diffSize, size: keep.size, parts: keep.parts, warnings };
    } else if (keep && !isSplit(keep)) {
      record = { ...head, empty: false, ...tail, ...digestsOf(keep), warnings };
    } else if (split && 'parts' in split) {
      const diffSize = split.parts.reduce((s, p) => s + p.diffSize, 0);
      const size = split.parts.reduce((s, p) => s + p.size, 0);
      record = { ...head, empty: false, ...tail, maxLayerSize: layer.maxLayerSize!, diffSize, size, parts: split.parts, warnings };
      streamed = split.streamed;
    } else {
      // A layer that fits its maxLayerSize was walked to find out: the tar is written from that walk.
      const range = split && 'walked' in split && split.walked.size ? { start: '', walked: split.walked } : undefined;
      const expected = same && !isSplit(same) ? same.digest : undefined;
      const r = await ensureBlob({ what: layer.name, storeDir, paths: delta, contentKey: key, compression: opts.compression, range }, { ...opts, expectedDigest: expected });
      record = { ...head, empty: false, ...tail, ...digestsOf(r.entry), warnings };
      streamed = r.streamed;
    }
    record = await withPythonDists(record, previous);
    await writeRecord(layer, record);
    return { record, streamed };
  } catch (err) {
    annotateIoError(err, undefined, { what: layer.name });
    // A record that no longer describes layer.nix must not be read by the layers above.
    await removeRecord(layer);
    throw err;
  }
}
