import { spawn } from 'node:child_process';
import { MegapakError } from './errors.ts';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Run a program to completion and capture its output; a missing binary is a MegapakError (exit 2). */
export function execCapture(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') reject(new MegapakError(`'${cmd}' was not found on PATH; install it (Debian: apt-get install -y ${cmd.startsWith('nix') ? 'nix-bin' : cmd})`, 2));
      else reject(e);
    });
    child.on('close', (code) =>
      resolve({ stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), code: code ?? 1 }),
    );
  });
}
