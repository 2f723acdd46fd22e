// What a build of the stack would do, per layer, from Nix's own dry run of each layer's roots:
// pure planning over what nix/ read (dry-run.ts, derivations.ts, substituters.ts).
import type { DerivationInfo } from '../nix/derivations.ts';
import { byteOrder } from '../util/bytes.ts';
import { closureOf } from './closure.ts';

/** Everything one layer's roots need, before attribution (a path may also be needed below). */
export interface LayerNeeds {
  name: string;
  /** Derivations Nix would build for these roots. */
  build: string[];
  /** Store paths Nix would fetch for them. */
  fetch: string[];
  /** Store paths they need that are valid here already. */
  present: string[];
}

/** `megapak plan --json`, exactly. */
export interface PlanLayer {
  name: string;
  build: string[];
  fetch: string[];
  present: string[];
  downloadBytes: number;
}
export interface BuildPlan {
  layers: PlanLayer[];
}

/**
 * Each path goes to the lowest layer whose roots need it, like the delta: a derivation two
 * layers need is built for the lower one, and the upper one builds only what is new to it.
 * `downloadSize` is a fetched path's compressed NAR size from its cache's narinfo.
 */
export function attributePlan(layers: LayerNeeds[], downloadSize: (path: string) => number): BuildPlan {
  const seen = new Set<string>();
  const own = (paths: string[]) => [...new Set(paths)].filter((p) => !seen.has(p)).sort(byteOrder);
  return {
    layers: layers.map((l) => {
      const out = { name: l.name, build: own(l.build), fetch: own(l.fetch), present: own(l.present) };
      for (const p of [...out.build, ...out.fetch, ...out.present]) seen.add(p);
      return { ...out, downloadBytes: out.fetch.reduce((s, p) => s + downloadSize(p), 0) };
    }),
  };
}

/**
 * Where a layer's needs meet what is already here: its roots, what the paths to fetch refer to
 * (their narinfo), and the inputs of the derivations to build (sources, and the outputs they
 * use of input derivations that are not built). Nix stops at these when one is valid, so they are
 * the candidates for "present"; the caller keeps the valid ones and closes over their references.
 */
export function presentFrontier(
  needs: { roots: string[]; build: string[]; fetch: string[] },
  drvs: Map<string, DerivationInfo>,
  fetchReferences: (path: string) => readonly string[] | undefined,
): string[] {
  const building = new Set(needs.build);
  const out = new Set<string>(needs.roots);
  for (const p of needs.fetch) for (const r of fetchReferences(p) ?? []) out.add(r);
  for (const d of needs.build) {
    const info = drvs.get(d);
    if (!info) continue;
    for (const s of info.inputSrcs) out.add(s);
    for (const [input, outputs] of Object.entries(info.inputDrvs)) {
      if (building.has(input)) continue;
      for (const o of outputs) {
        const p = drvs.get(input)?.outputs[o];
        if (p) out.add(p);
      }
    }
  }
  // What is built or fetched is not present (a root among them, say).
  for (const p of needs.fetch) out.delete(p);
  for (const d of needs.build) for (const o of Object.values(drvs.get(d)?.outputs ?? {})) if (o) out.delete(o);
  return [...out].sort(byteOrder);
}

/** The valid frontier closed over references (of valid paths, from the local store). */
export function presentClosure(frontier: string[], valid: (p: string) => boolean, referencesOf: (p: string) => readonly string[] | undefined): string[] {
  return [...closureOf(frontier.filter(valid), referencesOf)].sort(byteOrder);
}

export interface HeavyBuild {
  layer: string;
  drv: string;
  name: string;
  bigParallel: boolean;
  inputs: number;
}

/**
 * The builds likely to take longest, without having built them: nixpkgs marks its long builds
 * (compilers, CUDA, PyTorch) with the system feature big-parallel, so those first; then the
 * ones with the most input derivations. A guess by design, and the text output says so.
 */
export function heaviestBuilds(plan: BuildPlan, drvs: Map<string, DerivationInfo>, top: number): HeavyBuild[] {
  const all = plan.layers.flatMap((l) =>
    l.build.map((drv) => {
      const info = drvs.get(drv);
      return { layer: l.name, drv, name: info?.name ?? drv, bigParallel: info?.bigParallel ?? false, inputs: Object.keys(info?.inputDrvs ?? {}).length };
    }),
  );
  return all.sort((a, b) => Number(b.bigParallel) - Number(a.bigParallel) || b.inputs - a.inputs || byteOrder(a.drv, b.drv)).slice(0, top);
}
