import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm, symlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { run } from './cli.ts';
import { tempDir } from './fixture.ts';

export interface Docker {
  /** Environment for anything that runs `docker` (megapak included): DOCKER_HOST and PATH. */
  env: NodeJS.ProcessEnv;
  /** `docker ARGS` with that environment, bounded in time. */
  docker: (args: string[], timeoutMs?: number) => ReturnType<typeof run>;
  clientVersion: string;
  serverVersion: string;
  /** True when this helper started the daemon (and will stop it). */
  started: boolean;
  stop: () => Promise<void>;
}

const which = async (cmd: string) => {
  const r = await run('sh', ['-c', `command -v ${cmd}`]);
  return r.code === 0 ? r.stdout.trim() : undefined;
};

async function versions(env: NodeJS.ProcessEnv): Promise<{ client: string; server: string } | undefined> {
  const r = await run('docker', ['version', '--format', '{{.Client.Version}} {{.Server.Version}}'], { env, timeoutMs: 15_000 });
  const [client, server] = r.stdout.trim().split(' ');
  return r.code === 0 && client && server ? { client, server } : undefined;
}

/**
 * A Docker daemon for the tests. One that already answers `docker info` is used as it is, with
 * the `docker` on PATH, unless `daemonArgs` ask for settings of its own. Otherwise this starts Debian's `dockerd` without a bridge network or
 * iptables (containers run with `--network none`), with its own socket, data root and exec root
 * in a temp folder so nothing of the machine's is touched, and stops exactly that process.
 *
 * The client is chosen deliberately: for a daemon we start, the `docker` installed beside that
 * `dockerd` (the same release, so no API negotiation is involved); a newer static client that
 * happens to be first on PATH (e.g. /usr/local/bin/docker) would negotiate down to the daemon's
 * API, which is not what this checks.
 */
export async function startDocker(opts: { daemonArgs?: string[] } = {}): Promise<Docker> {
  // Daemon settings (`daemonArgs`, e.g. --max-concurrent-downloads) need a daemon of our own.
  const existing = opts.daemonArgs?.length ? undefined : await versions(process.env);
  if (existing) {
    return {
      env: {},
      docker: (args, timeoutMs = 120_000) => run('docker', args, { timeoutMs }),
      clientVersion: existing.client,
      serverVersion: existing.server,
      started: false,
      stop: async () => {},
    };
  }
  const dockerd = await which('dockerd');
  if (!dockerd) throw new Error('no Docker daemon answers and dockerd is not installed (scripts/setup.sh installs docker.io)');
  const pairedClient = join(dirname(dirname(dockerd)), 'bin', 'docker');
  const dir = await tempDir('dockerd');
  const bin = join(dir, 'bin');
  await mkdir(bin);
  await symlink(existsSync(pairedClient) ? pairedClient : ((await which('docker')) ?? pairedClient), join(bin, 'docker'));
  const sock = join(dir, 'docker.sock');
  const env: NodeJS.ProcessEnv = { DOCKER_HOST: `unix://${sock}`, PATH: `${bin}:${process.env.PATH}` };
  const proc: ChildProcess = spawn(
    dockerd,
    [
      '--bridge=none',
      '--iptables=false',
      '--ip6tables=false',
      `--host=unix://${sock}`,
      `--data-root=${join(dir, 'data')}`,
      `--exec-root=${join(dir, 'exec')}`,
      `--pidfile=${join(dir, 'dockerd.pid')}`,
      ...(opts.daemonArgs ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  proc.stdout!.on('data', (b) => (log += b));
  proc.stderr!.on('data', (b) => (log += b));
  const stop = async () => {
    if (proc.exitCode === null && proc.signalCode === null) {
      const closed = new Promise((r) => proc.once('close', r));
      proc.kill('SIGTERM');
      const kill = setTimeout(() => proc.kill('SIGKILL'), 30_000);
      await closed;
      clearTimeout(kill);
    }
    await run('sh', ['-c', `grep -o ' ${dir}/[^ ]*' /proc/mounts | sort -r | xargs -r -n1 umount -l`]);
    await rm(dir, { recursive: true, force: true }).catch(() => {});
  };
  const until = Date.now() + 60_000;
  for (;;) {
    const v = await versions({ ...process.env, ...env });
    if (v) {
      const full = { ...process.env, ...env };
      return {
        env,
        docker: (args, timeoutMs = 120_000) => run('docker', args, { env: full, timeoutMs }),
        clientVersion: v.client,
        serverVersion: v.server,
        started: true,
        stop,
      };
    }
    if (proc.exitCode !== null || Date.now() > until) {
      await stop();
      throw new Error(`dockerd did not come up within 60 s:\n${log.split('\n').slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface Podman {
  podman: (args: string[], timeoutMs?: number) => ReturnType<typeof run>;
  stop: () => Promise<void>;
}

/**
 * Debian's podman as root with every piece of state in a temp folder: vfs storage (works on any
 * file system, no fuse or overlay needed), cgroupfs (no systemd here), events to a file.
 */
export async function startPodman(): Promise<Podman> {
  const dir = await tempDir('podman');
  const global = [
    `--root=${join(dir, 'root')}`,
    `--runroot=${join(dir, 'run')}`,
    `--tmpdir=${join(dir, 'tmp')}`,
    '--storage-driver=vfs',
    '--cgroup-manager=cgroupfs',
    '--events-backend=file',
  ];
  const podman = (args: string[], timeoutMs = 120_000) => run('podman', [...global, ...args], { timeoutMs });
  return {
    podman,
    stop: async () => {
      await podman(['image', 'unmount', '--all'], 30_000);
      await rm(dir, { recursive: true, force: true }).catch(() => {});
    },
  };
}
