// Real clients: megapak load into a Docker daemon, push → docker pull / podman pull, and
// docker load's own errors. The daemon is Debian's dockerd (started here when none answers).
import { once } from 'node:events';
import { appendFile, cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { createConnection, createServer, type Server as NetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlobChecks } from '../tools/src/layer/blob-check.ts';
import { megapak, megapakOk, run } from './helpers/cli.ts';
import { startDocker, startPodman, type Docker, type Podman } from './helpers/docker.ts';
import { copyFixtureStack, layoutMembers, readRecords, tempDir } from './helpers/fixture.ts';
import { startRegistry, type Registry } from './helpers/registry.ts';
import { recordBlobs } from '../tools/src/model/vocabulary.ts';

const GREETING = 'hello from comfyui-entrypoint';

/** The config digest and Entrypoint of the image a registry holds under `ref`. */
async function pushedImage(reg: Registry, repo: string, tag: string): Promise<{ configDigest: string; entrypoint: string[] }> {
  const accept = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = await (await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, { headers: { accept } })).json();
  const config = await (await fetch(`${reg.url}/v2/${repo}/blobs/${manifest.config.digest}`)).json();
  return { configDigest: manifest.config.digest, entrypoint: config.config.Entrypoint };
}

describe('real Docker daemon and podman', () => {
  let docker: Docker;
  let podman: Podman;
  let reg: Registry;
  let stack: string;
  let cache: string;
  let tag: string;
  const images: string[] = [];
  const env = (extra: NodeJS.ProcessEnv = {}) => ({ ...docker.env, MEGAPAK_CACHE_DIR: cache, ...extra });

  beforeAll(async () => {
    docker = await startDocker();
    podman = await startPodman();
    reg = await startRegistry({ storage: join(await tempDir('docker-registry'), 'data') });
    stack = await copyFixtureStack();
    // A tag of our own, so a daemon that was already running keeps its images apart from ours.
    tag = `t${process.pid}`;
    const meta = JSON.parse(await readFile(join(stack, 'stack.json'), 'utf8'));
    await writeFile(join(stack, 'stack.json'), JSON.stringify({ ...meta, tag }, null, 2));
    cache = await tempDir('docker-cache');
  });
  afterAll(async () => {
    if (docker) for (const i of images) await docker.docker(['rmi', '-f', i]);
    await reg?.stop();
    await podman?.stop();
    await docker?.stop();
  });

  it(`client and daemon talk (the daemon's own client when the test starts it)`, async () => {
    expect(docker.serverVersion).toMatch(/^\d+\.\d+/);
    if (docker.started) expect(docker.clientVersion).toBe(docker.serverVersion);
    const info = await docker.docker(['info', '--format', '{{.ServerVersion}}']);
    expect(info.stdout.trim()).toBe(docker.serverVersion);
  });

  it('megapak load → docker run --network none runs the entrypoint; the image ID is the config digest', async () => {
    const ref = `megapak-fixture:${tag}`;
    images.push(ref);
    const oci = join(await tempDir('docker-oci'), 'oci');
    await megapakOk(['build', '--stack', stack, '--oci', oci], { env: env() });
    const r = await megapakOk(['load', '--stack', stack], { env: env() });
    expect(r.stdout.trim()).toBe(`Loaded image: ${ref}`);
    const manifest = JSON.parse(await readFile(join(oci, 'blobs', 'sha256', (await layoutMembers(oci)).image.digest.slice(7)), 'utf8'));
    expect((await docker.docker(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim()).toBe(manifest.config.digest);
    const ran = await docker.docker(['run', '--rm', '--network', 'none', ref]);
    expect(ran.stderr).toBe('');
    expect(ran.stdout.trim()).toBe(GREETING);
    await docker.docker(['rmi', ref]);
  });

  it('the OCI layout with its SBOM referrers: podman pulls it without a tag and the entrypoint runs; docker loads the docker-archive', async () => {
    // podman names the pulled image after the layout's path, which must be lowercase.
    const out = (await tempDir('layout-readers')).toLowerCase();
    await mkdir(out, { recursive: true });
    const oci = join(out, 'oci');
    const built = await megapakOk(['build', '--stack', stack, '--oci', oci, '--docker-archive', join(out, 'image.tar')], { env: env() });
    const { image, referrers } = await layoutMembers(oci);
    expect(referrers.map((r) => r.artifactType)).toEqual(['application/vnd.cyclonedx+json', 'application/spdx+json']);
    expect(built.stdout).toContain(image.digest);
    const configDigest = JSON.parse(await readFile(join(oci, 'blobs', 'sha256', image.digest.slice(7)), 'utf8')).config.digest as string;

    const pull = await podman.podman(['pull', `oci:${oci}`]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout.trim().split('\n').at(-1)).toBe(configDigest.slice(7));
    const mount = await podman.podman(['image', 'mount', configDigest.slice(7)]);
    expect(mount.code, mount.stderr).toBe(0);
    const config = JSON.parse(await readFile(join(oci, 'blobs', 'sha256', configDigest.slice(7)), 'utf8'));
    expect((await run('chroot', [mount.stdout.trim(), ...config.config.Entrypoint])).stdout.trim()).toBe(GREETING);
    await podman.podman(['image', 'unmount', configDigest.slice(7)]);

    const ref = `megapak-fixture:${tag}`;
    images.push(ref);
    const loaded = await docker.docker(['load', '-i', join(out, 'image.tar')]);
    expect(loaded.code, loaded.stderr).toBe(0);
    expect(loaded.stdout).toContain(`Loaded image: ${ref}`);
    expect((await docker.docker(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim()).toBe(configDigest);
    expect((await docker.docker(['run', '--rm', '--network', 'none', ref])).stdout.trim()).toBe(GREETING);
    await docker.docker(['rmi', ref]);
  });

  it('load --no-build: current records load without a build; a stale one is named in one line and nothing reaches docker', async () => {
    const ref = `megapak-fixture:${tag}`;
    images.push(ref);
    await megapakOk(['build', '--stack', stack], { env: env() });
    const ok = await megapakOk(['load', '--stack', stack, '--no-build'], { env: env() });
    expect(ok.stdout.trim()).toBe(`Loaded image: ${ref}`);
    expect(ok.stderr).not.toMatch(/streaming|stale/);
    await docker.docker(['rmi', ref]);

    const edited = await copyFixtureStack(stack);
    await cp(join(stack, 'layers'), join(edited, 'layers'), { recursive: true });
    await appendFile(join(edited, 'layers', '09-pak5', 'pak5.txt'), '\npillow\n');
    const before = await readFile(join(edited, 'layers', '09-pak5', 'dist', 'layer.json'), 'utf8');
    const r = await megapak(['load', '--stack', edited, '--no-build'], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toEqual([
      'megapak: stale layer records (--no-build): layer-09 (roots changed: layer.nix or nix/); run megapak build, or leave out --no-build',
    ]);
    expect(await readFile(join(edited, 'layers', '09-pak5', 'dist', 'layer.json'), 'utf8')).toBe(before);
    expect((await docker.docker(['image', 'inspect', ref])).code).not.toBe(0);
  });

  it('push (gzip) → docker pull downloads every layer → docker run works; the image ID is the config digest', async () => {
    const ref = `${reg.host}/megapak/docker:${tag}`;
    images.push(ref);
    const pushed = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env() });
    expect(pushed.stderr).not.toMatch(/zstd/);
    const { configDigest } = await pushedImage(reg, 'megapak/docker', tag);
    const pull = await docker.docker(['pull', ref]);
    expect(pull.code, pull.stderr).toBe(0);
    const nonEmpty = (await readRecords(stack)).filter((r) => !r.empty).length;
    expect(pull.stdout.match(/Pull complete/g)).toHaveLength(nonEmpty);
    expect((await docker.docker(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim()).toBe(configDigest);
    const ran = await docker.docker(['run', '--rm', '--network', 'none', ref]);
    expect(ran.stdout.trim()).toBe(GREETING);
    await docker.docker(['rmi', ref]);
  });

  it('push --compression zstd says who can pull it; podman pulls it and the entrypoint runs under chroot; Docker < 23 refuses it', async () => {
    const ref = `${reg.host}/megapak/zstd:${tag}`;
    images.push(ref);
    const pushed = await megapakOk(['push', '--stack', stack, '--plain-http', '--compression', 'zstd', ref], { env: env() });
    const notices = pushed.stderr.split('\n').filter((l) => l.startsWith('note:'));
    expect(notices).toEqual([expect.stringMatching(/^note: zstd layers pull with Docker ≥ 23 \/ containerd ≥ 1\.5 and podman/)]);
    const { configDigest, entrypoint } = await pushedImage(reg, 'megapak/zstd', tag);

    const pull = await podman.podman(['pull', '--tls-verify=false', ref]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout.trim()).toBe(configDigest.slice(7));
    const mount = await podman.podman(['image', 'mount', ref]);
    expect(mount.code, mount.stderr).toBe(0);
    const rootfs = mount.stdout.trim();
    const ran = await run('chroot', [rootfs, ...entrypoint]);
    expect(ran.stdout.trim()).toBe(GREETING);
    await podman.podman(['image', 'unmount', ref]);

    // The daemon must not have these layers already (by diffID) or it would skip the download.
    const dockerPull = await docker.docker(['pull', ref]);
    const major = Number(docker.serverVersion.split('.')[0]);
    if (major < 23) {
      expect(dockerPull.code).not.toBe(0);
      expect(dockerPull.stderr).toContain('archive/tar: invalid tar header');
    } else {
      expect(dockerPull.code, dockerPull.stderr).toBe(0);
    }
  });

  it('a split stack (maxLayerSize): push → docker pull and podman pull both fetch every part, and the entrypoint runs', async () => {
    const split = await copyFixtureStack();
    const meta = JSON.parse(await readFile(join(split, 'stack.json'), 'utf8'));
    await writeFile(join(split, 'stack.json'), JSON.stringify({ ...meta, tag, maxLayerSize: '40KiB' }, null, 2));
    const ref = `${reg.host}/megapak/split:${tag}`;
    images.push(ref);
    await megapakOk(['push', '--stack', split, '--plain-http', ref], { env: env() });
    const blobs = (await readRecords(split)).reduce((n, r) => n + recordBlobs(r).length, 0);
    expect(blobs).toBeGreaterThan((await readRecords(split)).filter((r) => !r.empty).length);
    const { configDigest, entrypoint } = await pushedImage(reg, 'megapak/split', tag);
    const pull = await docker.docker(['pull', ref]);
    expect(pull.code, pull.stderr).toBe(0);
    expect(pull.stdout.match(/Pull complete/g)).toHaveLength(blobs);
    expect((await docker.docker(['image', 'inspect', '--format', '{{.Id}}', ref])).stdout.trim()).toBe(configDigest);
    expect((await docker.docker(['run', '--rm', '--network', 'none', ref])).stdout.trim()).toBe(GREETING);
    await docker.docker(['rmi', ref]);

    const ppull = await podman.podman(['pull', '--tls-verify=false', ref]);
    expect(ppull.code, ppull.stderr).toBe(0);
    const mount = await podman.podman(['image', 'mount', ref]);
    expect(mount.code, mount.stderr).toBe(0);
    expect((await run('chroot', [mount.stdout.trim(), ...entrypoint])).stdout.trim()).toBe(GREETING);
    await podman.podman(['image', 'unmount', ref]);
  });

  it("docker load's own error for an archive it refuses (a layer that no longer matches its diffID), in one line", async () => {
    const bad = await copyFixtureStack();
    const badCache = await tempDir('docker-bad');
    const meta = JSON.parse(await readFile(join(bad, 'stack.json'), 'utf8'));
    await writeFile(join(bad, 'stack.json'), JSON.stringify({ ...meta, tag: `bad${process.pid}` }));
    await megapakOk(['build', '--stack', bad, '--compression', 'none'], { env: env({ MEGAPAK_CACHE_DIR: badCache }) });
    // Flip one byte inside the biggest layer's file data (size unchanged): the tar is still a tar.
    const victim = (await readRecords(bad)).reduce((a, b) => ((b.size ?? 0) > (a.size ?? 0) ? b : a));
    const blob = join(badCache, 'blobs', 'sha256', victim.digest!.slice(7));
    const bytes = await readFile(blob);
    bytes[bytes.length >> 1]! ^= 0xff;
    await writeFile(blob, bytes);
    // As bit rot would: the stamp still matches (the blob store's cheap check passes), so
    // docker's own diffID check is what catches it.
    await new BlobChecks(join(badCache, 'checks')).record(blob, victim.digest!);
    const r = await megapak(['load', '--stack', bad, '--compression', 'none'], { env: env({ MEGAPAK_CACHE_DIR: badCache }) });
    expect(r.code).toBe(1);
    const lines = r.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('megapak:'));
    expect(lines).toEqual([
      expect.stringMatching(new RegExp(`^megapak: docker load exited with 1: invalid diffID for layer \\d+: expected "${victim.diffId}", got "sha256:[0-9a-f]{64}"$`)),
    ]);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  it("a daemon that goes away mid-stream: docker's own message, in one line, no broken pipe from us", async () => {
    // A socket in front of the daemon that lets `docker info` through, then cuts the
    // connection 4 MB into the archive, as a daemon that dies mid-load does.
    const upstream = (docker.env.DOCKER_HOST ?? process.env.DOCKER_HOST ?? 'unix:///var/run/docker.sock').replace(/^unix:\/\//, '');
    const sock = join(await tempDir('docker-cut'), 'cut.sock');
    const conns = new Set<Socket>();
    let cut = 0;
    const proxy: NetServer = createServer((client) => {
      const daemon = createConnection(upstream);
      conns.add(client).add(daemon);
      let sent = 0;
      client.on('data', (b: Buffer) => {
        sent += b.length;
        if (sent > 4 << 20) {
          cut++;
          client.destroy();
          daemon.destroy();
        } else daemon.write(b);
      });
      daemon.pipe(client);
      client.on('error', () => {});
      daemon.on('error', () => client.destroy());
    });
    proxy.listen(sock);
    await once(proxy, 'listening');
    try {
      const r = await megapak(['load', '--stack', stack], { env: env({ DOCKER_HOST: `unix://${sock}` }) });
      expect(cut).toBeGreaterThan(0);
      expect(r.code).toBe(1);
      const lines = r.stderr
        .trim()
        .split('\n')
        .filter((l) => l.startsWith('megapak:'));
      expect(lines, r.stderr).toHaveLength(1);
      // The client's words, e.g. `error during connect: Post "…/images/load…": write unix …: use of closed network connection`.
      expect(lines[0]).toMatch(/^megapak: docker load exited with 1: error during connect: .*images\/load.*(closed network connection|broken pipe|connection reset|EOF)/);
      expect(r.stderr).not.toMatch(/EPIPE|\n\s+at /);
    } finally {
      for (const c of conns) c.destroy();
      proxy.close();
    }
  });
});
