import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { MegapakError } from '../util/errors.ts';
import type { LayerDef } from '../stack/stack.ts';

/** `dist/layer.json`: what a layer ships and the digests of its blob. */
export const layerRecordSchema = z.object({
  name: z.string(),
  version: z.string(),
  index: z.number().int(),
  storeDir: z.string(),
  roots: z.array(z.string()),
  paths: z.array(z.object({ path: z.string(), narHash: z.string(), narSize: z.number(), references: z.array(z.string()) })),
  narSize: z.number(),
  contentKey: z.string(),
  empty: z.boolean(),
  compression: z.enum(['none', 'gzip', 'zstd']),
  mediaType: z.string(),
  diffId: z.string().nullable(),
  diffSize: z.number().nullable(),
  digest: z.string().nullable(),
  size: z.number().nullable(),
  warnings: z.array(z.string()).default([]),
});
export type LayerRecord = z.infer<typeof layerRecordSchema>;

export const recordPath = (layer: LayerDef) => join(layer.dir, 'dist', 'layer.json');

export async function readRecord(layer: LayerDef): Promise<LayerRecord | undefined> {
  const p = recordPath(layer);
  if (!existsSync(p)) return undefined;
  const parsed = layerRecordSchema.safeParse(JSON.parse(await readFile(p, 'utf8')));
  if (!parsed.success) throw new MegapakError(`${layer.name}: ${p} is not a valid layer record (${parsed.error.issues[0]?.message}); rebuild the layer`);
  return parsed.data;
}

export async function requireRecord(layer: LayerDef, neededBy: string): Promise<LayerRecord> {
  const r = await readRecord(layer);
  if (!r) throw new MegapakError(`${neededBy}: ${layer.name} has no dist/layer.json; build it first (megapak build, or turbo's ^build)`);
  return r;
}
