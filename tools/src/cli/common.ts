import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { BlobStore } from '../layer/blob-store.ts';
import { parseCompression } from '../layer/compression.ts';
import { loadStack, type Stack } from '../stack/stack.ts';
import { progressFor, formatBytes, type Progress } from '../util/progress.ts';
import { requireRecord, type LayerRecord } from '../layer/layer-record.ts';
import { COMPRESSIONS, type Compression } from '../layer/compression.ts';
import { buildReport, type Report } from '../report/report.ts';

/** The repository root (the real stack, and the default `--stack`): where pnpm-workspace.yaml is. */
export const REPO_ROOT = (() => {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
  return process.cwd();
})();

export interface Env {
  stack: Stack;
  blobs: BlobStore;
  progress: Progress;
}

export async function setup(stackDir: string | undefined): Promise<Env> {
  return { stack: await loadStack(stackDir ?? REPO_ROOT), blobs: new BlobStore(), progress: progressFor() };
}

/** `--compression` beats MEGAPAK_COMPRESSION (the form Turborepo passes); gzip by default. */
export function compressionFrom(option: string | undefined): Compression {
  return parseCompression(option ?? process.env.MEGAPAK_COMPRESSION ?? 'gzip');
}

/** Rows of cells as left-aligned columns (numbers right-aligned), two spaces apart. */
export function columns(rows: (string | number)[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, String(c).length)));
  return rows
    .map((r) => r.map((c, i) => (typeof c === 'number' || /^[\d.]+ [KMGT]?B$/.test(String(c)) ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!))).join('  ').trimEnd())
    .join('\n');
}

export function layerTable(records: LayerRecord[], streamed: Set<string>): string {
  const rows = records.map((r) =>
    [
      `${r.name}@${r.version}`,
      String(r.paths.length),
      formatBytes(r.narSize),
      r.size === null ? '-' : formatBytes(r.size),
      r.digest ? r.digest.slice(0, 19) : 'empty',
      r.empty ? 'empty' : streamed.has(r.name) ? 'streamed' : 'cached',
    ],
  );
  return columns([['layer', 'paths', 'NAR', 'blob', 'digest', 'blob source'], ...rows]);
}

/** Every layer's record, or one line saying which layer to build first. */
export async function allRecords(stack: Stack, what: string): Promise<LayerRecord[]> {
  const out: LayerRecord[] = [];
  for (const l of stack.layers) out.push(await requireRecord(l, what));
  return out;
}

export async function reportFor(records: LayerRecord[], blobs: BlobStore, top: number): Promise<Report> {
  const sizes = new Map<string, Record<Compression, number | null>>();
  for (const r of records) {
    const s = { none: null, gzip: null, zstd: null } as Record<Compression, number | null>;
    if (!r.empty) for (const c of COMPRESSIONS) s[c] = (await blobs.lookup(r.contentKey, c))?.size ?? null;
    sizes.set(r.name, s);
  }
  return buildReport(records, (r) => sizes.get(r.name)!, top);
}

export function reportText(rep: Report): string {
  const rows: (string | number)[][] = [['layer', 'paths', 'NAR', 'none', 'gzip', 'zstd', 'own closure', 'digest']];
  const sz = (n: number | null) => (n === null ? '-' : formatBytes(n));
  for (const l of rep.layers)
    rows.push([`${l.name}@${l.version}`, l.paths, formatBytes(l.bytes), sz(l.sizes.none), sz(l.sizes.gzip), sz(l.sizes.zstd), formatBytes(l.closureBytes), l.digest?.slice(0, 19) ?? 'empty']);
  const lines = [columns(rows), '', 'biggest paths per layer:'];
  for (const l of rep.layers) for (const t of l.top.slice(0, 3)) lines.push(`  ${l.name}  ${formatBytes(t.narSize).padStart(9)}  ${t.path}`);
  const t = rep.total;
  lines.push(
    '',
    `total: ${t.paths} store paths, ${formatBytes(t.bytes)} NAR (each path once), ${formatBytes(t.size)} in blobs; ` +
      `a layering that repeats shared dependencies ships ${formatBytes(t.cumulativeBytes)}: ours is ${t.savedPercent}% smaller`,
  );
  return lines.join('\n');
}
