import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { layerRecordSchema, type LayerRecord } from '../model/vocabulary.ts';
import type { LayerDef } from '../stack/stack.ts';
import { writeJsonAtomic } from '../util/atomic.ts';
import { MegapakError } from '../util/errors.ts';
import { readJsonFile } from '../util/json-file.ts';

/** `dist/layer.json`: what a layer ships and the digests of its blob (Turborepo's cached output). */
export const recordPath = (layer: LayerDef) => join(layer.dir, 'dist', 'layer.json');

export async function readRecord(layer: LayerDef): Promise<LayerRecord | undefined> {
  const p = recordPath(layer);
  if (!existsSync(p)) return undefined;
  try {
    return await readJsonFile(p, layerRecordSchema);
  } catch (err) {
    throw new MegapakError(`${layer.name}: ${(err as Error).message}; rebuild the layer`);
  }
}

export async function requireRecord(layer: LayerDef, neededBy: string): Promise<LayerRecord> {
  const r = await readRecord(layer);
  if (!r) throw new MegapakError(`${neededBy}: ${layer.name} has no dist/layer.json; build it first (megapak build, or turbo's ^build)`);
  return r;
}

/** Every layer's record, or one line saying which layer to build first. */
export async function requireRecords(layers: LayerDef[], neededBy: string): Promise<LayerRecord[]> {
  const out: LayerRecord[] = [];
  for (const l of layers) out.push(await requireRecord(l, neededBy));
  return out;
}

export const writeRecord = (layer: LayerDef, record: LayerRecord) => writeJsonAtomic(recordPath(layer), record);
export const removeRecord = (layer: LayerDef) => rm(recordPath(layer), { force: true });
