import { rmSync } from 'node:fs';

// Temp files of a build in progress; removed if the process is interrupted, so that an
// aborted build leaves no half-written blob or output behind.
const live = new Set<string>();
let hooked = false;

function cleanupAndExit(signal: NodeJS.Signals): void {
  for (const p of live) rmSync(p, { force: true, recursive: true });
  process.exit(signal === 'SIGINT' ? 130 : 143);
}

export function trackTemp(path: string): void {
  if (!hooked) {
    hooked = true;
    process.once('SIGINT', cleanupAndExit);
    process.once('SIGTERM', cleanupAndExit);
  }
  live.add(path);
}

export function untrackTemp(path: string): void {
  live.delete(path);
}
