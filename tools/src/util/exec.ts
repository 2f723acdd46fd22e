import { spawn, type ChildProcess } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { MegapakError, MissingToolError } from './errors.ts';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** A program's stderr as one line (messages are one line). */
const oneLine = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .join('; ');

const debianPackageOf = (cmd: string) => (cmd.startsWith('nix') ? 'nix-bin' : cmd === 'docker' ? 'docker.io' : cmd);

/** Run a program to completion and capture its output; a missing binary is a MissingToolError. */
export function execCapture(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new MissingToolError(cmd, debianPackageOf(cmd)) : e));
    child.on('close', (code) => resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: code ?? 1 }));
  });
}

/** A program fed through its stdin (zstd, docker load). */
export interface Piped {
  child: ChildProcess;
  stdin: Writable;
  /** Its stdout when asked for as 'pipe' (null when it writes to a file descriptor). */
  stdout: Readable | null;
  /**
   * Settles when the program has exited: resolves with its stdout text (when captured) on
   * exit 0; rejects with one line — a MissingToolError, or "<what> exited with N: <stderr>".
   */
  exited: Promise<string>;
}

/**
 * Spawn `cmd` with a piped stdin. 'error' events are handled (a missing binary rejects
 * `exited` instead of crashing the process), and an EPIPE on stdin (the program exited early)
 * is left to `feed`, which reports the program's exit and stderr rather than the EPIPE.
 */
export function spawnPiped(cmd: string, args: string[], o: { stdout?: 'pipe' | 'capture' | number; what?: string } = {}): Piped {
  const child = spawn(cmd, args, { stdio: ['pipe', o.stdout === 'capture' ? 'pipe' : (o.stdout ?? 'pipe'), 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  if (o.stdout === 'capture') child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stdin!.on('error', () => {}); // EPIPE: the exit status below says why
  const exited = new Promise<string>((resolve, reject) => {
    child.on('error', (e: NodeJS.ErrnoException) => reject(e.code === 'ENOENT' ? new MissingToolError(cmd, debianPackageOf(cmd)) : e));
    child.on('close', (code, signal) =>
      code === 0 ? resolve(stdout.trim()) : reject(new MegapakError(`${o.what ?? cmd} exited with ${code ?? signal}: ${oneLine(stderr) || '(no message)'}`)),
    );
  });
  exited.catch(() => {}); // observed by whoever awaits it; never an unhandled rejection
  return { child, stdin: child.stdin!, stdout: o.stdout === 'capture' ? null : child.stdout, exited };
}

/**
 * Write into a piped program with `produce`, close its stdin and wait for its exit. When the
 * writing fails because the program went away, the program's own failure is what is thrown.
 */
export async function feed(p: Piped, produce: () => Promise<void>): Promise<string> {
  try {
    await produce();
    p.stdin.end();
  } catch (err) {
    p.stdin.destroy();
    if (err instanceof MegapakError) {
      // Our side failed (a blob that does not match its record): that is the message, not the
      // program's complaint about a cut-off input; and it must not keep a part.
      p.child.kill('SIGTERM');
      await p.exited.catch(() => {});
      throw err;
    }
    await p.exited; // the program went away: rejects with its own message
    throw err;
  }
  return p.exited;
}
