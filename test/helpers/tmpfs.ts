import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './cli.ts';
import { tempDir } from './fixture.ts';

export interface Tmpfs {
  dir: string;
  /** Change its size (a full disk made roomy again), or make it read-only ('ro'). */
  remount: (opts: string) => Promise<void>;
  unmount: () => Promise<void>;
}

/** A small tmpfs of its own (the tests run as root): a file system that fills up, or that a hard link cannot reach. */
export async function mountTmpfs(size: string): Promise<Tmpfs> {
  const dir = join(await tempDir('tmpfs'), 'mnt');
  await mkdir(dir);
  const must = async (args: string[]) => {
    const r = await run(args[0]!, args.slice(1));
    if (r.code !== 0) throw new Error(`${args.join(' ')}: ${r.stderr}`);
  };
  await must(['mount', '-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  return {
    dir,
    remount: (opts) => must(['mount', '-o', `remount,${opts}`, dir]),
    unmount: async () => {
      await must(['umount', dir]);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
