import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MegapakError, MissingToolError } from '../util/errors.ts';
import { execCapture } from '../util/exec.ts';
import { parsePathInfoJson, storeDirOf, type StorePathInfo } from './path-info.ts';

// The stack's package set, and each layer's roots (from `layersJson`) checked for shape, so
// that a wrong layer.nix fails with a message that names the layer rather than a Nix type
// error. One prelude for every expression below: `megapak build` asks Nix once for the whole
// stack instead of once per layer (twelve evaluations of the same package set).
/** What the `nix` command (not nix-build, nix-store) needs on Nix 2.8 and later. */
export const NIX_COMMAND = ['--extra-experimental-features', 'nix-command'];

const PRELUDE = `
{ stackDir, layersJson ? "[]" }:
let
  raw = import (stackDir + "/nix/pkgs.nix");
  pkgs = if builtins.isFunction raw then raw { } else raw;
  isDrv = r: builtins.isAttrs r && (r.type or null) == "derivation";
  rootsOf = l:
    let roots = (import l.file) { inherit pkgs; }; in
    if !(builtins.isList roots) then throw "\${l.name}: layer.nix must return a list of derivations"
    else if !(builtins.all isDrv roots) then throw "\${l.name}: layer.nix returned an item that is not a derivation"
    else roots;
  layers = builtins.fromJSON layersJson;
in`;

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

export interface LayerFile {
  name: string;
  layerFile: string;
}

const stackArgs = (stackDir: string, layers: LayerFile[]) => [
  '--argstr',
  'stackDir',
  stackDir,
  '--argstr',
  'layersJson',
  JSON.stringify(layers.map((l) => ({ name: l.name, file: l.layerFile }))),
];

/** Build the roots of `layers` with one nix-build; returns their output paths (sorted, unique). */
async function buildRoots(stackDir: string, layers: LayerFile[], failed: string): Promise<string[]> {
  const r = await execCapture('nix-build', ['--no-out-link', ...stackArgs(stackDir, layers), '-E', `${PRELUDE} builtins.concatLists (map rootsOf layers)`]);
  if (r.code !== 0) throw new MegapakError(`${failed}:\n${tail(r.stderr)}`);
  return [
    ...new Set(
      r.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    ),
  ].sort();
}

/** Evaluate and build a layer's roots; returns their output paths (sorted, unique). */
export const buildLayerRoots = (stackDir: string, layerFile: string, layerName: string): Promise<string[]> =>
  buildRoots(stackDir, [{ name: layerName, layerFile }], `${layerName}: nix-build of ${layerFile} failed`);

/** `nix-build --dry-run` of every layer's roots: what Nix would build and fetch (it does neither). */
export async function dryRunStackRoots(stackDir: string, layers: LayerFile[]): Promise<string> {
  const r = await execCapture('nix-build', ['--dry-run', '--no-out-link', ...stackArgs(stackDir, layers), '-E', `${PRELUDE} builtins.concatLists (map rootsOf layers)`]);
  if (r.code !== 0) throw new MegapakError(`nix-build --dry-run of the stack failed: ${r.stderr.trim().split('\n').pop()}`);
  return r.stderr;
}

/** Build every layer's roots with one nix-build. */
export async function buildStackRoots(stackDir: string, layers: LayerFile[]): Promise<void> {
  await buildRoots(stackDir, layers, "building the stack's layers failed");
}

// A root's licence and homepage from nixpkgs `meta`, for the SBOM. meta.license is an attrset
// (lib.licenses.*), a list of them, or (in old expressions) a string; meta.homepage a string or
// a list. A meta that fails to evaluate gives none rather than failing the stack's evaluation.
const META_LET = `
  licenseOf = x: if builtins.isString x then { spdxId = null; name = x; free = true; }
    else { spdxId = x.spdxId or null; name = x.fullName or x.shortName or null; free = x.free or true; };
  metaOf = r:
    let
      m = r.meta or { };
      raw = m.license or [ ];
      ls = map licenseOf (if builtins.isList raw then raw else [ raw ]);
      hp = m.homepage or null;
      v = {
        licenses = ls;
        homepage = if builtins.isList hp then (if hp == [ ] then null else builtins.head hp) else hp;
        unfree = builtins.any (l: !l.free) ls;
      };
      t = builtins.tryEval (builtins.deepSeq v v);
    in { path = r.outPath; } // (if t.success then t.value else { licenses = [ ]; homepage = null; unfree = false; });
  layersMeta = map (l: map metaOf (rootsOf l)) layers;`;
const META_EXPR = `${PRELUDE} let ${META_LET} in layersMeta`;

