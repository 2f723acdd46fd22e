import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Sample {
  seconds: number;
  /** Peak resident set of the largest process (GNU time's %M), in MB. */
  rssMB: number;
  stdout: string;
  stderr: string;
}

/** Run a command under GNU time; fails loudly on a non-zero exit. */
export async function measure(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Sample> {
  const dir = await mkdtemp(join(tmpdir(), 'megapak-bench-time-'));
  const out = join(dir, 'time');
  const child = spawn('/usr/bin/time', ['-f', '%e %M', '-o', out, cmd, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => (stderr += b));
  const code: number = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}\n${stderr.slice(-3000)}\n${stdout.slice(-2000)}`);
  const [secs, kb] = (await readFile(out, 'utf8')).trim().split(/\s+/).slice(-2).map(Number);
  await rm(dir, { recursive: true, force: true });
  return { seconds: secs!, rssMB: kb! / 1024, stdout, stderr };
}

export interface Stat {
  runs: number[];
  min: number;
  median: number;
  rssMB: number;
}

export function stat(samples: Sample[]): Stat {
  const runs = samples.map((s) => s.seconds).sort((a, b) => a - b);
  return {
    runs,
    min: runs[0]!,
    median: runs[Math.floor((runs.length - 1) / 2)]!,
    rssMB: Math.max(...samples.map((s) => s.rssMB)),
  };
}

/** Repeat `once` n times (each gets its run index), collecting samples. */
export async function repeat(n: number, once: (i: number) => Promise<Sample>): Promise<Sample[]> {
  const out: Sample[] = [];
  for (let i = 0; i < n; i++) out.push(await once(i));
  return out;
}

/** One row of the bench table: our figure beside a reference, and the goal it is held to. */
export interface Row {
  stack: string;
  what: string;
  ours: Stat;
  reference?: { name: string; stat: Stat };
  goal: string;
  met: boolean;
  /** Unit of the figures (default seconds). */
  unit?: 'MB';
}

/** A figure that is not a time (bytes pulled) as a one-sample Stat. */
export const figure = (n: number): Stat => ({ runs: [n], min: n, median: n, rssMB: 0 });
