import { hierarchy, treemap, treemapSquarify } from 'd3-hierarchy';
import { formatBytes } from '../util/bytes.ts';
import { nameOf } from './closure-graph.ts';
import type { Report } from './report.ts';

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const hue = (i: number, n: number) => Math.round((i * 360) / Math.max(n, 1));

interface Node {
  name: string;
  layer?: number;
  size?: number;
  children?: Node[];
}

/** One self-contained page (inline SVG and CSS, no scripts or fonts): stacked bar, treemap, table. */
export function renderHtml(report: Report, title: string, allPaths: { layer: number; path: string; narSize: number }[]): string {
  const W = 1200;
  const n = report.layers.length;
  const total = Math.max(report.total.bytes, 1);

  let x = 0;
  const bar = report.layers
    .map((l, i) => {
      const w = (l.bytes / total) * W;
      const seg = `<g class="bar-layer" data-layer="${esc(l.name)}"><rect x="${x.toFixed(2)}" y="0" width="${Math.max(w, 0.5).toFixed(2)}" height="36" fill="hsl(${hue(i, n)} 60% 55%)"><title>${esc(l.name)}@${esc(l.version)}: ${formatBytes(l.bytes)}</title></rect>${
        w > 60 ? `<text x="${(x + 4).toFixed(2)}" y="23">${esc(l.name.replace('layer-', ''))}</text>` : ''
      }</g>`;
      x += w;
      return seg;
    })
    .join('');

  const root: Node = {
    name: 'image',
    children: report.layers.map((l, i) => ({
      name: l.name,
      layer: i,
      children: allPaths.filter((p) => p.layer === i).map((p) => ({ name: p.path, layer: i, size: Math.max(p.narSize, 1) })),
    })),
  };
  const H = 640;
  const laidOut = treemap<Node>().tile(treemapSquarify).size([W, H]).paddingOuter(2).paddingTop(16).paddingInner(1)(
    hierarchy(root)
      .sum((d) => d.size ?? 0)
      .sort((a, b) => (b.value ?? 0) - (a.value ?? 0)),
  );
  const groups = (laidOut.children ?? [])
    .map((layer) => {
      const i = layer.data.layer!;
      const leaves = (layer.children ?? [])
        .map((leaf) => {
          const w = leaf.x1 - leaf.x0;
          const h = leaf.y1 - leaf.y0;
          const label =
            w > 70 && h > 14 ? `<text x="${(leaf.x0 + 3).toFixed(1)}" y="${(leaf.y0 + 12).toFixed(1)}">${esc(nameOf(leaf.data.name).slice(0, Math.floor(w / 7)))}</text>` : '';
          return `<rect x="${leaf.x0.toFixed(1)}" y="${leaf.y0.toFixed(1)}" width="${w.toFixed(1)}" height="${h.toFixed(1)}" fill="hsl(${hue(i, n)} 55% 72%)"><title>${esc(leaf.data.name)}: ${formatBytes(leaf.value ?? 0)}</title></rect>${label}`;
        })
        .join('');
      return `<g class="layer" data-layer="${esc(layer.data.name)}"><rect x="${layer.x0.toFixed(1)}" y="${layer.y0.toFixed(1)}" width="${(layer.x1 - layer.x0).toFixed(1)}" height="${(layer.y1 - layer.y0).toFixed(1)}" fill="hsl(${hue(i, n)} 45% 40%)"/><text class="layer-label" x="${(layer.x0 + 4).toFixed(1)}" y="${(layer.y0 + 12).toFixed(1)}">${esc(layer.data.name)} · ${formatBytes(layer.value ?? 0)}</text>${leaves}</g>`;
    })
    .join('');

  const rows = report.layers
    .map(
      (l, i) =>
        `<tr class="layer-row"><td><span class="sw" style="background:hsl(${hue(i, n)} 60% 55%)"></span>${esc(l.name)}</td><td>${esc(l.version)}</td><td class="n">${l.paths}</td><td class="n">${formatBytes(l.bytes)}</td><td class="n">${
          l.size === null ? '—' : formatBytes(l.size)
        }</td><td class="n">${formatBytes(l.closureBytes)}</td><td><code>${l.parts ? `${l.parts.length} parts` : l.digest ? esc(l.digest.slice(0, 19)) : 'empty'}</code></td><td style="white-space:normal">${l.top
          .slice(0, 3)
          .map((t) => `${esc(nameOf(t.path))} (${formatBytes(t.narSize)})`)
          .join(', ')}</td></tr>`,
    )
    .join('\n');

  const t = report.total;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} — megapak report</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px;color:#1d1d1f;background:#fafafa}
h1{font-size:20px;margin:0 0 4px}.sub{color:#555;margin:0 0 16px}
svg text{font:11px system-ui,sans-serif;fill:#111;pointer-events:none}svg .layer-label{font-weight:600;fill:#fff}
.bar text{fill:#fff;font-weight:600;font-size:13px}
table{border-collapse:collapse;margin-top:16px;background:#fff}td,th{padding:4px 10px;white-space:nowrap;border-bottom:1px solid #e4e4e4;text-align:left;vertical-align:top}
th{background:#f0f0f0}.n{text-align:right;white-space:nowrap}.sw{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
code{font-size:12px}
</style></head><body>
<h1>${esc(title)}</h1>
<p class="sub">${report.layers.length} layers · ${t.paths} store paths · ${formatBytes(t.bytes)} of NAR data, each path shipped once ·
blobs ${formatBytes(t.size)} · a layering that repeats shared dependencies would ship ${formatBytes(t.cumulativeBytes)}: ours is <b>${t.savedPercent}% smaller</b></p>
<svg class="bar" width="${W}" height="36" viewBox="0 0 ${W} 36" role="img" aria-label="layers by size">${bar}</svg>
<h2 style="font-size:16px">Store paths by layer</h2>
<svg class="treemap" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="treemap of store paths">${groups}</svg>
<table><thead><tr><th>layer</th><th>version</th><th>paths</th><th>NAR</th><th>blob</th><th>own closure</th><th>digest</th><th>biggest paths</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</body></html>
`;
}
