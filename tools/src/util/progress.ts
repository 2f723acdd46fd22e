import cliProgress from 'cli-progress';
import { formatBytes } from './bytes.ts';
import { progressFigures, progressLine, RateMeter } from './rate.ts';

/** What long-running work reports; the CLI picks a TTY bar or plain lines. */
export interface Progress {
  step(what: string, message: string): void;
  streamStart(what: string, totalBytes: number): void;
  streamBytes(n: number): void;
  streamEnd(what: string, blobBytes: number): void;
  log(message: string): void;
}

/** How often plain (non-terminal) output reports a long stream: one line per interval. */
const PLAIN_EVERY_MS = 10_000;

/**
 * Plain lines on stderr (CI logs, pipes): one when a stream starts, one every 10 s with bytes,
 * rate and ETA while it runs, and one with its throughput when it ends.
 */
export class LineProgress implements Progress {
  private started = 0;
  private bytes = 0;
  private total = 0;
  private what = '';
  private lastLine = 0;
  protected meter = new RateMeter();
  constructor(protected readonly out: NodeJS.WritableStream = process.stderr) {}
  step(what: string, message: string): void {
    this.out.write(`${what}: ${message}\n`);
  }
  streamStart(what: string, total: number): void {
    this.started = this.lastLine = performance.now();
    this.bytes = 0;
    this.total = total;
    this.what = what;
    this.meter = new RateMeter();
    this.out.write(`${what}: streaming ${formatBytes(total)} from the store\n`);
  }
  streamBytes(n: number): void {
    this.bytes += n;
    this.meter.add(n);
    const now = performance.now();
    if (now - this.lastLine >= PLAIN_EVERY_MS && this.plainLines()) {
      this.lastLine = now;
      this.out.write(`${this.what}: ${progressFigures({ label: this.what, done: this.bytes, total: this.total, rate: this.meter.rate(now) })}\n`);
    }
  }
  /** Whether the periodic lines are wanted (a terminal has its bar instead). */
  protected plainLines(): boolean {
    return true;
  }
  streamEnd(what: string, blobBytes: number): void {
    const s = (performance.now() - this.started) / 1000;
    this.out.write(`${what}: wrote ${formatBytes(blobBytes)} blob in ${s.toFixed(1)} s (${formatBytes(this.bytes / Math.max(s, 1e-3))}/s read)\n`);
  }
  log(message: string): void {
    this.out.write(`${message}\n`);
  }
}

/** On a terminal: the same lines, plus a live bar (bytes, rate, ETA) fitted to its width while a tar streams. */
export class TtyProgress extends LineProgress {
  private bar?: cliProgress.SingleBar;
  private done = 0;
  constructor(private readonly tty: NodeJS.WriteStream = process.stderr) {
    super(tty);
  }
  protected override plainLines(): boolean {
    return false;
  }
  override streamStart(what: string, total: number): void {
    super.streamStart(what, total);
    this.done = 0;
    this.bar = new cliProgress.SingleBar({
      format: (_o, params) => progressLine({ label: what, done: params.value, total: params.total, rate: this.meter.rate() }, this.tty.columns || 80),
      hideCursor: true,
      clearOnComplete: true,
      stream: this.tty,
    });
    this.bar.start(total, 0);
  }
  override streamBytes(n: number): void {
    super.streamBytes(n);
    this.done += n;
    this.bar?.update(this.done);
  }
  override streamEnd(what: string, blobBytes: number): void {
    this.bar?.stop();
    this.bar = undefined;
    super.streamEnd(what, blobBytes);
  }
}

export function progressFor(stream: NodeJS.WriteStream = process.stderr): Progress {
  return stream.isTTY ? new TtyProgress(stream) : new LineProgress(stream);
}
