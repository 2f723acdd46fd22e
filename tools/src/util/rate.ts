import { formatBytes } from './bytes.ts';

/**
 * Throughput over a sliding window (default 5 s), so the rate and the ETA follow the current
 * speed rather than the average since the start (a registry that slows down shows it).
 */
export class RateMeter {
  private samples: { t: number; total: number }[] = [];
  private total = 0;
  constructor(private readonly windowMs = 5000) {}

  add(bytes: number, now = performance.now()): void {
    this.total += bytes;
    this.samples.push({ t: now, total: this.total });
    while (this.samples.length > 2 && now - this.samples[1]!.t > this.windowMs) this.samples.shift();
  }

  /** Bytes per second; 0 until two samples a moment apart exist. */
  rate(now = performance.now()): number {
    const first = this.samples[0];
    if (!first) return 0;
    const span = Math.max(now, this.samples.at(-1)!.t) - first.t;
    return span < 200 ? 0 : ((this.total - first.total) / span) * 1000;
  }
}

/** `1:02:03`, `4:05`, or `--:--` when unknown. */
export function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const hms = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const two = (n: number) => String(n).padStart(2, '0');
  return hms[0] ? `${hms[0]}:${two(hms[1]!)}:${two(hms[2]!)}` : `${hms[1]}:${two(hms[2]!)}`;
}

export interface ProgressState {
  label: string;
  done: number;
  total: number;
  /** Bytes per second. */
  rate: number;
}

/** `done/total  rate  ETA` — the numbers both the terminal bar and the plain lines show. */
export function progressFigures(p: ProgressState): string {
  const eta = p.rate > 0 ? formatEta((p.total - p.done) / p.rate) : '--:--';
  // Fixed widths, so the bar does not jump as the numbers grow.
  const rate = p.rate > 0 ? `${formatBytes(p.rate)}/s` : '-- B/s';
  return `${formatBytes(p.done).padStart(8)}/${formatBytes(p.total).padEnd(8)} ${rate.padStart(10)}  ${`ETA ${eta}`.padStart(9)}`;
}

/**
 * One terminal line no wider than `columns - 1` (so it never wraps and breaks the redraw):
 * label, a bar filling the room left, percent, bytes, rate, ETA. A label too long is cut.
 */
export function progressLine(p: ProgressState, columns: number, labelColumn = 0): string {
  const width = Math.max(20, columns - 1);
  const pct = `${Math.floor((p.total > 0 ? Math.min(1, p.done / p.total) : 1) * 100)}%`.padStart(4);
  const figures = ` ${pct} ${progressFigures(p)}`;
  const minBar = 10;
  const room = width - figures.length - minBar - 3;
  // `labelColumn` pads labels to one width, so the bars of a multi-bar line up.
  const column = Math.max(0, Math.min(room, Math.max(labelColumn, p.label.length)));
  const label = p.label.length > column ? (column > 1 ? `${p.label.slice(0, column - 1)}…` : '') : p.label.padEnd(column);
  const barWidth = Math.max(0, width - label.length - figures.length - 3);
  if (barWidth < minBar) return `${label} ${figures.trim()}`.slice(0, width);
  const filled = Math.round(barWidth * (p.total > 0 ? Math.min(1, p.done / p.total) : 1));
  return `${label} [${'█'.repeat(filled)}${'░'.repeat(barWidth - filled)}]${figures}`;
}
