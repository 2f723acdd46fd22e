import type { StackPlan } from '../pipeline/plan-stack.ts';
import type { BuildPlan } from '../plan/build-plan.ts';
import { formatBytes } from '../util/bytes.ts';
import { columns } from './text.ts';

type PlanView = StackPlan;

const HEAVIEST_NOTE = 'those nixpkgs marks big-parallel (its long builds) first, then by number of input derivations; a guess, not a measurement';

function totals(plan: BuildPlan) {
  const sum = (f: (l: BuildPlan['layers'][number]) => number) => plan.layers.reduce((s, l) => s + f(l), 0);
  return { build: sum((l) => l.build.length), fetch: sum((l) => l.fetch.length), present: sum((l) => l.present.length), downloadBytes: sum((l) => l.downloadBytes) };
}

/** The summary line: what a build would do in all. */
export function planTotalLine(plan: BuildPlan): string {
  const t = totals(plan);
  return `${t.build} derivations to build, ${t.fetch} paths to fetch (${formatBytes(t.downloadBytes)} download), ${t.present} paths present`;
}

/** Paths nothing makes, paths no narinfo sized: `warning:` lines. */
export const planWarnings = (v: PlanView) => [
  ...(v.unknown.length ? [`warning: ${v.unknown.length} paths that no derivation or substituter makes: ${v.unknown.join(', ')}`] : []),
  ...(v.unsized.length ? [`warning: no narinfo found for ${v.unsized.length} paths to fetch (counted as 0 bytes): ${v.unsized.slice(0, 5).join(', ')}`] : []),
];

/** `megapak plan` as text: counts per layer, the heaviest builds, the download size. */
export function planText(v: PlanView): string {
  const rows: (string | number)[][] = [['layer', 'build', 'fetch', 'download', 'present']];
  for (const l of v.plan.layers) rows.push([l.name, l.build.length, l.fetch.length, formatBytes(l.downloadBytes), l.present.length]);
  const t = totals(v.plan);
  rows.push(['total', t.build, t.fetch, formatBytes(t.downloadBytes), t.present]);
  const lines = [columns(rows)];
  if (v.heaviest.length) {
    lines.push('', `heaviest builds (${HEAVIEST_NOTE}):`);
    for (const h of v.heaviest) lines.push(`  ${h.layer}  ${h.name}${h.bigParallel ? '  [big-parallel]' : ''}  ${h.drv}`);
  }
  lines.push('', `plan: ${planTotalLine(v.plan)}`, ...planWarnings(v));
  return lines.join('\n');
}

/** The same as a Markdown table, for a CI job summary ($GITHUB_STEP_SUMMARY). */
export function planMarkdown(v: PlanView, title: string): string {
  const t = totals(v.plan);
  const row = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const lines = [
    `### ${title}`,
    '',
    row(['layer', 'build', 'fetch', 'download', 'present']),
    '|---|--:|--:|--:|--:|',
    ...v.plan.layers.map((l) => row([l.name, l.build.length, l.fetch.length, formatBytes(l.downloadBytes), l.present.length])),
    row(['**total**', t.build, t.fetch, formatBytes(t.downloadBytes), t.present]),
  ];
  if (v.heaviest.length) {
    lines.push('', `Heaviest builds (${HEAVIEST_NOTE}):`, '');
    for (const h of v.heaviest) lines.push(`- ${h.layer}: \`${h.name}\`${h.bigParallel ? ' (big-parallel)' : ''}`);
  }
  for (const w of planWarnings(v)) lines.push('', `> ${w}`);
  return lines.join('\n');
}
