import { COMPRESSIONS } from '../model/compression.ts';
import { isSplit, type LayerRecord } from '../model/vocabulary.ts';
import { formatBytes } from '../util/bytes.ts';
import type { Report } from './report.ts';

/** Rows of cells as left-aligned columns (numbers right-aligned), two spaces apart. */
export function columns(rows: (string | number)[][]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, String(c).length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (typeof c === 'number' || /^[\d.]+ [KMGT]?B$/.test(String(c)) ? String(c).padStart(widths[i]!) : String(c).padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** The table `megapak build` and `megapak layer` print. */
export function layerTable(records: LayerRecord[], streamed: Set<string>): string {
  const rows = records.map((r) => [
    `${r.name}@${r.version}`,
    String(r.paths.length),
    formatBytes(r.narSize),
    r.empty ? '-' : formatBytes(r.size),
    r.empty ? 'empty' : isSplit(r) ? `${r.parts.length} parts` : r.digest.slice(0, 19),
    r.empty ? 'empty' : streamed.has(r.name) ? 'streamed' : 'cached',
  ]);
  return columns([['layer', 'paths', 'NAR', 'blob', 'digest', 'blob source'], ...rows]);
}

/** `megapak report` as text. */
export function reportText(rep: Report): string {
  const rows: (string | number)[][] = [['layer', 'paths', 'NAR', ...COMPRESSIONS, 'own closure', 'digest']];
  const sz = (n: number | null | undefined) => (n === null || n === undefined ? '-' : formatBytes(n));
  for (const l of rep.layers)
    rows.push([
      `${l.name}@${l.version}`,
      l.paths,
      formatBytes(l.bytes),
      ...COMPRESSIONS.map((c) => sz(l.sizes[c])),
      formatBytes(l.closureBytes),
      l.parts ? `${l.parts.length} parts` : (l.digest?.slice(0, 19) ?? 'empty'),
    ]);
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
