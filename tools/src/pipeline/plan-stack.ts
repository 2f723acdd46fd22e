import { existsSync } from 'node:fs';
import { dryRun, parseDryRun, type DryRun } from '../nix/dry-run.ts';
import { showDerivations } from '../nix/derivations.ts';
import { dryRunStackRoots, evalStack, queryClosure } from '../nix/nix.ts';
import { storeDirOf } from '../nix/path-info.ts';
import { configuredSubstituters, narInfos } from '../nix/substituters.ts';
import { attributePlan, heaviestBuilds, presentClosure, presentFrontier, type BuildPlan, type HeavyBuild } from '../plan/build-plan.ts';
import type { Stack } from '../stack/stack.ts';
import type { Progress } from '../util/progress.ts';

export interface StackPlan {
  plan: BuildPlan;
  heaviest: HeavyBuild[];
  /** Paths Nix knows no way to make (no derivation, no substituter): the build would fail on them. */
  unknown: string[];
  /** Fetched paths no substituter's narinfo could be read for (counted as 0 bytes). */
  unsized: string[];
}

/**
 * What a build of the stack would do, per layer, from Nix's own dry run: one evaluation (the
 * roots are instantiated, nothing is built), a `nix-store --realise --dry-run` per layer, the
 * narinfo of every path to fetch from the configured caches, and the local store's references
 * of what is present. It builds and fetches nothing.
 */
export async function planStack(stack: Stack, progress: Progress, top = 10): Promise<StackPlan> {
  progress.step('plan', "evaluating every layer's roots");
  const { roots, outputs } = await evalStack(stack.dir, stack.layers, { instantiate: true });
  const storeDir = storeDirOf(roots.flat()[0] ?? '/nix/store/x');
  const dry: DryRun[] = [];
  for (const [i, l] of stack.layers.entries()) {
    progress.step('plan', `${l.name}: nix-store --realise --dry-run`);
    dry.push(await dryRun(outputs[i]!, l.name));
  }
  const toBuild = [...new Set(dry.flatMap((d) => d.build))];
  const toFetch = [...new Set(dry.flatMap((d) => d.fetch))];
  const drvs = await showDerivations(toBuild, storeDir);
  // The outputs the builds use of derivations that are not built: their paths, to look for here.
  const inputDrvs = [...new Set([...drvs.values()].flatMap((d) => Object.keys(d.inputDrvs)))].filter((d) => !drvs.has(d));
  for (const [p, info] of await showDerivations(inputDrvs, storeDir)) drvs.set(p, info);
  const narinfo = toFetch.length ? await narInfos(toFetch, await configuredSubstituters(), storeDir) : new Map();
  const frontiers = stack.layers.map((_, i) => presentFrontier({ roots: roots[i]!, build: dry[i]!.build, fetch: dry[i]!.fetch }, drvs, (p) => narinfo.get(p)?.references));
  const missing = new Set(toFetch);
  for (const d of toBuild) for (const o of Object.values(drvs.get(d)?.outputs ?? {})) if (o) missing.add(o);
  const valid = (p: string) => !missing.has(p) && existsSync(p);
  const candidates = [...new Set(frontiers.flat())].filter(valid);
  const known = new Map((await queryClosure(candidates, 'plan')).map((i) => [i.path, i.references]));
  const plan = attributePlan(
    stack.layers.map((l, i) => ({ name: l.name, build: dry[i]!.build, fetch: dry[i]!.fetch, present: presentClosure(frontiers[i]!, valid, (p) => known.get(p)) })),
    (p) => narinfo.get(p)?.downloadSize ?? 0,
  );
  return {
    plan,
    heaviest: heaviestBuilds(plan, drvs, top),
    unknown: [...new Set(dry.flatMap((d) => d.unknown))].sort(),
    unsized: toFetch.filter((p) => !narinfo.has(p)).sort(),
  };
}

/**
 * The plan's one line for `megapak build`, from `nix-build --dry-run` of the roots of `layers`
 * (the ones being built); only called when a root is missing, so a no-change build never pays for it.
 */
export async function planSummaryLine(stack: Stack, layers: Stack['layers']): Promise<string> {
  const d = parseDryRun(await dryRunStackRoots(stack.dir, layers));
  const n = (k: number, what: string) => `${k} ${what}${k === 1 ? '' : 's'}`;
  return (
    `plan: ${n(d.build.length, 'derivation')} to build, ${n(d.fetch.length, 'path')} to fetch${d.download ? ` (${d.download} download)` : ''}` +
    `${d.unknown.length ? `, ${n(d.unknown.length, 'path')} nothing can make` : ''} (megapak plan shows them per layer)`
  );
}
