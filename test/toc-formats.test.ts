// zstd:chunked and eStargz keep everything else working: split parts (each its own TOC),
// registry-first push from an empty blob store (the annotations come from the records),
// the blob store's damage check, stale records on a change of compression, report sizes per
// compression, skopeo copy + umoci unpack, and the one-line answer to an unknown compression.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { megapak, megapakOk, run } from './helpers/cli.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';
import { flipByte } from './helpers/damage.ts';
import { startOverlayPodman } from './helpers/podman-partial.ts';
import { startRegistry, type Registry } from './helpers/registry.ts';
import { isSplit, recordBlobs, type LayerRecord } from '../tools/src/model/vocabulary.ts';

const GREETING = 'hello from comfyui-entrypoint';
const TOC_DIGEST = 'io.github.containers.zstd-chunked.manifest-checksum';

const editJson = async (file: string, edit: (o: Record<string, unknown>) => void) => {
  const o = JSON.parse(await readFile(file, 'utf8'));
  edit(o);
  await writeFile(file, JSON.stringify(o, null, 2));
};

const manifestOf = async (reg: Registry, repo: string, tag: string) =>
  fetch(`${reg.url}/v2/${repo}/manifests/${tag}`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } }).then(async (r) => ({
    digest: r.headers.get('docker-content-digest'),
    body: await r.json(),
  }));