export interface StackEval {
  /** Each layer's root output paths (sorted, unique). */
  roots: string[][];
  /** Each layer's roots as `nix-store --realise` names them (`/nix/store/…drv!out`), for a dry run. */
  outputs: string[][];
  /** nix/config.nix evaluated (see evalImageConfig), or null when the stack has none. */
  config: Record<string, unknown> | null;
  /** Each layer's roots' nixpkgs meta (for the SBOM: same evaluation, no second one). */
  meta: RootMeta[][];
}

/**
 * Every layer's roots and the image config from one evaluation, without building. With
 * `instantiate`, the roots' `.drv` files are written to the store too (what a dry run reads).
 */
export async function evalStack(stackDir: string, layers: LayerFile[], o: { instantiate?: boolean } = {}): Promise<StackEval> {
  const expr = `${PRELUDE} let layerRoots = map rootsOf layers; ${META_LET} in {
    roots = map (map (r: r.outPath)) layerRoots;
    outputs = map (map (r: "\${r.drvPath}!\${r.outputName}")) layerRoots;
    meta = layersMeta;
    config = let f = stackDir + "/nix/config.nix"; in if builtins.pathExists f then import f { inherit pkgs; } else null;
  }`;
  const r = await execCapture('nix-instantiate', ['--eval', '--strict', '--json', ...(o.instantiate ? ['--read-write-mode'] : []), ...stackArgs(stackDir, layers), '-E', expr]);
  if (r.code !== 0) throw new MegapakError(`evaluating the stack failed:\n${tail(r.stderr)}`);
  const out = JSON.parse(r.stdout) as StackEval;
  const uniq = (xs: string[][]) => xs.map((x) => [...new Set(x)].sort());
  return { roots: uniq(out.roots), outputs: uniq(out.outputs), config: out.config, meta: out.meta };
}

/** The closure of `paths` with narHash, narSize and references of every member. */
export async function queryClosure(paths: string[], what: string): Promise<StorePathInfo[]> {
  if (paths.length === 0) return [];
  const r = await execCapture('nix', [...NIX_COMMAND, 'path-info', '--json', '--recursive', ...paths]);
  if (r.code !== 0) throw new MegapakError(`${what}: nix path-info failed:\n${tail(r.stderr)}`);
  return parsePathInfoJson(r.stdout, storeDirOf(paths[0]!));
}

/** Fail early, before any work is reported, when the Nix tools are not on PATH. */
export function requireNixTools(path = process.env.PATH ?? ''): void {
  for (const tool of ['nix-build', 'nix']) {
    const found = path.split(':').some((dir) => dir && existsSync(join(dir, tool)));
    if (!found) throw new MissingToolError(tool, 'nix-bin');
  }
}

// The image config's store-path fields (Entrypoint, Env) from the stack's nix/config.nix.
const CONFIG_EXPR = `${PRELUDE} import (stackDir + "/nix/config.nix") { inherit pkgs; }`;

/** Evaluate `nix/config.nix` (`{ pkgs }: { Entrypoint = [ … ]; Env = [ … ]; }`) to JSON. */
export async function evalImageConfig(stackDir: string): Promise<Record<string, unknown>> {
  const r = await execCapture('nix-instantiate', ['--eval', '--strict', '--json', '--argstr', 'stackDir', stackDir, '-E', CONFIG_EXPR]);
  if (r.code !== 0) throw new MegapakError(`image config: evaluating ${stackDir}/nix/config.nix failed:\n${tail(r.stderr)}`);
  try {
    return JSON.parse(r.stdout) as Record<string, unknown>;
  } catch {
    throw new MegapakError(`image config: ${stackDir}/nix/config.nix did not evaluate to JSON`);
  }
}

/** A layer root's licence and homepage as nixpkgs' `meta` states them (what `megapak sbom` reports). */
export interface RootMeta {
  /** The root's output path. */
  path: string;
  licenses: { spdxId: string | null; name: string | null; free: boolean }[];
  homepage: string | null;
  /** Some licence says `free = false` (nixpkgs' unfree licences: CUDA, cuDNN, …). */
  unfree: boolean;
}

/** Every layer's roots with their `meta` licence and homepage, from one evaluation (nothing is built). */
export async function evalRootsMeta(stackDir: string, layers: LayerFile[]): Promise<RootMeta[][]> {
  const r = await execCapture('nix-instantiate', ['--eval', '--strict', '--json', ...stackArgs(stackDir, layers), '-E', META_EXPR]);
  if (r.code !== 0) throw new MegapakError(`evaluating the layers' meta (licences, homepages) failed:\n${tail(r.stderr)}`);
  return JSON.parse(r.stdout) as RootMeta[][];
}
