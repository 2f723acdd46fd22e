import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { MegapakError, MissingToolError } from '../util/errors.ts';
import { execCapture } from '../util/exec.ts';
import { parsePathInfoJson, type StorePathInfo } from './path-info.ts';

// Evaluates one layer.nix against the stack's package set and checks its shape, so that a
// wrong layer.nix fails with a message that names the layer rather than a Nix type error.
const LAYER_EXPR = `
{ stackDir, layerFile, layerName }:
let
  raw = import (stackDir + "/nix/pkgs.nix");
  pkgs = if builtins.isFunction raw then raw { } else raw;
  roots = (import layerFile) { inherit pkgs; };
  isDrv = r: builtins.isAttrs r && (r.type or null) == "derivation";
in
  if !(builtins.isList roots) then throw "\${layerName}: layer.nix must return a list of derivations"
  else if !(builtins.all isDrv roots) then throw "\${layerName}: layer.nix returned an item that is not a derivation"
  else roots
`;

function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Evaluate and build a layer's roots; returns their output paths (sorted, unique). */
export async function buildLayerRoots(stackDir: string, layerFile: string, layerName: string): Promise<string[]> {
  const r = await execCapture('nix-build', [
    '--no-out-link',
    '--argstr',
    'stackDir',
    stackDir,
    '--argstr',
    'layerFile',
    layerFile,
    '--argstr',
    'layerName',
    layerName,
    '-E',
    LAYER_EXPR,
  ]);
  if (r.code !== 0) throw new MegapakError(`${layerName}: nix-build of ${layerFile} failed:\n${tail(r.stderr)}`);
  return [
    ...new Set(
      r.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean),
    ),
  ].sort();
}

/** The closure of `paths` with narHash, narSize and references of every member. */
export async function queryClosure(paths: string[], what: string): Promise<StorePathInfo[]> {
  if (paths.length === 0) return [];
  const r = await execCapture('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--json', '--recursive', ...paths]);
  if (r.code !== 0) throw new MegapakError(`${what}: nix path-info failed:\n${tail(r.stderr)}`);
  const storeDir = paths[0]!.slice(0, paths[0]!.lastIndexOf('/'));
  return parsePathInfoJson(r.stdout, storeDir);
}

/** Fail early, before any work is reported, when the Nix tools are not on PATH. */
export function requireNixTools(path = process.env.PATH ?? ''): void {
  for (const tool of ['nix-build', 'nix']) {
    const found = path.split(':').some((dir) => dir && existsSync(join(dir, tool)));
    if (!found) throw new MissingToolError(tool, 'nix-bin');
  }
}

// The image config's store-path fields (Entrypoint, Env) from the stack's nix/config.nix.
const CONFIG_EXPR = `
{ stackDir }:
let
  raw = import (stackDir + "/nix/pkgs.nix");
  pkgs = if builtins.isFunction raw then raw { } else raw;
in
  import (stackDir + "/nix/config.nix") { inherit pkgs; }
`;

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
