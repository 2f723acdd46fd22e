import { formatBytes } from '../util/bytes.ts';
import type { LayerToc } from '../layer/toc-reader.ts';
import type { ImageSource, SourceLayer } from './image-source.ts';
import { heldBy, partialBytes } from './partial-pull.ts';
import { columns } from './text.ts';

export interface LayerDiff {
  layer: string;
  /** OCI layers (parts) of this logical layer on each side: 0 where it is absent. */
  oldParts: number;
  newParts: number;
  /** NEW's parts that OLD lacks. */
  partsChanged: number;
  /** Their sizes: what a puller holding OLD downloads for this layer. */
  downloadBytes: number;
  added: string[];
  removed: string[];
  /** With partial pulls (NEW has zstd:chunked or eStargz layers): the TOCs and the chunks OLD lacks (report/partial-pull.ts). */
  partialDownloadBytes?: number;
}

export interface ImageDiff {
  old: string;
  new: string;
  /** Sizes of NEW's blobs (layers and config) that OLD lacks. */
  downloadBytes: number;
  /** Of which the config. */
  configBytes: number;
  /** What a client with partial pulls downloads (config included); only when NEW has layers with a table of contents. */
  partialDownloadBytes?: number;
  layers: LayerDiff[];
}

/** The logical layers in NEW's order, then those only OLD has. */
function byLayer(a: SourceLayer[], b: SourceLayer[]): string[] {
  return [...new Set([...b.map((l) => l.layer), ...a.map((l) => l.layer)])];
}

/**
 * Pure: what NEW costs a puller that holds OLD. A blob counts as held when OLD has its digest,
 * or its diffID (a docker-archive side names layers by diffID only), in any layer.
 */
export function downloadPlan(a: Pick<ImageSource, 'config' | 'layers'>, b: Pick<ImageSource, 'config' | 'layers'>) {
  const held = new Set([...a.layers.flatMap((l) => [l.digest, l.diffId]), a.config.digest]);
  const lacking = (l: SourceLayer) => !held.has(l.digest) && !held.has(l.diffId);
  const configBytes = held.has(b.config.digest) ? 0 : b.config.size;
  const layers = byLayer(a.layers, b.layers).map((name) => {
    const olds = a.layers.filter((l) => l.layer === name);
    const news = b.layers.filter((l) => l.layer === name);
    const changed = news.filter(lacking);
    const newHeld = new Set(news.flatMap((l) => [l.digest, l.diffId]));
    const gone = olds.filter((l) => !newHeld.has(l.digest) && !newHeld.has(l.diffId));
    return { name, olds, news, changed, same: changed.length === 0 && gone.length === 0 };
  });
  return { configBytes, layers, downloadBytes: configBytes + layers.reduce((s, l) => s + l.changed.reduce((t, c) => t + c.size, 0), 0) };
}

/** `megapak diff`: the plan, with the store paths each changed logical layer added and removed (read from its tars). */
export async function diffImages(
  a: ImageSource,
  b: ImageSource,
  storePaths: (src: ImageSource, l: SourceLayer) => Promise<Set<string>>,
  tocs?: { old: Map<string, LayerToc>; new: Map<string, LayerToc> },
): Promise<ImageDiff> {
  const plan = downloadPlan(a, b);
  const held = tocs && tocs.new.size > 0 ? heldBy(a, tocs.old) : undefined;
  const partialOf = (ls: SourceLayer[]) => (held ? { partialDownloadBytes: ls.reduce((s, x) => s + partialBytes(x, tocs!.new.get(x.digest), held), 0) } : {});
  const layers: LayerDiff[] = [];
  for (const l of plan.layers) {
    let added: string[] = [];
    let removed: string[] = [];
    if (!l.same) {
      const pathsOf = async (src: ImageSource, ls: SourceLayer[]) => {
        const all = new Set<string>();
        for (const x of ls) for (const p of await storePaths(src, x)) all.add(p);
        return all;
      };
      const [was, now] = [await pathsOf(a, l.olds), await pathsOf(b, l.news)];
      added = [...now].filter((p) => !was.has(p)).sort();
      removed = [...was].filter((p) => !now.has(p)).sort();
    }
    layers.push({
      layer: l.name,
      oldParts: l.olds.length,
      newParts: l.news.length,
      partsChanged: l.changed.length,
      downloadBytes: l.changed.reduce((s, c) => s + c.size, 0),
      added,
      removed,
      ...partialOf(l.news),
    });
  }
  const partial = held ? { partialDownloadBytes: plan.configBytes + layers.reduce((s, l) => s + l.partialDownloadBytes!, 0) } : {};
  return { old: a.what, new: b.what, downloadBytes: plan.downloadBytes, configBytes: plan.configBytes, ...partial, layers };
}

/** `megapak diff` as text. */
export function diffText(d: ImageDiff): string {
  const rows: (string | number)[][] = [['layer', 'parts', 'changed', 'download', 'added', 'removed']];
  for (const l of d.layers) rows.push([l.layer, `${l.oldParts} → ${l.newParts}`, l.partsChanged, formatBytes(l.downloadBytes), l.added.length, l.removed.length]);
  rows.push(['config', '', d.configBytes ? 1 : 0, formatBytes(d.configBytes), '', '']);
  const lines = [`${d.old} → ${d.new}`, columns(rows), '', `download: ${formatBytes(d.downloadBytes)} (${d.downloadBytes} bytes)`];
  if (d.partialDownloadBytes !== undefined) lines.push(`with partial pulls: ${formatBytes(d.partialDownloadBytes)} (${d.partialDownloadBytes} bytes)`);
  for (const l of d.layers) {
    for (const p of l.added) lines.push(`  + ${l.layer}  ${p}`);
    for (const p of l.removed) lines.push(`  - ${l.layer}  ${p}`);
  }
  return lines.join('\n');
}
