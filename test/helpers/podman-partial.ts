import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from './cli.ts';
import { tempDir } from './fixture.ts';

export interface OverlayPodman {
  podman: (args: string[], timeoutMs?: number) => ReturnType<typeof run>;
  stop: () => Promise<void>;
}

/**
 * Debian's podman as root on the overlay driver (what partial pulls need; vfs cannot), every
 * piece of state in a temp folder, partial pulls on or off through its own storage.conf
 * (CONTAINERS_STORAGE_CONF), as a user turns them on.
 */
export async function startOverlayPodman(partial: boolean): Promise<OverlayPodman> {
  const dir = await tempDir('podman-overlay');
  const conf = join(dir, 'storage.conf');
  await writeFile(
    conf,
    `[storage]\ndriver = "overlay"\ngraphroot = "${dir}/root"\nrunroot = "${dir}/run"\n[storage.options]\npull_options = {enable_partial_images = "${partial}", use_hard_links = "false", ostree_repos = ""}\n`,
  );
  const env = { ...process.env, CONTAINERS_STORAGE_CONF: conf };
  const podman = (args: string[], timeoutMs = 180_000) =>
    run('podman', ['--cgroup-manager=cgroupfs', '--events-backend=file', `--tmpdir=${join(dir, 'tmp')}`, ...args], { env, timeoutMs });
  return {
    podman,
    stop: async () => {
      await podman(['image', 'unmount', '--all'], 30_000);
      // Removing the images unmounts the overlay layers; the rest is files.
      await podman(['rmi', '--all', '--force'], 60_000);
      await run('umount', ['-l', join(dir, 'root', 'overlay')]);
      await run('rm', ['-rf', dir]);
    },
  };
}