describe('zstd:chunked with split parts, registry-first push, the blob store and other readers', () => {
  let reg: Registry;
  let stack: string;
  let cache: string;
  let records: LayerRecord[];
  const env = (c = cache) => ({ MEGAPAK_CACHE_DIR: c });

  beforeAll(async () => {
    reg = await startRegistry({ storage: join(await tempDir('toc-registry'), 'data') });
    stack = await copyFixtureStack();
    cache = await tempDir('toc-cache');
    await editJson(join(stack, 'stack.json'), (o) => (o.maxLayerSize = '24KiB'));
    await editJson(join(stack, 'layers', '02-cuda', 'package.json'), (o) => (o.megapak = { maxLayerSize: '1GiB' }));
    await megapakOk(['push', '--stack', stack, '--plain-http', '--compression', 'zstd:chunked', '--no-sbom', `${reg.host}/toc:a`], { env: env() });
    records = await readRecords(stack);
  }, 600_000);
  afterAll(async () => reg?.stop());

  it('each part of a split layer is a zstd:chunked blob of its own: its TOC annotations in the record and the manifest, `zstd -d` its diffID', async () => {
    const split = records.filter(isSplit);
    expect(split.length).toBeGreaterThan(0);
    const blobs = records.flatMap((r) => recordBlobs(r));
    const { body } = await manifestOf(reg, 'toc', 'a');
    expect(body.layers.map((l: { annotations: Record<string, string> }) => l.annotations[TOC_DIGEST])).toEqual(blobs.map((b) => b.annotations![TOC_DIGEST]));
    for (const b of split.flatMap((r) => recordBlobs(r))) {
      const r = await run('sh', ['-c', `zstd -dc -q ${join(cache, 'blobs', 'sha256', b.digest.slice(7))} | sha256sum`]);
      expect(`sha256:${r.stdout.slice(0, 64)}`).toBe(b.diffId);
    }
  });

  it('podman partial-pulls every part; the entrypoint runs', async () => {
    const podman = await startOverlayPodman(true);
    try {
      const pull = await podman.podman(['--log-level=debug', 'pull', '--tls-verify=false', `${reg.host}/toc:a`]);
      expect(pull.code, pull.stderr.slice(-2000)).toBe(0);
      expect(pull.stderr.match(/Retrieved partial blob/g)?.length).toBe(records.flatMap((r) => recordBlobs(r)).length);
      const root = (await podman.podman(['image', 'mount', `${reg.host}/toc:a`])).stdout.trim();
      const config = JSON.parse((await podman.podman(['image', 'inspect', `${reg.host}/toc:a`])).stdout)[0].Config;
      expect((await run('chroot', [root, ...config.Entrypoint])).stdout.trim()).toBe(GREETING);
    } finally {
      await podman.stop();
    }
  });

  it('registry-first push from an empty blob store keeps the records, annotations included: the same manifest, no blob made', async () => {
    const fresh = await tempDir('toc-cache-empty');
    const r = await megapakOk(['push', '--stack', stack, '--plain-http', '--compression', 'zstd:chunked', '--no-sbom', `${reg.host}/toc:b`], { env: env(fresh) });
    expect(r.stdout).toContain('0 uploaded');
    expect((await manifestOf(reg, 'toc', 'b')).digest).toBe((await manifestOf(reg, 'toc', 'a')).digest);
    expect(await readRecords(stack)).toEqual(records);
  });

  it('a damaged zstd:chunked blob in the blob store is evicted and made again, byte for byte', async () => {
    const b = recordBlobs(records.find((r) => r.name === 'layer-02')!)[0]!;
    const file = join(cache, 'blobs', 'sha256', b.digest.slice(7));
    await flipByte(file, 100);
    const r = await megapakOk(['build', '--stack', stack, '--compression', 'zstd:chunked', '--no-sbom'], { env: env() });
    expect(r.stderr).toContain(`${file} is damaged`);
    const again = await readRecords(stack);
    expect(again).toEqual(records);
    const sum = await run('sha256sum', [file]);
    expect(`sha256:${sum.stdout.slice(0, 64)}`).toBe(b.digest);
  });

  it('report gives each layer’s blob size per compression, zstd:chunked and estargz among them', async () => {
    const rep = JSON.parse((await megapakOk(['report', '--stack', stack, '--json'], { env: env() })).stdout);
    expect(rep.layers.map((l: { sizes: Record<string, number | null> }) => l.sizes['zstd:chunked'])).toEqual(records.map((r) => (r.empty ? null : r.size)));
    expect(rep.layers.every((l: { sizes: Record<string, number | null> }) => l.sizes.estargz === null)).toBe(true);
  });

  it('image --compression estargz counts the zstd:chunked records as stale and rebuilds them with eStargz annotations', async () => {
    await megapakOk(['image', '--stack', stack, '--compression', 'estargz', '--no-sbom', '--oci', join(await tempDir('toc-oci'), 'oci')], { env: env() });
    const es = await readRecords(stack);
    for (const b of es.flatMap((x) => recordBlobs(x))) expect(b.annotations?.['containerd.io/snapshot/stargz/toc.digest']).toMatch(/^sha256:/);
    expect(es.every((x) => x.compression === 'estargz')).toBe(true);
  });

  it('skopeo copies the zstd:chunked image unchanged, annotations included; umoci (0.4.7, no zstd at all) unpacks the eStargz one', async () => {
    const dir = await tempDir('toc-skopeo');
    const copy = await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${reg.host}/toc:a`, `oci:${dir}/chunked:a`]);
    expect(copy.code, copy.stderr).toBe(0);
    const index = JSON.parse(await readFile(join(dir, 'chunked', 'index.json'), 'utf8'));
    const copied = JSON.parse(await readFile(join(dir, 'chunked', 'blobs', 'sha256', index.manifests[0].digest.slice(7)), 'utf8'));
    expect(copied).toEqual((await manifestOf(reg, 'toc', 'a')).body);

    await megapakOk(['push', '--stack', stack, '--plain-http', '--compression', 'estargz', '--no-sbom', `${reg.host}/toc:es`], { env: env() });
    const es = await run('skopeo', ['copy', '--src-tls-verify=false', `docker://${reg.host}/toc:es`, `oci:${dir}/es:es`]);
    expect(es.code, es.stderr).toBe(0);
    const unpack = await run('umoci', ['unpack', '--rootless', '--image', `${dir}/es:es`, `${dir}/bundle`]);
    expect(unpack.code, unpack.stderr).toBe(0);
    for (const p of records.flatMap((r) => r.paths.map((x) => x.path))) {
      const d = await run('diff', ['-r', '--no-dereference', p, join(dir, 'bundle', 'rootfs', p)]);
      expect(d.code, `${p}: ${d.stdout}`).toBe(0);
    }
    // What every client that reads eStargz as plain gzip also unpacks: the TOC, as a file.
    expect(JSON.parse(await readFile(join(dir, 'bundle', 'rootfs', 'stargz.index.json'), 'utf8')).version).toBe(1);
  });

  it('an unknown compression is one line listing them all', async () => {
    for (const args of [
      ['build', '--stack', stack, '--compression', 'zstd:fast'],
      ['build', '--stack', stack],
    ]) {
      const r = await megapak(args, { env: { ...env(), MEGAPAK_COMPRESSION: 'zstd:fast' } });
      expect(r.code).not.toBe(0);
      const line = r.stderr.trim().split('\n');
      expect(line).toHaveLength(1);
      expect(line[0]).toMatch(/zstd:fast/);
      for (const c of ['none', 'gzip', 'zstd', 'zstd:chunked', 'estargz']) expect(line[0]).toContain(c);
    }
  });
});
