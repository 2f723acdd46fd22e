// zstd:chunked and eStargz against real clients (Docker 20.10 for eStargz): podman 4.3 with partial pulls (overlay, as root) pulling a
// Nix rebuild cascade over the old image, podman's own zstd:chunked writer as the yardstick,
// a counting proxy in front of docker-registry for the bytes really served, and `zstd -d`.
import { lstat, readFile, readdir, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { megapakOk, run, REPO } from './helpers/cli.ts';
import { startDocker, startPodman, type Docker, type Podman } from './helpers/docker.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';
import { startCountingProxy, type CountingProxy } from './helpers/counting-proxy.ts';
import { startOverlayPodman, type OverlayPodman } from './helpers/podman-partial.ts';
import { startRegistry, type Registry } from './helpers/registry.ts';
import { recordBlobs, type LayerRecord } from '../tools/src/model/vocabulary.ts';

const CASCADE = join(REPO, 'test', 'fixtures', 'cascade');

/** Every difference between a store path and its copy under `root` (content, type, mode, link target). */
async function treeDiffs(storePath: string, root: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(p: string): Promise<void> {
    const [a, b] = [await lstat(p), await lstat(join(root, p)).catch(() => undefined)];
    if (!b) return void out.push(`${p}: missing`);
    if ((a.mode & 0o170777) !== (b.mode & 0o170777)) out.push(`${p}: mode ${a.mode.toString(8)} vs ${b.mode.toString(8)}`);
    if (a.isSymbolicLink()) {
      if ((await readlink(p)) !== (await readlink(join(root, p)))) out.push(`${p}: link target`);
    } else if (a.isDirectory()) {
      for (const e of await readdir(p)) await walk(join(p, e));
    } else if (!(await readFile(p)).equals(await readFile(join(root, p)))) out.push(`${p}: content`);
  }
  await walk(storePath);
  return out;
}

/**
 * The cascade fixture pushed as `cascade:v1`, then with its lowest package's version bumped
 * (every store path renamed) as `cascade:v2`, both in `compression`.
 */
async function pushCascade(reg: Registry, compression: string, cache: string): Promise<{ stack: string; v1: LayerRecord[]; v2: LayerRecord[] }> {
  const stack = await copyFixtureStack(CASCADE);
  const push = (tag: string) =>
    megapakOk(['push', '--stack', stack, '--plain-http', '--compression', compression, '--no-sbom', `${reg.host}/cascade:${tag}`], { env: { MEGAPAK_CACHE_DIR: cache } });
  await push('v1');
  const v1 = await readRecords(stack);
  await writeFile(join(stack, 'nix', 'version.nix'), '"2"\n');
  await push('v2');
  return { stack, v1, v2: await readRecords(stack) };
}

/**
 * A podman with partial pulls pulls cascade:v1 then cascade:v2 through `proxy`; every layer
 * of v2 must come by a partial pull and every file it assembles must be the store's. Returns
 * the blob bytes served for v2 and where v2 is mounted.
 */
async function partialUpdate(proxy: CountingProxy, v2: LayerRecord[], cleanups: (() => Promise<unknown>)[]): Promise<{ served: number; root: string }> {
  const podman = await startOverlayPodman(true);
  cleanups.push(podman.stop);
  expect((await podman.podman(['pull', '--tls-verify=false', `${proxy.host}/cascade:v1`])).code).toBe(0);
  proxy.reset();
  const pull = await podman.podman(['--log-level=debug', 'pull', '--tls-verify=false', `${proxy.host}/cascade:v2`]);
  expect(pull.code, pull.stderr.slice(-2000)).toBe(0);
  const served = proxy.blobBytes();
  expect(pull.stderr.match(/Retrieved partial blob/g)?.length).toBe(v2.flatMap((r) => recordBlobs(r)).length);
  const root = (await podman.podman(['image', 'mount', `${proxy.host}/cascade:v2`])).stdout.trim();
  for (const p of v2.flatMap((r) => r.paths.map((x) => x.path))) expect(await treeDiffs(p, root), p).toEqual([]);
  return { served, root };
}

const layerBytes = (records: LayerRecord[]) => records.flatMap((r) => recordBlobs(r)).reduce((s, b) => s + b.size, 0);

describe('zstd:chunked with podman partial pulls', () => {
  let reg: Registry;
  let podmansReg: Registry;
  let proxy: CountingProxy;
  let podmansProxy: CountingProxy;
  let stack: string;
  let cache: string;
  let v1: LayerRecord[];
  let v2: LayerRecord[];
  const env = () => ({ MEGAPAK_CACHE_DIR: cache });
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    reg = await startRegistry({ storage: join(await tempDir('chunked-registry'), 'data') });
    podmansReg = await startRegistry({ storage: join(await tempDir('chunked-registry-podman'), 'data') });
    proxy = await startCountingProxy(reg.host);
    podmansProxy = await startCountingProxy(podmansReg.host);
    cache = await tempDir('chunked-cache');
    ({ stack, v1, v2 } = await pushCascade(reg, 'zstd:chunked', cache));
  }, 600_000);
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await proxy?.stop();
    await podmansProxy?.stop();
    await reg?.stop();
    await podmansReg?.stop();
  });

  it('the cascade renames every store path but busybox (the builder, which nothing changed)', () => {
    const before = new Set(v1.flatMap((r) => r.paths.map((p) => p.path)));
    const after = v2.flatMap((r) => r.paths.map((p) => p.path));
    expect(after.length).toBe(before.size);
    expect(after.filter((p) => before.has(p)).map((p) => p.replace(/^\/nix\/store\/[a-z0-9]{32}-/, ''))).toEqual(['busybox']);
  });

  it('every blob is plain zstd to `zstd -d`, which gives the tar of its diffID; the manifest carries the TOC annotations', async () => {
    const manifest = await (await fetch(`${reg.url}/v2/cascade/manifests/v2`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json();
    const blobs = v2.flatMap((r) => recordBlobs(r));
    expect(manifest.layers.map((l: { digest: string }) => l.digest)).toEqual(blobs.map((b) => b.digest));
    for (const [i, b] of blobs.entries()) {
      expect(manifest.layers[i].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
      for (const k of [
        'io.github.containers.zstd-chunked.manifest-checksum',
        'io.github.containers.zstd-chunked.manifest-position',
        'io.github.containers.zstd-chunked.tarsplit-position',
        'io.containers.zstd-chunked.manifest-checksum',
        'io.containers.zstd-chunked.manifest-position',
      ])
        expect(manifest.layers[i].annotations[k], k).toBe(b.annotations![k]);
      const r = await run('sh', ['-c', `curl -sf ${reg.url}/v2/cascade/blobs/${b.digest} | zstd -dc -q | sha256sum`]);
      expect(`sha256:${r.stdout.slice(0, 64)}`).toBe(b.diffId);
    }
  });

  it('the blobs are reproducible: the same bytes from an empty blob store, with one compression thread or several', async () => {
    const again = await copyFixtureStack(stack);
    await megapakOk(['build', '--stack', again, '--compression', 'zstd:chunked', '--gzip-workers', '1', '--no-sbom'], {
      env: { MEGAPAK_CACHE_DIR: await tempDir('chunked-cache-2') },
    });
    const digests = (rs: LayerRecord[]) => rs.flatMap((r) => recordBlobs(r).map((b) => [b.digest, b.annotations]));
    expect(digests(await readRecords(again))).toEqual(digests(v2));
  });

  it('podman pulling the renamed cascade over the old one fetches only what it lacks: what diff says, at most 1.2× what podman’s own zstd:chunked costs; every file is the store’s and the entrypoint runs', async () => {
    // megapak's blobs, partial pulls on: every file podman assembles is the store's.
    const { served: megapakBytes, root } = await partialUpdate(proxy, v2, cleanups);
    const newLayers = v2.flatMap((r) => recordBlobs(r));

    // What diff predicts against what the registry served (its multipart framing aside).
    const diff = JSON.parse((await megapakOk(['diff', '--plain-http', '--json', `${reg.host}/cascade:v1`, `${reg.host}/cascade:v2`], { env: env() })).stdout);
    expect(diff.downloadBytes).toBe(layerBytes(v2) + diff.configBytes);
    expect(Math.abs(megapakBytes - diff.partialDownloadBytes)).toBeLessThan(0.02 * diff.partialDownloadBytes + 100 * newLayers.length);

    // The entrypoint runs.
    const entry = v2.flatMap((r) => r.paths).find((p) => p.path.endsWith('-cascade-entrypoint'))!.path;
    expect((await run('chroot', [root, `${entry}/bin/entrypoint`])).stdout.trim()).toBe('cascade-ok 2');

    // Partial pulls off: the whole of every renamed layer.
    const whole = await startOverlayPodman(false);
    cleanups.push(whole.stop);
    expect((await whole.podman(['pull', '--tls-verify=false', `${proxy.host}/cascade:v1`])).code).toBe(0);
    proxy.reset();
    expect((await whole.podman(['pull', '--tls-verify=false', `${proxy.host}/cascade:v2`])).code).toBe(0);
    const wholeBytes = proxy.blobBytes();
    expect(wholeBytes).toBeGreaterThanOrEqual(layerBytes(v2));

    // Podman's own zstd:chunked of the same two images, pushed to a registry that has never
    // seen them (so podman compresses rather than reuses), pulled the same way.
    const vfs: Podman = await startPodman();
    cleanups.push(vfs.stop);
    for (const t of ['v1', 'v2']) {
      expect((await vfs.podman(['pull', '--tls-verify=false', `${reg.host}/cascade:${t}`])).code).toBe(0);
      const pushed = await vfs.podman(['push', '--tls-verify=false', '--compression-format', 'zstd:chunked', `${reg.host}/cascade:${t}`, `${podmansReg.host}/cascade:${t}`]);
      expect(pushed.code, pushed.stderr).toBe(0);
    }
    const own = await startOverlayPodman(true);
    cleanups.push(own.stop);
    expect((await own.podman(['pull', '--tls-verify=false', `${podmansProxy.host}/cascade:v1`])).code).toBe(0);
    podmansProxy.reset();
    expect((await own.podman(['pull', '--tls-verify=false', `${podmansProxy.host}/cascade:v2`])).code).toBe(0);
    const podmansBytes = podmansProxy.blobBytes();

    console.log(
      `cascade update: megapak zstd:chunked ${megapakBytes} B (diff: ${diff.partialDownloadBytes}), podman's own ${podmansBytes} B, partial pulls off ${wholeBytes} B, layers ${layerBytes(v2)} B`,
    );
    expect(megapakBytes).toBeLessThanOrEqual(1.2 * podmansBytes);
    expect(megapakBytes).toBeLessThan(wholeBytes / 4);
  }, 900_000);
});

describe('eStargz with Docker 20.10 and podman partial pulls', () => {
  let reg: Registry;
  let proxy: CountingProxy;
  let docker: Docker;
  let stack: string;
  let cache: string;
  let v2: LayerRecord[];
  const env = () => ({ MEGAPAK_CACHE_DIR: cache });
  const cleanups: (() => Promise<unknown>)[] = [];

  beforeAll(async () => {
    reg = await startRegistry({ storage: join(await tempDir('estargz-registry'), 'data') });
    proxy = await startCountingProxy(reg.host);
    docker = await startDocker();
    cache = await tempDir('estargz-cache');
    ({ stack, v2 } = await pushCascade(reg, 'estargz', cache));
  }, 600_000);
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await docker?.docker(['rmi', '-f', `${reg?.host}/cascade:v2`]);
    await docker?.stop();
    await proxy?.stop();
    await reg?.stop();
  });

  it('each blob is one gzip stream whose sha256 is its diffID; the manifest carries the eStargz annotations', async () => {
    const manifest = await (await fetch(`${reg.url}/v2/cascade/manifests/v2`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json();
    for (const [i, b] of v2.flatMap((r) => recordBlobs(r)).entries()) {
      expect(manifest.layers[i].mediaType).toBe('application/vnd.oci.image.layer.v1.tar+gzip');
      expect(manifest.layers[i].annotations['containerd.io/snapshot/stargz/toc.digest']).toBe(b.annotations!['containerd.io/snapshot/stargz/toc.digest']);
      expect(manifest.layers[i].annotations['io.containers.estargz.uncompressed-size']).toBe(String(b.diffSize));
      const r = await run('sh', ['-c', `curl -sf ${reg.url}/v2/cascade/blobs/${b.digest} | gzip -dc | sha256sum`]);
      expect(`sha256:${r.stdout.slice(0, 64)}`).toBe(b.diffId);
    }
  });

  it('the blobs are reproducible: the same bytes from an empty blob store whether one thread or several compress the members', async () => {
    const again = await copyFixtureStack(stack);
    await megapakOk(['build', '--stack', again, '--compression', 'estargz', '--gzip-workers', '1', '--no-sbom'], {
      env: { MEGAPAK_CACHE_DIR: await tempDir('estargz-cache-2') },
    });
    const digests = (rs: LayerRecord[]) => rs.flatMap((r) => recordBlobs(r).map((b) => [b.digest, b.diffId, b.annotations]));
    expect(digests(await readRecords(again))).toEqual(digests(v2));
  });

  it('Docker 20.10 pulls it as plain gzip and runs the entrypoint', async () => {
    expect(docker.serverVersion).toMatch(/^20\.10\./);
    const pull = await docker.docker(['pull', `${reg.host}/cascade:v2`]);
    expect(pull.code, pull.stderr).toBe(0);
    const ran = await docker.docker(['run', '--rm', '--network', 'none', `${reg.host}/cascade:v2`]);
    expect(ran.stdout.trim(), ran.stderr).toBe('cascade-ok 2');
  });

  it('podman 4.3 partial-pulls it over the old image: the bytes served are what diff says; every file is the store’s', async () => {
    const { served } = await partialUpdate(proxy, v2, cleanups);
    const diff = JSON.parse((await megapakOk(['diff', '--plain-http', '--json', `${reg.host}/cascade:v1`, `${reg.host}/cascade:v2`], { env: env() })).stdout);
    console.log(`eStargz cascade update: podman fetched ${served} B (diff: ${diff.partialDownloadBytes}), layers ${layerBytes(v2)} B`);
    expect(Math.abs(served - diff.partialDownloadBytes)).toBeLessThan(0.02 * diff.partialDownloadBytes + 100 * v2.length);
    expect(served).toBeLessThan(layerBytes(v2) / 2);
  });
});
