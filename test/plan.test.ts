// `megapak plan` on a mixed fixture stack — some store paths present, some only in a file://
// binary cache, some built nowhere — against what `nix-build --dry-run` itself lists, and the
// one-line summary `megapak build` prints before it starts (only when something is missing).
import { existsSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { megapak, megapakOk, run } from './helpers/cli.ts';
import { tempDir } from './helpers/fixture.ts';
import { copyRealStack, standInExpr } from './helpers/real-stack.ts';
import { deleteSaltedPaths, onlySubstituter, saltedStack } from './helpers/stateless.ts';
import { writeFile } from 'node:fs/promises';

const NIX = ['--extra-experimental-features', 'nix-command'];
const OFFLINE = { NIX_CONFIG: 'substituters =' };

/** The roots of the given layer folders, as a Nix expression (independent of megapak's own). */
const rootsExpr = (stack: string, folders: string[]) =>
  `let raw = import ${stack}/nix/pkgs.nix; pkgs = if builtins.isFunction raw then raw { } else raw; in ` +
  `builtins.concatLists (map (f: import f { inherit pkgs; }) [ ${folders.map((f) => `${stack}/layers/${f}/layer.nix`).join(' ')} ])`;

const sh = async (cmd: string, args: string[], env?: NodeJS.ProcessEnv) => {
  const r = await run(cmd, args, { env });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
  return r;
};

/** What `nix-build --dry-run` lists, read here with nothing but its two headings and indented paths. */
async function nixDryRun(stack: string, folders: string[], env: NodeJS.ProcessEnv) {
  const r = await sh('nix-build', ['--dry-run', '-E', rootsExpr(stack, folders)], env);
  const out = { build: [] as string[], fetch: [] as string[] };
  let into: string[] | null = null;
  for (const line of r.stderr.split('\n')) {
    if (line.startsWith('  /') && into) into.push(line.trim());
    else into = /will be built:$/.test(line) ? out.build : /will be fetched/.test(line) ? out.fetch : null;
  }
  return { build: out.build.sort(), fetch: out.fetch.sort() };
}

interface Plan {
  layers: { name: string; build: string[]; fetch: string[]; present: string[]; downloadBytes: number }[];
}

describe('megapak plan', () => {
  let stack: string;
  let cache: string;
  let folders: string[];
  let env: NodeJS.ProcessEnv;
  let plan: Plan;

  beforeAll(async () => {
    const salted = await saltedStack();
    stack = salted.dir;
    folders = (await readdir(join(stack, 'layers'))).sort();
    cache = join(await tempDir('plan-cache'), 'cache');
    // Layers 01–03 built and kept; 04–08 built, copied to the cache and deleted here; 09–12 never built.
    const present = (await sh('nix-build', ['--no-out-link', '-E', rootsExpr(stack, folders.slice(0, 3))], OFFLINE)).stdout.trim().split('\n');
    const cached = (await sh('nix-build', ['--no-out-link', '-E', rootsExpr(stack, folders.slice(3, 8))], OFFLINE)).stdout.trim().split('\n');
    await sh('nix', [...NIX, 'copy', '--to', `file://${cache}?compression=zstd`, ...cached], OFFLINE);
    const keep = new Set((await sh('nix-store', ['--query', '--requisites', ...present])).stdout.trim().split('\n'));
    const doomed = (await sh('nix-store', ['--query', '--requisites', ...cached])).stdout
      .trim()
      .split('\n')
      .filter((p) => !keep.has(p));
    await deleteSaltedPaths(doomed, salted.salt, [...keep]);
    env = onlySubstituter(cache);
    plan = JSON.parse((await megapakOk(['plan', '--stack', stack, '--json'], { env })).stdout) as Plan;
  }, 240_000);

  it('lists, over all layers, exactly what nix-build --dry-run lists: the derivations to build and the paths to fetch', async () => {
    const dry = await nixDryRun(stack, folders, env);
    // A mixed stack: something of each kind.
    expect(dry.build.length).toBeGreaterThan(0);
    expect(dry.fetch.length).toBeGreaterThan(0);
    expect(plan.layers.map((l) => l.name)).toEqual(folders.map((f) => `layer-${f.slice(0, 2)}`));
    expect(Object.keys(plan)).toEqual(['layers']);
    for (const l of plan.layers) expect(Object.keys(l)).toEqual(['name', 'build', 'fetch', 'present', 'downloadBytes']);
    expect(plan.layers.flatMap((l) => l.build).sort()).toEqual(dry.build);
    expect(plan.layers.flatMap((l) => l.fetch).sort()).toEqual(dry.fetch);
  });

  it('gives each path to the lowest layer whose roots need it (dry runs of each prefix of the layers)', async () => {
    let below = { build: new Set<string>(), fetch: new Set<string>() };
    for (const [i, l] of plan.layers.entries()) {
      const upTo = await nixDryRun(stack, folders.slice(0, i + 1), env);
      expect(l.build, l.name).toEqual(upTo.build.filter((p) => !below.build.has(p)));
      expect(l.fetch, l.name).toEqual(upTo.fetch.filter((p) => !below.fetch.has(p)));
      below = { build: new Set(upTo.build), fetch: new Set(upTo.fetch) };
    }
    // Layers 01–03 are built; 09–12 need builds (their own packages are in no cache).
    for (const l of plan.layers.slice(0, 3)) expect(l.build.length + l.fetch.length, l.name).toBe(0);
    expect(plan.layers.slice(8).some((l) => l.build.length > 0)).toBe(true);
  });

  it("sizes each layer's download from the cache's narinfo, and lists what is present", async () => {
    const fileSize = new Map<string, number>();
    for (const f of (await readdir(cache)).filter((n) => n.endsWith('.narinfo'))) {
      const text = await readFile(join(cache, f), 'utf8');
      fileSize.set(/^StorePath: (.+)$/m.exec(text)![1]!, Number(/^FileSize: (\d+)$/m.exec(text)![1]));
    }
    for (const l of plan.layers) expect(l.downloadBytes, l.name).toBe(l.fetch.reduce((s, p) => s + fileSize.get(p)!, 0));
    expect(plan.layers.reduce((s, l) => s + l.downloadBytes, 0)).toBeGreaterThan(0);
    // Layer 01 is built: present is its roots' whole closure.
    const roots01 = (await sh('nix-build', ['--no-out-link', '-E', rootsExpr(stack, folders.slice(0, 1))], OFFLINE)).stdout.trim().split('\n');
    const closure01 = (await sh('nix-store', ['--query', '--requisites', ...roots01])).stdout.trim().split('\n').sort();
    expect([...plan.layers[0]!.present].sort()).toEqual(closure01);
    for (const l of plan.layers) for (const p of l.present) expect(existsSync(p), p).toBe(true);
  });

  it('builds and fetches nothing', async () => {
    for (const l of plan.layers) for (const p of l.fetch) expect(existsSync(p), p).toBe(false);
    const outputs = (await sh('nix-store', ['--query', '--outputs', ...plan.layers.flatMap((l) => l.build)])).stdout.trim().split('\n');
    expect(outputs.length).toBeGreaterThan(0);
    for (const p of outputs) expect(existsSync(p), p).toBe(false);
  });

  it('megapak build prints the plan in one line before it starts, and a no-change build does not ask for it', async () => {
    const all = { build: plan.layers.flatMap((l) => l.build).length, fetch: plan.layers.flatMap((l) => l.fetch).length };
    const first = await megapakOk(['build', '--stack', stack, '--compression', 'none'], { env });
    expect(first.stderr).toMatch(new RegExp(`^plan: ${all.build} derivations to build, ${all.fetch} paths to fetch \\([\\d.]+ MiB download\\)`, 'm'));
    expect(first.stderr.indexOf('plan: ')).toBeLessThan(first.stderr.indexOf("stack: building every layer's roots"));
    const again = await megapakOk(['build', '--stack', stack, '--compression', 'none'], { env });
    expect(again.stderr).not.toMatch(/^plan: /m);
    // And now there is nothing left to do.
    const after = JSON.parse((await megapakOk(['plan', '--stack', stack, '--json'], { env })).stdout) as Plan;
    expect(after.layers.every((l) => l.build.length === 0 && l.fetch.length === 0 && l.downloadBytes === 0)).toBe(true);
  }, 240_000);

  it('text output: counts per layer, the heaviest builds, the download; one line for bad usage', async () => {
    const fresh = await saltedStack();
    const r = await megapakOk(['plan', '--stack', fresh.dir, '--top', '3'], { env: OFFLINE });
    expect(r.stdout).toMatch(/^layer +build +fetch +download +present$/m);
    expect(r.stdout).toMatch(/^layer-06 +2 +0 +0 B +0$/m);
    expect(r.stdout).toMatch(/^heaviest builds /m);
    expect(r.stdout.split('\n').filter((l) => /^ {2}layer-\d\d {2}\S+ .*\.drv$/.test(l))).toHaveLength(3);
    expect(r.stdout).toMatch(/^plan: \d+ derivations to build, 0 paths to fetch \(0 B download\), 0 paths present$/m);
    const md = await megapakOk(['plan', '--stack', fresh.dir, '--markdown'], { env: OFFLINE });
    expect(md.stdout).toMatch(/^### megapak plan: /);
    expect(md.stdout).toContain('| layer | build | fetch | download | present |\n|---|--:|--:|--:|--:|\n| layer-01 |');
    expect(md.stdout).toMatch(/^\| layer-06 \| 2 \| 0 \| 0 B \| 0 \|$/m);
    const bad = await megapak(['plan', '--stack', fresh.dir, '--json', '--markdown']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe('megapak: plan: give at most one of --json and --markdown');
  });

  it('on the real stack (against the stand-in), shows what nix/settings.json changes: wheels or source, test suites or not', async () => {
    const { dir, standIn, index } = await copyRealStack();
    const planWith = async (settings: string) => {
      await writeFile(join(dir, 'nix', 'pkgs.nix'), standInExpr({ standIn, index, settings }));
      const r = await megapakOk(['plan', '--stack', dir, '--json'], { env: OFFLINE });
      return JSON.parse(r.stdout) as Plan;
    };
    const name = (drv: string) => drv.replace(/^\/nix\/store\/[a-z0-9]{32}-/, '');
    const [wheels, source, checks] = [await planWith('{ }'), await planWith('{ fromSource = true; }'), await planWith('{ pythonChecks = true; }')];
    expect(wheels.layers.map((l) => l.name)).toHaveLength(12);
    // Layer 06: the pinned wheel is fetched and installed; from source, PyTorch's own source is built.
    expect(wheels.layers[5]!.build.map(name)).toEqual(expect.arrayContaining(['torch-2.10.0+cu130-cp314-cp314t-manylinux_2_28_x86_64.whl.drv']));
    expect(wheels.layers[5]!.build.map(name)).not.toContain('source-pytorch.drv');
    expect(source.layers[5]!.build.map(name)).toContain('source-pytorch.drv');
    expect(
      source.layers
        .flatMap((l) => l.build)
        .map(name)
        .filter((n) => n.endsWith('.whl.drv')),
    ).not.toContain('torch-2.10.0+cu130-cp314-cp314t-manylinux_2_28_x86_64.whl.drv');
    // Test suites on: the same packages, other derivations where doCheck is part of one (in the
    // stand-in, the packages built through buildPythonPackage: nix/custom.nix's).
    const all = (p: Plan) => p.layers.flatMap((l) => l.build);
    expect(all(checks).map(name).sort()).toEqual(all(wheels).map(name).sort());
    expect(all(checks).filter((d) => !all(wheels).includes(d)).length).toBeGreaterThan(0);
  });
});
