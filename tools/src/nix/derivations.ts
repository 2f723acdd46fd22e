import { MegapakError } from '../util/errors.ts';
import { execCapture } from '../util/exec.ts';
import { NIX_COMMAND as NIX } from './nix.ts';

/** What the planner needs of a derivation. */
export interface DerivationInfo {
  name: string;
  /** Output name → path (absent for content-addressed outputs, which have none before the build). */
  outputs: Record<string, string | undefined>;
  /** Input derivation → the outputs of it this one needs. */
  inputDrvs: Record<string, string[]>;
  inputSrcs: string[];
  /** nixpkgs marks its long builds (compilers, CUDA libraries, PyTorch) with the system feature big-parallel. */
  bigParallel: boolean;
}

interface RawDrv {
  name?: string;
  outputs?: Record<string, { path?: string }>;
  inputDrvs?: Record<string, string[] | { outputs?: string[] }>;
  inputSrcs?: string[];
  env?: Record<string, string>;
}

/**
 * Pure: `nix show-derivation` / `nix derivation show` JSON of any Nix version — input outputs as
 * 2.8's lists or later `{ outputs: [...] }`, paths full or base names (the format's version 3).
 */
export function parseDerivations(text: string, storeDir: string): Map<string, DerivationInfo> {
  const full = (p: string) => (p.includes('/') ? p : `${storeDir}/${p}`);
  const out = new Map<string, DerivationInfo>();
  for (const [key, d] of Object.entries(JSON.parse(text) as Record<string, RawDrv>)) {
    const outputs: Record<string, string | undefined> = {};
    for (const [o, v] of Object.entries(d.outputs ?? {})) outputs[o] = v.path ? full(v.path) : undefined;
    const inputDrvs: Record<string, string[]> = {};
    for (const [drv, v] of Object.entries(d.inputDrvs ?? {})) inputDrvs[full(drv)] = Array.isArray(v) ? v : (v.outputs ?? []);
    const path = full(key);
    out.set(path, {
      name: d.name ?? d.env?.name ?? path.slice(storeDir.length + 34).replace(/\.drv$/, ''),
      outputs,
      inputDrvs,
      inputSrcs: (d.inputSrcs ?? []).map(full),
      bigParallel: /(^|\s)big-parallel(\s|$)/.test(d.env?.requiredSystemFeatures ?? ''),
    });
  }
  return out;
}

/** The derivations at these `.drv` paths, read with one Nix call. */
export async function showDerivations(drvs: string[], storeDir: string): Promise<Map<string, DerivationInfo>> {
  if (!drvs.length) return new Map();
  let last = '';
  // `show-derivation` is Nix 2.8's name; 2.15+ also has `derivation show` (the old name may go).
  for (const cmd of [['show-derivation'], ['derivation', 'show']]) {
    const r = await execCapture('nix', [...NIX, ...cmd, ...drvs]);
    if (r.code === 0) return parseDerivations(r.stdout, storeDir);
    last = r.stderr.trim().split('\n').pop() ?? '';
  }
  throw new MegapakError(`nix show-derivation failed: ${last}`);
}
