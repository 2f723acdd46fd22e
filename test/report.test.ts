// megapak report / why / budgets on the fixture stack, checked against Nix's own figures.
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LayerRecord } from '../tools/src/model/vocabulary.ts';
import type { Report } from '../tools/src/report/report.ts';
import { megapak, megapakOk, run } from './helpers/cli.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';

const nix = async (...args: string[]) => {
  const r = await run('nix', ['--extra-experimental-features', 'nix-command', ...args]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout;
};

describe('megapak report and why', () => {
  let stack: string;
  let cache: string;
  let records: LayerRecord[];
  let report: Report;
  const env = () => ({ MEGAPAK_CACHE_DIR: cache });

  beforeAll(async () => {
    stack = await copyFixtureStack();
    cache = await tempDir('report-cache');
    await megapakOk(['build', '--stack', stack], { env: env() });
    records = await readRecords(stack);
    report = JSON.parse((await megapakOk(['report', '--stack', stack, '--json'], { env: env() })).stdout);
  });

  it("adds up to the closure's NAR size as Nix reports it, each path once", async () => {
    const roots = records.flatMap((r) => r.roots);
    const info = JSON.parse(await nix('path-info', '--json', '--recursive', ...roots)) as { narSize: number }[] | Record<string, { narSize: number }>;
    const narSizes = (Array.isArray(info) ? info : Object.values(info)).map((i) => i.narSize);
    expect(report.total.bytes).toBe(narSizes.reduce((a, b) => a + b, 0));
    expect(report.layers.reduce((s, l) => s + l.bytes, 0)).toBe(report.total.bytes);
    expect(report.total.paths).toBe(narSizes.length);
    expect(report.layers.map((l) => l.name)).toEqual(records.map((r) => r.name));
    expect(report.layers.map((l) => l.paths)).toEqual(records.map((r) => r.paths.length));
  });

  it("gives each single-root layer's own closure as `nix path-info -S`, and the saving over a repeating layering", async () => {
    for (const [i, r] of records.entries()) {
      if (r.roots.length !== 1) continue;
      const [path, closure] = (await nix('path-info', '-S', r.roots[0]!)).trim().split(/\s+/);
      expect(path).toBe(r.roots[0]);
      expect(report.layers[i]!.closureBytes, r.name).toBe(Number(closure));
    }
    const cumulative = report.layers.reduce((s, l) => s + l.closureBytes, 0);
    expect(report.total.cumulativeBytes).toBe(cumulative);
    expect(report.total.savedPercent).toBeCloseTo((1 - report.total.bytes / cumulative) * 100, 0);
    expect(report.total.savedPercent).toBeGreaterThan(0);
  });

  it('lists blob sizes per compression as far as they were made, and the biggest paths first', async () => {
    expect(report.layers.map((l) => l.sizes.gzip)).toEqual(records.map((r) => r.size));
    expect(report.layers.every((l) => l.sizes.zstd === null)).toBe(true);
    await megapakOk(['build', '--stack', stack, '--compression', 'zstd'], { env: env() });
    const again: Report = JSON.parse((await megapakOk(['report', '--stack', stack, '--json'], { env: env() })).stdout);
    expect(again.layers.every((l) => typeof l.sizes.zstd === 'number' && typeof l.sizes.gzip === 'number')).toBe(true);
    await megapakOk(['build', '--stack', stack], { env: env() });
    const l02 = report.layers[1]!;
    expect(l02.top[0]!.path).toMatch(/-cuda-toolkit$/);
    expect(l02.top.map((t) => t.narSize)).toEqual([...l02.top.map((t) => t.narSize)].sort((a, b) => b - a));
  });

  it('why: the layer that ships a path and a chain of real references from a root', async () => {
    const r = await megapakOk(['why', 'libstdcxx', '--stack', stack], { env: env() });
    expect(r.stdout).toMatch(/-libstdcxx\n  ships in layer-03; pulled in by layer-03:/);
    const chain = [...r.stdout.matchAll(/(\/nix\/store\/\S+)/g)].map((m) => m[1]!).slice(1);
    expect(records[2]!.roots).toContain(chain[0]);
    expect(chain.at(-1)).toMatch(/-libstdcxx$/);
    for (let i = 0; i + 1 < chain.length; i++) {
      const refs = (await run('nix-store', ['-q', '--references', chain[i]!])).stdout;
      expect(refs).toContain(chain[i + 1]);
    }
    const deep = await megapakOk(['why', 'busybox', '--stack', stack], { env: env() });
    expect(deep.stdout).toMatch(/ships in layer-01/);
    const none = await megapak(['why', 'no-such-thing', '--stack', stack], { env: env() });
    expect(none.code).toBe(1);
    expect(none.stderr.trim()).toBe("megapak: no store path in the image matches 'no-such-thing'");
  });

  it('a layer over its budget fails with its size, budget and five biggest new paths, and streams nothing', async () => {
    const s = await copyFixtureStack();
    const pkg = join(s, 'layers', '02-cuda', 'package.json');
    await writeFile(pkg, JSON.stringify({ ...JSON.parse(await readFile(pkg, 'utf8')), megapak: { budget: '10MB' } }));
    const r = await megapak(['build', '--stack', s], { env: { MEGAPAK_CACHE_DIR: await tempDir('budget') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /megapak: layer-02: 25\.2 MB \(\d+ bytes\) exceeds its budget of 10\.0 MB \(10000000 bytes\); its five biggest new paths:\n +25\.2 MB +\/nix\/store\/\S+-cuda-toolkit\n +1\.\d KB +\/nix\/store\/\S+-cudnn/,
    );
    expect(r.stderr).not.toMatch(/layer-02: streaming/);
    expect(existsSync(join(s, 'layers', '02-cuda', 'dist', 'layer.json'))).toBe(false);
    await writeFile(pkg, JSON.stringify({ name: 'layer-02', version: '1.0.0', megapak: { budget: 'lots' } }));
    const bad = await megapak(['build', '--stack', s]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("megapak.budget 'lots' is not a size");
  });

  it('warns about a root that a lower layer already ships', async () => {
    const s = await copyFixtureStack();
    await writeFile(join(s, 'layers', '05-gcc15', 'layer.nix'), '{ pkgs }: [ pkgs.gcc15 pkgs.glibc ]\n');
    const r = await megapakOk(['build', '--stack', s], { env: { MEGAPAK_CACHE_DIR: cache } });
    expect(r.stderr).toMatch(/warning: layer-05: root \/nix\/store\/\S+-glibc already ships in layer-01; listing it here adds nothing/);
    const rep = await megapakOk(['report', '--stack', s], { env: { MEGAPAK_CACHE_DIR: cache } });
    expect(rep.stderr).toMatch(/warning: layer-05: root/);
  });

  it('renders an HTML page that headless Chromium shows with twelve layers', async () => {
    const out = await tempDir('report-html');
    const html = join(out, 'report.html');
    await megapakOk(['report', '--stack', stack, '--html', html], { env: env() });
    const page = await readFile(html, 'utf8');
    expect(page).not.toMatch(/<script|<link|@import|url\(/);
    const flags = [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${join(out, 'profile')}`,
    ];
    const dom = await run('chromium', [...flags, '--dump-dom', `file://${html}`], { timeoutMs: 120_000 });
    expect(dom.code, dom.stderr).toBe(0);
    expect(dom.stdout.match(/<g class="layer" /g)).toHaveLength(12);
    expect(dom.stdout.match(/<tr class="layer-row">/g)).toHaveLength(12);
    const png = join(process.env.MEGAPAK_SCREENSHOT_DIR ?? out, 'report.png');
    const shot = await run('chromium', [...flags, '--hide-scrollbars', '--window-size=1280,1300', `--screenshot=${png}`, `file://${html}`], { timeoutMs: 120_000 });
    expect(shot.code, shot.stderr).toBe(0);
    const bytes = await readFile(png);
    expect(bytes.subarray(1, 4).toString()).toBe('PNG');
    expect(bytes.readUInt32BE(16)).toBe(1280);
    expect(bytes.length).toBeGreaterThan(20_000);
  });
});
