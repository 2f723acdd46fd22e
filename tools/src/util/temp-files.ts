import { rmSync } from 'node:fs';

// Temp files of work in progress. The CLI removes them when the process is interrupted
// (cli/boundary.ts installs the signal handlers), so an aborted build leaves no half-written
// blob or output behind; a library user of the engine decides for itself.
const live = new Set<string>();

export function trackTemp(path: string): void {
  live.add(path);
}

export function untrackTemp(path: string): void {
  live.delete(path);
}

/** Remove every temp file still in progress (synchronous: called from a signal handler). */
export function removeLiveTemps(): void {
  for (const p of live) rmSync(p, { force: true, recursive: true });
  live.clear();
}
