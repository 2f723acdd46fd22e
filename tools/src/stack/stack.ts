import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { UsageError } from '../util/errors.ts';
import { parseSize } from '../util/bytes.ts';
import { readJsonFile } from '../util/json-file.ts';

export interface LayerDef {
  /** 1-based position from the folder's NN prefix. */
  index: number;
  /** Folder name, e.g. `09-pak5`. */
  folder: string;
  dir: string;
  layerFile: string;
  /** Package name (`layer-09`), from package.json or derived from NN. */
  name: string;
  version: string;
  /** Size budget in bytes (sum of narSize), if the layer declares one. */
  budget?: number;
  /**
   * Most bytes of uncompressed tar in one OCI layer: a larger layer ships as several parts
   * (package.json `megapak.maxLayerSize`, else stack.json `maxLayerSize`; unset: never split).
   */
  maxLayerSize?: number;
}

const stackJson = z.object({
  name: z.string().min(1).optional(),
  tag: z.string().min(1).optional(),
  created: z.string().optional(),
  architecture: z.string().optional(),
  os: z.string().optional(),
  config: z.record(z.string(), z.unknown()).optional(),
  maxLayerSize: z.union([z.number().positive(), z.string()]).optional(),
});
export type StackJson = z.infer<typeof stackJson>;

export interface Stack {
  dir: string;
  meta: StackJson;
  layers: LayerDef[];
}

const pkgJson = z.object({
  name: z.string().optional(),
  version: z.string().optional(),
  megapak: z.object({ budget: z.union([z.number().positive(), z.string()]).optional(), maxLayerSize: z.union([z.number().positive(), z.string()]).optional() }).optional(),
});

function sizeOf(v: number | string | undefined, where: string, field = 'megapak.budget'): number | undefined {
  if (v === undefined) return undefined;
  const n = parseSize(v);
  if (n === undefined) throw new UsageError(`${where}: ${field} '${v}' is not a size (e.g. 800MB, 10GiB, or bytes)`);
  return n;
}

async function readLayerDef(layersDir: string, folder: string, stackMaxLayerSize: number | undefined): Promise<LayerDef | undefined> {
  const m = /^(\d{2})-[A-Za-z0-9._-]+$/.exec(folder);
  if (!m) return undefined;
  const dir = join(layersDir, folder);
  const layerFile = join(dir, 'layer.nix');
  if (!existsSync(layerFile)) throw new UsageError(`layer folder ${dir} has no layer.nix`);
  const index = Number(m[1]);
  let pkg: z.infer<typeof pkgJson> = {};
  const pkgPath = join(dir, 'package.json');
  if (existsSync(pkgPath)) {
    pkg = await readJsonFile(pkgPath, pkgJson);
  }
  return {
    index,
    folder,
    dir,
    layerFile,
    name: pkg.name ?? `layer-${m[1]}`,
    version: pkg.version ?? '0.0.0',
    budget: sizeOf(pkg.megapak?.budget, pkgPath),
    maxLayerSize: sizeOf(pkg.megapak?.maxLayerSize, pkgPath, 'megapak.maxLayerSize') ?? stackMaxLayerSize,
  };
}

/** Read and check a stack folder (docs/stack.md). */
export async function loadStack(stackDir: string): Promise<Stack> {
  const dir = resolve(stackDir);
  if (!existsSync(dir)) throw new UsageError(`stack folder ${dir} does not exist`);
  if (!existsSync(join(dir, 'nix', 'pkgs.nix'))) throw new UsageError(`${dir} is not a stack: it has no nix/pkgs.nix`);
  let meta: StackJson = {};
  const metaPath = join(dir, 'stack.json');
  if (existsSync(metaPath)) {
    meta = await readJsonFile(metaPath, stackJson);
  }
  const maxLayerSize = sizeOf(meta.maxLayerSize, metaPath, 'maxLayerSize');
  const layersDir = join(dir, 'layers');
  const folders = existsSync(layersDir) ? (await readdir(layersDir)).sort() : [];
  const layers: LayerDef[] = [];
  for (const f of folders) {
    const def = await readLayerDef(layersDir, f, maxLayerSize);
    if (def) layers.push(def);
  }
  if (layers.length === 0) throw new UsageError(`${dir} is not a stack: no layers/NN-name/layer.nix found`);
  for (let i = 1; i < layers.length; i++) {
    if (layers[i]!.index === layers[i - 1]!.index) throw new UsageError(`layers ${layers[i - 1]!.folder} and ${layers[i]!.folder} share the position ${layers[i]!.index}`);
  }
  if (!meta.name) meta = { ...meta, name: basename(dir) };
  return { dir, meta, layers };
}

/** The stack and layer whose folder is `cwd` (what a layer package's `build` script runs in). */
export async function findLayerAt(cwd: string, stackDir?: string): Promise<{ stack: Stack; layer: LayerDef }> {
  const here = resolve(cwd);
  const stack = await loadStack(stackDir ?? join(here, '..', '..'));
  const layer = stack.layers.find((l) => l.dir === here);
  if (!layer) throw new UsageError(`${here} is not a layer folder of the stack ${stack.dir}`);
  return { stack, layer };
}
