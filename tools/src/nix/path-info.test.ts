// Both `nix path-info --json` shapes, from a real closure of this machine's Nix.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { toSriHash } from './nar-hash.ts';
import { parsePathInfoJson } from './path-info.ts';

const nix = (...args: string[]) => {
  const r = spawnSync('nix', ['--extra-experimental-features', 'nix-command', ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
};

describe('parsePathInfoJson', () => {
  const busybox = spawnSync('nix-build', ['--no-out-link', '-E', `(import ${process.cwd()}/test/fixtures/stack/nix/pkgs.nix).bash`], {
    encoding: 'utf8',
    env: { ...process.env, NIX_CONFIG: 'substituters =' },
  }).stdout.trim();
  const raw = nix('path-info', '--json', '--recursive', busybox);

  it('reads the array shape this Nix prints', () => {
    const infos = parsePathInfoJson(raw);
    expect(infos.map((i) => i.path)).toEqual(nix('path-info', '--recursive', busybox).split('\n').sort());
    const bash = infos.find((i) => i.path === busybox)!;
    expect(bash.references.some((r) => r.endsWith('-glibc'))).toBe(true);
    expect(bash.narSize).toBeGreaterThan(0);
  });

  it('reads the 2.19+ object shape, and base-name keys and references, to the same result', () => {
    const arr = JSON.parse(raw) as { path: string; references: string[] }[];
    const keyed = Object.fromEntries(arr.map(({ path, ...rest }) => [path, rest]));
    const baseNamed = Object.fromEntries(arr.map(({ path, ...rest }) => [path.split('/').pop(), { ...rest, references: rest.references.map((r) => r.split('/').pop()) }]));
    expect(parsePathInfoJson(JSON.stringify(keyed))).toEqual(parsePathInfoJson(raw));
    expect(parsePathInfoJson(JSON.stringify(baseNamed), '/nix/store')).toEqual(parsePathInfoJson(raw));
  });

  it('names an invalid path (null in the 2.19+ shape)', () => {
    expect(() => parsePathInfoJson('{"/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-x": null}')).toThrow(/aaaa-x is not valid/);
  });

  it('normalises base-32 and hex narHash to the SRI form Nix prints', () => {
    const sri = parsePathInfoJson(raw)[0]!.narHash;
    const b32 = nix('hash', 'to-base32', '--type', 'sha256', sri);
    const hex = nix('hash', 'to-base16', '--type', 'sha256', sri);
    expect(toSriHash(`sha256:${b32}`)).toBe(sri);
    expect(toSriHash(`sha256:${hex}`)).toBe(sri);
    expect(() => toSriHash('md5:abc')).toThrow(/unrecognised/);
  });
});
