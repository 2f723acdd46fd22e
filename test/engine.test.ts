// The layer engine end to end: real Nix builds the busybox fixture stack, real tar, umoci,
// skopeo and chroot read what megapak wrote.
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { megapakOk, run } from './helpers/cli.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';
import { tarHeaders } from './helpers/tar.ts';
import type { LayerRecord } from '../tools/src/model/vocabulary.ts';

const sh = async (cmd: string) => {
  const r = await run('bash', ['-c', cmd]);
  if (r.code !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r.stdout;
};

describe('megapak build of the fixture stack', () => {
  let stack: string;
  let cache: string;
  let out: string;
  let records: LayerRecord[];
  let manifestDigest: string;
  const env = () => ({ MEGAPAK_CACHE_DIR: cache });
  const blob = (digest: string) => join(cache, 'blobs', 'sha256', digest.slice(7));

  beforeAll(async () => {
    stack = await copyFixtureStack();
    cache = await tempDir('cache');
    out = await tempDir('out');
    const r = await megapakOk(['build', '--stack', stack, '--oci', join(out, 'oci'), '--docker-archive', join(out, 'image.tar')], { env: env() });
    manifestDigest = /image \S+ (sha256:[0-9a-f]{64})/.exec(r.stdout)![1]!;
    records = await readRecords(stack);
  });

  it('ships each store path of the closure in exactly one layer, the shared one in the lower layer', async () => {
    const roots = records.flatMap((r) => r.roots);
    const closure = (await sh(`nix-store -qR ${roots.join(' ')}`)).trim().split('\n').sort();
    const shipped = records.flatMap((r) => r.paths.map((p) => p.path));
    expect(new Set(shipped).size).toBe(shipped.length);
    expect([...shipped].sort()).toEqual(closure);
    const owner = (suffix: string) => records.filter((r) => r.paths.some((p) => p.path.endsWith(suffix))).map((r) => r.name);
    expect(owner('-libstdcxx')).toEqual(['layer-03']);
    // layer 07 needs libstdcxx too: it is in its closure, not in its delta.
    const l07Closure = await sh(`nix-store -qR ${records[6]!.roots.join(' ')}`);
    expect(l07Closure).toContain('-libstdcxx');
    expect(owner('-busybox')).toEqual(['layer-01']);
    expect(records.every((r) => !r.empty && r.digest && r.diffId)).toBe(true);
  });

  it('records narHash and narSize as Nix reports them', async () => {
    const l04 = records[3]!;
    const info = JSON.parse(await sh(`nix --extra-experimental-features nix-command path-info --json ${l04.paths[0]!.path}`));
    const entry = Array.isArray(info) ? info[0] : Object.values(info)[0];
    expect(l04.paths[0]!.narHash).toBe(entry.narHash);
    expect(l04.paths[0]!.narSize).toBe(entry.narSize);
  });

  it('writes tar entries in byte order with fixed owner, mtime and the store modes', async () => {
    for (const r of records) {
      const headers = await tarHeaders(blob(r.digest!));
      const names = headers.map((h) => h.name);
      expect(names.slice(0, 2)).toEqual(['nix/', 'nix/store/']);
      const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a.replace(/\/$/, '')), Buffer.from(b.replace(/\/$/, ''))));
      expect(names).toEqual(sorted);
      for (const h of headers) {
        expect(h).toMatchObject({ uid: 0, gid: 0, mtime: 1, uname: '', gname: '' });
        expect(h.name.startsWith('nix/store/') || h.name === 'nix/').toBe(true);
        expect(['file', 'directory', 'symlink']).toContain(h.type);
        if (h.type === 'file') expect([0o444, 0o555]).toContain(h.mode);
        if (h.type === 'directory' && h.name.length > 'nix/store/'.length) expect(h.mode).toBe(0o555);
      }
      // The top-level store paths in the tar are exactly the layer's delta.
      const tops = [...new Set(names.filter((n) => n.startsWith('nix/store/') && n.length > 10).map((n) => `/${n.split('/').slice(0, 3).join('/')}`))].sort();
      expect(tops).toEqual(r.paths.map((p) => p.path).sort());
    }
  });

  it('keeps long and non-ASCII names and symlinks intact, as GNU tar reads them', async () => {
    const l04 = records[3]!;
    const listing = await sh(`tar -tvzf ${blob(l04.digest!)}`);
    expect(listing).toContain('überprüfung-日本語.txt');
    expect(listing).toMatch(/a-package-with-a-rather-long-name-that-keeps-going-and-going-well-past-one-hundred-bytes\/__init__\.py/);
    expect(listing).toMatch(/python3 -> python3\.14/);
    expect(listing).toMatch(/long-link -> \/nix\/store\/\S+-python3\.14\/lib\/python3\.14\/site-packages\/a-package-with-a-rather-long-name/);
  });

  it('a second build of the unchanged stack streams no tar and keeps every digest', async () => {
    const before = await Promise.all(records.map((r) => stat(blob(r.digest!))));
    const r = await megapakOk(['build', '--stack', stack, '--oci', join(out, 'oci2')], { env: env() });
    expect(r.stdout).toMatch(/12 layers, 0 streamed/);
    expect(r.stderr).not.toMatch(/streaming/);
    expect(r.stdout).toContain(manifestDigest);
    const after = await Promise.all(records.map((r) => stat(blob(r.digest!))));
    // The same files (a blob made again is a new file renamed into place); a reused blob is only
    // touched, which marks it used for `megapak cache gc`.
    expect(after.map((s) => s.ino)).toEqual(before.map((s) => s.ino));
    expect(after.filter((s, i) => s.mtimeMs > before[i]!.mtimeMs)).toHaveLength(after.length);
    expect((await readRecords(stack)).map((x) => x.digest)).toEqual(records.map((x) => x.digest));
  });

  it('a second build asks Nix once for the whole stack: one evaluation, no nix-build, no path-info (its answer for the same roots is remembered)', async () => {
    // Wrappers in front of the real Nix tools log each call.
    const bin = await tempDir('nix-log');
    const log = join(bin, 'calls');
    for (const tool of ['nix', 'nix-build', 'nix-instantiate', 'nix-store']) {
      const real = (await sh(`command -v ${tool}`)).trim();
      await writeFile(join(bin, tool), `#!/bin/sh\necho "${tool} $*" >> ${log}\nexec ${real} "$@"\n`, { mode: 0o755 });
    }
    const r = await megapakOk(['build', '--stack', stack, '--oci', join(out, 'oci-once')], { env: { ...env(), PATH: `${bin}:${process.env.PATH}` } });
    expect(r.stdout).toMatch(/12 layers, 0 streamed/);
    expect(r.stdout).toContain(manifestDigest);
    const calls = (await readFile(log, 'utf8')).trim().split('\n');
    expect(calls.filter((c) => c.startsWith('nix-instantiate ')).length).toBe(1);
    expect(calls.filter((c) => c.startsWith('nix-build ')).length).toBe(0);
    expect(calls.filter((c) => / path-info /.test(c)).length).toBe(0);
    await rm(bin, { recursive: true, force: true });
  });

  it('makes the same gzip bytes with 1 and 4 compression threads', async () => {
    for (const [name, opt, envWorkers] of [
      ['one', ['--gzip-workers', '1'], {}],
      ['four', [], { MEGAPAK_GZIP_WORKERS: '4' }],
    ] as const) {
      const c = await tempDir(`cache-${name}`);
      const r = await megapakOk(['build', '--stack', stack, '--oci', join(out, `oci-${name}`), ...opt], { env: { MEGAPAK_CACHE_DIR: c, ...envWorkers } });
      expect(r.stdout).toMatch(/12 layers, 12 streamed/);
      expect(r.stdout).toContain(manifestDigest);
      for (const rec of records) expect((await readFile(join(c, 'blobs', 'sha256', rec.digest!.slice(7)))).equals(await readFile(blob(rec.digest!))), rec.name).toBe(true);
      await rm(c, { recursive: true, force: true });
    }
  });

  it('rebuilds byte for byte with an empty blob store', async () => {
    const cache2 = await tempDir('cache2');
    const r = await megapakOk(['build', '--stack', stack, '--oci', join(out, 'oci3')], { env: { MEGAPAK_CACHE_DIR: cache2 } });
    expect(r.stdout).toMatch(/12 layers, 12 streamed/);
    expect(r.stdout).toContain(manifestDigest);
    for (const rec of records) {
      const again = await readFile(join(cache2, 'blobs', 'sha256', rec.digest!.slice(7)));
      expect(again.equals(await readFile(blob(rec.digest!)))).toBe(true);
    }
    await rm(cache2, { recursive: true, force: true });
  });

  it('writes an OCI layout that skopeo reads without a tag and umoci unpacks, whose /nix/store matches the host', async () => {
    // One index.json entry (tag-less tools take it): an image index holding the image manifest,
    // with its platform, and the SBOM referrers; skopeo picks the image by the platform.
    const index = JSON.parse(await sh(`skopeo inspect --raw oci:${join(out, 'oci')}`));
    expect(index.manifests.filter((m: { artifactType?: string }) => !m.artifactType)).toEqual([
      { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: manifestDigest, size: expect.any(Number), platform: { architecture: 'amd64', os: 'linux' } },
    ]);
    const inspect = JSON.parse(await sh(`skopeo inspect oci:${join(out, 'oci')}`));
    expect(JSON.parse(await sh(`skopeo inspect oci:${join(out, 'oci')}:test`))).toEqual(inspect);
    expect(inspect.Layers).toEqual(records.map((r) => r.digest));
    const manifest = JSON.parse(await readFile(join(out, 'oci', 'blobs', 'sha256', manifestDigest.slice(7)), 'utf8'));
    expect(manifest.layers.map((l: { annotations: Record<string, string> }) => l.annotations['io.megapak.layer.name'])).toEqual(records.map((r) => r.name));
    const config = JSON.parse(await sh(`skopeo inspect --config oci:${join(out, 'oci')}:test`));
    expect(config.rootfs.diff_ids).toEqual(records.map((r) => r.diffId));
    expect(config.history.map((h: { created_by: string }) => h.created_by)).toEqual(records.map((r) => `${r.name}@1.0.0`));
    expect(config.config.ExposedPorts).toEqual({ '8188/tcp': {} });
    const entrypoint = records[11]!.roots.find((r) => r.endsWith('-comfyui-entrypoint'))!;
    expect(config.config.Entrypoint).toEqual([`${entrypoint}/bin/comfyui-entrypoint`]);
    expect(config.config.Env).toEqual([`PATH=${records[0]!.roots.find((r) => r.endsWith('-busybox'))}/bin`]);

    // umoci 0.4.7 takes every manifest an index reaches as a candidate for a tag (no platform
    // choice), so it unpacks the image from a plain copy, as docs/oci-layout.md says.
    const bundle = join(out, 'bundle');
    await sh(`skopeo copy -q oci:${join(out, 'oci')} oci:${join(out, 'plain')}:test`);
    await sh(`umoci unpack --image ${join(out, 'plain')}:test ${bundle}`);
    const rootfs = join(bundle, 'rootfs');
    const shipped = records.flatMap((r) => r.paths.map((p) => p.path));
    expect((await sh(`ls ${rootfs}/nix/store`)).trim().split('\n').sort()).toEqual(shipped.map((p) => p.slice('/nix/store/'.length)).sort());
    for (const p of shipped) {
      await sh(`diff -r --no-dereference ${p} ${rootfs}${p}`);
      const modes = (dir: string) => sh(`cd ${dir} && find . -printf '%P %y %m %s %l\\n' | LC_ALL=C sort`);
      expect(await modes(`${rootfs}${p}`)).toBe(await modes(p));
    }
    // Run the image's own Entrypoint, with its Env, inside the unpacked root file system.
    const [cmd] = config.config.Entrypoint as string[];
    const ran = await sh(`env -i ${config.config.Env.join(' ')} "$(command -v chroot)" ${rootfs} ${cmd}`);
    expect(ran.trim()).toBe('hello from comfyui-entrypoint');
  });

  it('writes a docker-archive that skopeo reads with the same diffIDs', async () => {
    const inspect = JSON.parse(await sh(`skopeo inspect docker-archive:${join(out, 'image.tar')}`));
    expect(inspect.Layers).toEqual(records.map((r) => r.diffId));
    const manifest = JSON.parse(await sh(`tar -xOf ${join(out, 'image.tar')} manifest.json`));
    expect(manifest[0].RepoTags).toEqual(['megapak-fixture:test']);
    expect(manifest[0].Layers).toHaveLength(12);
  });

  it('gives the same diffIDs with every compression, and blobs that decompress to the same tar', async () => {
    // Its own copy of the stack: the shared one keeps its gzip records for the other tests.
    const own = await copyFixtureStack();
    const byCompression: Record<string, LayerRecord[]> = {};
    for (const c of ['none', 'zstd']) {
      await megapakOk(['build', '--stack', own, '--oci', join(out, `oci-${c}`), '--compression', c], { env: env() });
      byCompression[c] = await readRecords(own);
    }
    for (const c of ['none', 'zstd']) expect(byCompression[c]!.map((r) => r.diffId)).toEqual(records.map((r) => r.diffId));
    expect(byCompression.none!.map((r) => r.digest)).toEqual(records.map((r) => r.diffId));
    expect(byCompression.zstd![1]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    const z = byCompression.zstd![1]!;
    expect((await sh(`zstd -d -c ${blob(z.digest!)} | sha256sum`)).split(' ')[0]).toBe(z.diffId!.slice(7));
    for (const r of byCompression.zstd!) expect((await sh(`sha256sum ${blob(r.digest!)}`)).split(' ')[0], r.name).toBe(r.digest!.slice(7));
    const inspect = JSON.parse(await sh(`skopeo inspect oci:${join(out, 'oci-zstd')}:test`));
    expect(inspect.Layers).toEqual(byCompression.zstd!.map((r) => r.digest));
    await rm(dirname(own), { recursive: true, force: true });
  });

  it('gives the same digests after nix-store --optimise hardlinks identical files', async () => {
    await sh('nix-store --optimise');
    const licences = records.flatMap((r) => r.paths.map((p) => `${p.path}/share/LICENSE`));
    const links = await Promise.all(licences.map(async (f) => (await stat(f).catch(() => undefined))?.nlink ?? 0));
    expect(Math.max(...links)).toBeGreaterThan(1);
    const cache3 = await tempDir('cache3');
    const r = await megapakOk(['build', '--stack', stack, '--oci', join(out, 'oci4')], { env: { MEGAPAK_CACHE_DIR: cache3 } });
    expect(r.stdout).toMatch(/12 layers, 12 streamed/);
    expect((await readRecords(stack)).map((x) => x.digest)).toEqual(records.map((x) => x.digest));
    expect(r.stdout).toContain(manifestDigest);
    await rm(cache3, { recursive: true, force: true });
  });
});
