// What bad input gets: one clear line naming the culprit, the right exit code, nothing half-written.
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { megapak, megapakOk } from './helpers/cli.ts';
import { copyFixtureStack, tempDir } from './helpers/fixture.ts';

const lines = (s: string) => s.trim().split('\n').filter(Boolean);

describe('bad input', () => {
  let stack: string;
  let cache: string;
  beforeAll(async () => {
    stack = await copyFixtureStack();
    cache = await tempDir('cache');
    await megapakOk(['build', '--stack', stack], { env: { MEGAPAK_CACHE_DIR: cache } });
  });

  it('a layer.nix that fails to evaluate names the layer, shows Nix, and leaves no dist/ or blob', async () => {
    const broken = await copyFixtureStack();
    const cache2 = await tempDir('cache-broken');
    await writeFile(join(broken, 'layers', '09-pak5', 'layer.nix'), '{ pkgs }: [ pkgs.no-such-package ]\n');
    const r = await megapak(['build', '--stack', broken], { env: { MEGAPAK_CACHE_DIR: cache2 } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^megapak: layer-09: nix-build of .*09-pak5\/layer\.nix failed/m);
    expect(r.stderr).toMatch(/attribute 'no-such-package' missing/);
    expect(existsSync(join(broken, 'layers', '08-cupy', 'dist', 'layer.json'))).toBe(true);
    expect(existsSync(join(broken, 'layers', '09-pak5', 'dist'))).toBe(false);
    const blobs = await readdir(join(cache2, 'blobs', 'sha256'));
    expect(blobs.filter((b) => b.includes('tmp'))).toEqual([]);
    expect(blobs).toHaveLength(8);
  });

  it('a derivation that fails to build names the layer and removes its stale dist/layer.json', async () => {
    const layer = join(stack, 'layers', '12-app');
    expect(existsSync(join(layer, 'dist', 'layer.json'))).toBe(true);
    await writeFile(join(layer, 'layer.nix'), '{ pkgs }: [ (pkgs.mk "doomed" { script = "echo compiler exploded >&2; exit 3"; }) ]\n');
    const r = await megapak(['layer'], { cwd: layer, env: { MEGAPAK_CACHE_DIR: cache } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/megapak: layer-12: nix-build .* failed/);
    expect(r.stderr).toContain('compiler exploded');
    expect(existsSync(join(layer, 'dist', 'layer.json'))).toBe(false);
  });

  it('a layer.nix that returns no list says so', async () => {
    const layer = join(stack, 'layers', '11-attention');
    await writeFile(join(layer, 'layer.nix'), '{ pkgs }: pkgs.flash-attn\n');
    const r = await megapak(['layer'], { cwd: layer, env: { MEGAPAK_CACHE_DIR: cache } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('layer-11: layer.nix must return a list of derivations');
  });

  it('a folder without nix/pkgs.nix: one line, exit 2', async () => {
    const dir = await tempDir('nostack');
    const r = await megapak(['build', '--stack', dir]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([`megapak: ${dir} is not a stack: it has no nix/pkgs.nix`]);
  });

  it('a stack with no layers: one line, exit 2', async () => {
    const dir = await tempDir('nolayers');
    await mkdir(join(dir, 'nix'));
    await writeFile(join(dir, 'nix', 'pkgs.nix'), '{ }\n');
    const r = await megapak(['build', '--stack', dir]);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual([`megapak: ${dir} is not a stack: no layers/NN-name/layer.nix found`]);
  });

  it('an unknown --compression: one line, exit 2', async () => {
    const r = await megapak(['build', '--stack', stack, '--compression', 'lz4']);
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual(["megapak: option '--compression <kind>' argument 'lz4' is invalid. Allowed choices are none, gzip, zstd, zstd:chunked, estargz."]);
    const viaEnv = await megapak(['build', '--stack', stack], { env: { MEGAPAK_COMPRESSION: 'lz4' } });
    expect(viaEnv.code).toBe(2);
    expect(lines(viaEnv.stderr)).toEqual(["megapak: unknown compression 'lz4': use one of none, gzip, zstd, zstd:chunked, estargz"]);
  });

  it('no nix on PATH: one line, exit 2', async () => {
    const bin = await tempDir('bin');
    const r = await megapak(['build', '--stack', stack], { env: { PATH: bin, MEGAPAK_CACHE_DIR: cache } });
    expect(r.code).toBe(2);
    expect(lines(r.stderr)).toEqual(["megapak: 'nix-build' was not found on PATH; install it (Debian: apt-get install -y nix-bin)"]);
    await rm(bin, { recursive: true });
  });

  it('an image config naming a store path no layer ships is refused', async () => {
    const s = await copyFixtureStack();
    await writeFile(join(s, 'nix', 'config.nix'), '{ pkgs }: { Entrypoint = [ "${pkgs.mk "stray" { }}/bin/stray" ]; }\n');
    const r = await megapak(['build', '--stack', s], { env: { MEGAPAK_CACHE_DIR: cache } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/megapak: image config names \/nix\/store\/[0-9a-z]{32}-stray, which no layer ships; add its package to a layer's roots/);
  });

  it('a layer built before its lower layers names the missing one', async () => {
    const fresh = await copyFixtureStack();
    const r = await megapak(['layer'], { cwd: join(fresh, 'layers', '03-build-tools'), env: { MEGAPAK_CACHE_DIR: cache } });
    expect(r.code).toBe(1);
    expect(lines(r.stderr)).toEqual(["megapak: layer-03: layer-01 has no dist/layer.json; build it first (megapak build, or turbo's ^build)"]);
  });
});
