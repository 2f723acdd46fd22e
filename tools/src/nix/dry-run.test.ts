// The dry-run report, derivations and a cache's path-info as this machine's Nix 2.8 prints them,
// and the shapes later Nix versions print (made from the same real output).
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDerivations } from './derivations.ts';
import { parseDryRun } from './dry-run.ts';
import { parseCachePathInfo } from './substituters.ts';

const sh = (cmd: string, args: string[], env: Record<string, string> = { NIX_CONFIG: 'substituters =' }) => {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd}: ${r.stderr}`);
  return r;
};
const NIX = ['--extra-experimental-features', 'nix-command'];
const salt = `${process.pid}-${Date.now()}`;
// Two derivations, one needing the other; neither is built.
const expr = `let mk = n: d: derivation { name = n; system = builtins.currentSystem; builder = "/bin/busybox"; args = [ "sh" "-c" "/bin/busybox echo \${d} > $out" ]; requiredSystemFeatures = [ ]; salt = "${salt}"; };
  a = mk "dryrun-a" "x"; in [ a (mk "dryrun-b" a) ]`;

describe('parseDryRun', () => {
  it("reads Nix 2.8's report of derivations to build", () => {
    const drvs = sh('nix-instantiate', ['-E', expr]).stdout.trim().split('\n');
    const d = parseDryRun(sh('nix-build', ['--dry-run', '-E', expr]).stderr);
    expect(d.build).toEqual([...drvs].sort());
    expect(d).toMatchObject({ fetch: [], unknown: [], download: null });
  });

  it('reads fetched paths with their download size, singular headings, newer units and paths nothing makes', () => {
    const p = (n: string) => `/nix/store/${n.repeat(32)}-x`;
    const text = [
      'warning: something unrelated',
      'this derivation will be built:',
      `  ${p('a')}.drv`,
      'these 2 paths will be fetched (178.1 KiB download, 128.4 MiB unpacked):',
      `  ${p('b')}`,
      `  ${p('c')}`,
      "don't know how to build these paths:",
      `  ${p('d')}`,
      'copying path ... (not an item)',
    ].join('\n');
    expect(parseDryRun(text)).toEqual({ build: [`${p('a')}.drv`], fetch: [p('b'), p('c')], unknown: [p('d')], download: '178.1 KiB' });
    expect(parseDryRun(`this path will be fetched (0.21 MiB download, 0.84 MiB unpacked):\n  ${p('e')}\n`)).toMatchObject({ fetch: [p('e')], download: '0.21 MiB' });
  });
});

describe('parseDerivations and parseCachePathInfo', () => {
  const [a, b] = sh('nix-instantiate', ['-E', expr]).stdout.trim().split('\n') as [string, string];

  it('read the derivation graph in the 2.8 shape and in later ones (inputDrvs as { outputs }, base names)', () => {
    const raw = sh('nix', [...NIX, 'show-derivation', b]).stdout;
    const info = parseDerivations(raw, '/nix/store').get(b)!;
    expect(info.inputDrvs).toEqual({ [a]: ['out'] });
    expect(info.name).toBe('dryrun-b');
    expect(info.outputs.out).toMatch(/^\/nix\/store\/\w{32}-dryrun-b$/);
    expect(info.bigParallel).toBe(false);
    const base = (p: string) => p.slice('/nix/store/'.length);
    const later = Object.fromEntries(
      Object.entries(JSON.parse(raw) as Record<string, { inputDrvs: Record<string, string[]>; outputs: Record<string, { path: string }>; env: Record<string, string> }>).map(
        ([k, v]) => [
          base(k),
          {
            ...v,
            inputDrvs: Object.fromEntries(Object.entries(v.inputDrvs).map(([d, o]) => [base(d), { outputs: o, dynamicOutputs: {} }])),
            outputs: { out: { path: base(v.outputs.out!.path) } },
            env: { ...v.env, requiredSystemFeatures: 'big-parallel' },
          },
        ],
      ),
    );
    expect(parseDerivations(JSON.stringify(later), '/nix/store').get(b)).toEqual({ ...info, bigParallel: true });
  });

  it("read a file:// cache's narinfo (2.8 array with valid: false; 2.19+ object with null)", () => {
    const out = sh('nix-build', ['--no-out-link', '-E', `builtins.elemAt (${expr}) 0`]).stdout.trim();
    const cache = `file://${join(mkdtempSync(join(tmpdir(), 'megapak-narinfo-')), 'c')}`;
    sh('nix', [...NIX, 'copy', '--to', cache, out]);
    const missing = '/nix/store/00000000000000000000000000000000-absent';
    const raw = sh('nix', [...NIX, 'path-info', '--json', '--store', cache, out, missing]).stdout;
    const infos = parseCachePathInfo(raw, cache, '/nix/store');
    expect([...infos.keys()]).toEqual([out]);
    const i = infos.get(out)!;
    expect(i.downloadSize).toBeGreaterThan(0);
    expect(i.downloadSize).not.toBe(i.narSize); // xz-compressed: FileSize, not NarSize
    const arr = JSON.parse(raw) as { path: string }[];
    const keyed = Object.fromEntries(arr.map(({ path, ...rest }) => [path === out ? out.slice('/nix/store/'.length) : path, path === missing ? null : rest]));
    expect(parseCachePathInfo(JSON.stringify(keyed), cache, '/nix/store')).toEqual(infos);
  });
});
