import cliProgress from 'cli-progress';
import { formatBytes } from '../util/bytes.ts';

export type BlobOutcome = 'uploaded' | 'skipped' | 'mounted';

/** What a push reports about each blob. */
export interface PushProgress {
  start(label: string, size: number): void;
  bytes(label: string, n: number): void;
  done(label: string, outcome: BlobOutcome, size: number, seconds: number): void;
  stop(): void;
}

/** Plain lines (CI logs, pipes): one when an upload starts, one when any blob is settled. */
export class LinePushProgress implements PushProgress {
  constructor(private readonly out: NodeJS.WritableStream = process.stderr) {}
  start(label: string, size: number): void {
    this.out.write(`${label}: uploading ${formatBytes(size)}\n`);
  }
  bytes(_label: string, _n: number): void {}
  done(label: string, outcome: BlobOutcome, size: number, seconds: number): void {
    const speed = outcome === 'uploaded' && seconds > 0 ? ` in ${seconds.toFixed(1)} s (${formatBytes(size / seconds)}/s)` : '';
    this.out.write(`${label}: ${outcome} ${formatBytes(size)}${speed}\n`);
  }
  stop(): void {}
}

/** On a terminal: a bar per uploading blob with bytes and speed, plus the settled lines. */
export class TtyPushProgress extends LinePushProgress {
  private readonly multi = new cliProgress.MultiBar(
    { format: '{label} [{bar}] {percentage}% | {value_mb}/{total_mb} MB | {speed}', hideCursor: true, clearOnComplete: true, stream: process.stderr },
    cliProgress.Presets.shades_classic,
  );
  private readonly bars = new Map<string, { bar: cliProgress.SingleBar; sent: number; started: number }>();
  override start(label: string, size: number): void {
    const bar = this.multi.create(size, 0, { label, value_mb: '0', total_mb: (size / 1e6).toFixed(1), speed: '' });
    this.bars.set(label, { bar, sent: 0, started: performance.now() });
  }
  override bytes(label: string, n: number): void {
    const b = this.bars.get(label);
    if (!b) return;
    b.sent += n;
    const secs = (performance.now() - b.started) / 1000;
    b.bar.update(b.sent, { value_mb: (b.sent / 1e6).toFixed(1), speed: secs > 0 ? `${formatBytes(b.sent / secs)}/s` : '' });
  }
  override done(label: string, outcome: BlobOutcome, size: number, seconds: number): void {
    const b = this.bars.get(label);
    if (b) {
      this.multi.remove(b.bar);
      this.bars.delete(label);
    }
    this.multi.log(`${label}: ${outcome} ${formatBytes(size)}${outcome === 'uploaded' && seconds > 0 ? ` (${formatBytes(size / seconds)}/s)` : ''}\n`);
  }
  override stop(): void {
    this.multi.stop();
  }
}

export function pushProgressFor(stream: NodeJS.WriteStream = process.stderr): PushProgress {
  return stream.isTTY ? new TtyPushProgress() : new LinePushProgress(stream);
}
