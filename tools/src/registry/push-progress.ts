import cliProgress from 'cli-progress';
import { formatBytes } from '../util/bytes.ts';
import { progressFigures, progressLine, RateMeter } from '../util/rate.ts';

export type BlobOutcome = 'uploaded' | 'skipped' | 'mounted';

/** What a push reports about each blob, and about the whole push. */
export interface PushProgress {
  /** Before any blob: the bytes of every blob of the image (present and mounted ones count as done when settled). */
  begin(totalBytes: number): void;
  start(label: string, size: number): void;
  bytes(label: string, n: number): void;
  done(label: string, outcome: BlobOutcome, size: number, seconds: number): void;
  stop(): void;
}

const PLAIN_EVERY_MS = 10_000;
/** A layer name and a short digest (`layer-02 b30b1b99c44c`): the bars line up. */
const LABEL_COLUMN = 21;

/** Bytes settled over the whole push and the upload rate: the overall figures and ETA. */
class PushTotals {
  total = 0;
  settled = 0;
  /** Bytes sent for uploads still running (an upload that fails over and resumes may resend). */
  inFlight = new Map<string, number>();
  meter = new RateMeter();
  get done(): number {
    let n = this.settled;
    for (const v of this.inFlight.values()) n += v;
    return Math.min(n, this.total);
  }
  figures(label = 'push') {
    return { label, done: this.done, total: this.total, rate: this.meter.rate() };
  }
}

/** Plain lines (CI logs, pipes): one when an upload starts, one every 10 s for the whole push, one when any blob is settled. */
export class LinePushProgress implements PushProgress {
  protected totals = new PushTotals();
  private lastLine = performance.now();
  constructor(protected readonly out: NodeJS.WritableStream = process.stderr) {}
  begin(totalBytes: number): void {
    this.totals.total = totalBytes;
  }
  start(label: string, size: number): void {
    this.totals.inFlight.set(label, 0);
    this.out.write(`${label}: uploading ${formatBytes(size)}\n`);
  }
  bytes(label: string, n: number): void {
    this.totals.inFlight.set(label, (this.totals.inFlight.get(label) ?? 0) + n);
    this.totals.meter.add(n);
    const now = performance.now();
    if (this.plainLines() && now - this.lastLine >= PLAIN_EVERY_MS) {
      this.lastLine = now;
      this.out.write(`push: ${progressFigures(this.totals.figures())}\n`);
    }
  }
  protected plainLines(): boolean {
    return true;
  }
  protected settle(label: string, size: number): void {
    this.totals.inFlight.delete(label);
    this.totals.settled += size;
  }
  done(label: string, outcome: BlobOutcome, size: number, seconds: number): void {
    this.settle(label, size);
    this.out.write(`${label}: ${doneText(outcome, size, seconds)}\n`);
  }
  stop(): void {}
}

const doneText = (outcome: BlobOutcome, size: number, seconds: number) =>
  `${outcome} ${formatBytes(size)}${outcome === 'uploaded' && seconds > 0 ? ` in ${seconds.toFixed(1)} s (${formatBytes(size / seconds)}/s)` : ''}`;

/** On a terminal: a bar for the whole push (bytes, rate, ETA), one per uploading blob, and the settled lines above them. */
export class TtyPushProgress extends LinePushProgress {
  private readonly multi: cliProgress.MultiBar;
  private overall?: cliProgress.SingleBar;
  private readonly bars = new Map<string, { bar: cliProgress.SingleBar; meter: RateMeter; sent: number }>();
  constructor(private readonly tty: NodeJS.WriteStream = process.stderr) {
    super(tty);
    this.multi = new cliProgress.MultiBar({
      format: (_o, params, payload: { label: string; meter: RateMeter }) =>
        progressLine({ label: payload.label, done: params.value, total: params.total, rate: payload.meter.rate() }, this.tty.columns || 80, LABEL_COLUMN),
      hideCursor: true,
      clearOnComplete: true,
      stream: this.tty,
    });
  }
  protected override plainLines(): boolean {
    return false;
  }
  override begin(totalBytes: number): void {
    super.begin(totalBytes);
    this.overall = this.multi.create(totalBytes, 0, { label: 'push (all blobs)', meter: this.totals.meter });
  }
  override start(label: string, size: number): void {
    this.totals.inFlight.set(label, 0);
    const meter = new RateMeter();
    this.bars.set(label, { bar: this.multi.create(size, 0, { label, meter }), meter, sent: 0 });
  }
  override bytes(label: string, n: number): void {
    super.bytes(label, n);
    const b = this.bars.get(label);
    if (b) {
      b.sent += n;
      b.meter.add(n);
      b.bar.update(b.sent);
    }
    this.overall?.update(this.totals.done);
  }
  override done(label: string, outcome: BlobOutcome, size: number, seconds: number): void {
    this.settle(label, size);
    const b = this.bars.get(label);
    if (b) {
      this.multi.remove(b.bar);
      this.bars.delete(label);
    }
    this.overall?.update(this.totals.done);
    this.multi.log(`${label}: ${doneText(outcome, size, seconds)}\n`);
  }
  override stop(): void {
    this.multi.stop();
  }
}

export function pushProgressFor(stream: NodeJS.WriteStream = process.stderr): PushProgress {
  return stream.isTTY ? new TtyPushProgress(stream) : new LinePushProgress(stream);
}
