import { evalStack, type RootMeta } from '../nix/nix.ts';
import type { Compression } from '../model/compression.ts';
import { cutFits, type LayerRecord } from '../model/vocabulary.ts';
import type { LayerDef, Stack } from '../stack/stack.ts';
import { readRecord } from './layer-record.ts';

export interface RecordCheck {
  /** The records that still describe the sources: layers 1..k-1 below the first stale layer k. */
  fresh: LayerRecord[];
  /** Layers whose own record is missing or does not describe their sources, with why. */
  stale: { name: string; why: string }[];
  /** nix/config.nix from the same evaluation (null: the stack has none). */
  config: Record<string, unknown> | null;
  /** Each layer's roots' nixpkgs meta from the same evaluation (for the SBOM). */
  meta: RootMeta[][];
}

function sameList(a: string[], b: string[]): boolean {
  if (a.length !== b.length) return false;
  const sortedB = [...b].sort();
  return [...a].sort().every((x, i) => x === sortedB[i]);
}

/** Why a layer's record does not describe its sources (undefined: it does). */
function whyStale(layer: LayerDef, r: LayerRecord | undefined, roots: string[], compression?: Compression): string | undefined {
  if (!r) return 'no dist/layer.json';
  if (r.name !== layer.name) return `its record names ${r.name}`;
  if (compression && r.compression !== compression) return `built with ${r.compression}, not ${compression}`;
  if (r.version !== layer.version) return `version ${r.version} recorded, ${layer.version} in package.json`;
  if (!sameList(r.roots, roots)) return 'roots changed: layer.nix or nix/';
  if (!cutFits(r, layer.maxLayerSize)) return 'maxLayerSize changed';
  return undefined;
}

/**
 * Check every layer's dist/layer.json against the current sources with one evaluation of the
 * stack (no build, no store path read): a record is fresh when its name, version, compression
 * and root store paths are what the sources give now. Root paths are input-addressed, so the
 * same roots mean the same closure; and a layer's delta depends only on that closure and the
 * layers below, so everything below the first stale layer is fresh, and the layers above it
 * must be re-checked (their delta may shrink), which streams nothing when it did not change.
 */
export async function checkRecords(stack: Stack, compression?: Compression): Promise<RecordCheck> {
  const records = await Promise.all(stack.layers.map((l) => readRecord(l)));
  const { roots, config, meta } = await evalStack(stack.dir, stack.layers);
  const stale: RecordCheck['stale'] = [];
  stack.layers.forEach((l, i) => {
    const why = whyStale(l, records[i], roots[i] ?? [], compression);
    if (why) stale.push({ name: l.name, why });
  });
  const first = stale.length ? stack.layers.findIndex((l) => l.name === stale[0]!.name) : stack.layers.length;
  return { fresh: records.slice(0, first) as LayerRecord[], stale, config, meta };
}

/** One line naming the stale layers. */
export const staleLine = (stale: RecordCheck['stale']) => stale.map((s) => `${s.name} (${s.why})`).join(', ');
