import { formatBytes } from '../util/bytes.ts';

/** More layers than this and some runtimes refuse the image (overlayfs' lower-dir limit). */
export const MAX_LAYERS = 127;
export const BIG_LAYER_BYTES = 10e9;

/** Roots this layer lists that a lower layer already ships: they contribute nothing here. */
export function redundantRoots(layer: string, roots: string[], shipped: Map<string, string>): string[] {
  return roots.filter((r) => shipped.has(r)).map((r) => `${layer}: root ${r} already ships in ${shipped.get(r)}; listing it here adds nothing`);
}

/** `count`: the image's OCI layers with a blob, every part of a split layer counted. */
export function layerCountWarning(count: number): string[] {
  return count > MAX_LAYERS
    ? [`the image has ${count} layers (each part of a split layer counts); more than ${MAX_LAYERS} exceed what overlayfs-based runtimes can mount: raise maxLayerSize`]
    : [];
}

export function bigLayerWarning(layer: string, bytes: number): string[] {
  return bytes > BIG_LAYER_BYTES ? [`${layer}: ${formatBytes(bytes)} in one layer (over ${formatBytes(BIG_LAYER_BYTES)}); registries and pulls handle smaller layers better`] : [];
}

/** Pure: the budget failure message, or undefined when within budget. */
export function budgetViolation(layer: string, bytes: number, budget: number | undefined, paths: { path: string; narSize: number }[]): string | undefined {
  if (budget === undefined || bytes <= budget) return undefined;
  const top = [...paths]
    .sort((a, b) => b.narSize - a.narSize)
    .slice(0, 5)
    .map((p) => `  ${formatBytes(p.narSize).padStart(9)}  ${p.path}`);
  return `${layer}: ${formatBytes(bytes)} (${bytes} bytes) exceeds its budget of ${formatBytes(budget)} (${budget} bytes); its five biggest new paths:\n${top.join('\n')}`;
}
