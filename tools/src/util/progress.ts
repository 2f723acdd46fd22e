import cliProgress from 'cli-progress';
import { formatBytes } from './bytes.ts';

/** What long-running work reports; the CLI picks a TTY bar or plain lines. */
export interface Progress {
  step(what: string, message: string): void;
  streamStart(what: string, totalBytes: number): void;
  streamBytes(n: number): void;
  streamEnd(what: string, blobBytes: number): void;
  log(message: string): void;
}

export const silentProgress: Progress = {
  step() {},
  streamStart() {},
  streamBytes() {},
  streamEnd() {},
  log() {},
};

/** Plain lines on stderr: one when a stream starts and one with its throughput when it ends. */
export class LineProgress implements Progress {
  private started = 0;
  private bytes = 0;
  constructor(private readonly out: NodeJS.WritableStream = process.stderr) {}
  step(what: string, message: string): void {
    this.out.write(`${what}: ${message}\n`);
  }
  streamStart(what: string, total: number): void {
    this.started = performance.now();
    this.bytes = 0;
    this.out.write(`${what}: streaming ${formatBytes(total)} from the store\n`);
  }
  streamBytes(n: number): void {
    this.bytes += n;
  }
  streamEnd(what: string, blobBytes: number): void {
    const s = (performance.now() - this.started) / 1000;
    this.out.write(`${what}: wrote ${formatBytes(blobBytes)} blob in ${s.toFixed(1)} s (${formatBytes(this.bytes / Math.max(s, 1e-3))}/s read)\n`);
  }
  log(message: string): void {
    this.out.write(`${message}\n`);
  }
}

/** On a terminal: the same lines, plus a live bar with bytes and speed while a tar streams. */
export class TtyProgress extends LineProgress {
  private bar?: cliProgress.SingleBar;
  private done = 0;
  override streamStart(what: string, total: number): void {
    super.streamStart(what, total);
    this.done = 0;
    this.bar = new cliProgress.SingleBar(
      { format: `${what} [{bar}] {percentage}% | {doneMB}/{totalMB} MB | {speed} MB/s`, hideCursor: true, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { doneMB: '0', totalMB: (total / 1e6).toFixed(0), speed: '0' });
  }
  override streamBytes(n: number): void {
    super.streamBytes(n);
    this.done += n;
    const bar = this.bar as unknown as { startTime?: number } | undefined;
    const secs = bar?.startTime ? (Date.now() - bar.startTime) / 1000 : 0;
    this.bar?.update(this.done, { doneMB: (this.done / 1e6).toFixed(0), speed: secs > 0 ? (this.done / 1e6 / secs).toFixed(0) : '0' });
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
