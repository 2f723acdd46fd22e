import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseDrvName, storePathParts } from './nix-name.ts';

describe('parseDrvName', () => {
  it("splits names exactly as Nix's builtins.parseDrvName does", () => {
    const names = [
      'nix-0.12pre12876',
      'python3.14-requests-2.32.3',
      'glibc-2.40-66',
      'busybox',
      'cuda-cudart-13.0.48',
      'gcc-wrapper-15.1.0-lib',
      'a-',
      'x-1-y',
      'libGL--2',
      'py-_x',
    ];
    const nix = JSON.parse(
      execFileSync('nix-instantiate', ['--eval', '--strict', '--json', '-E', `map builtins.parseDrvName (builtins.fromJSON ''${JSON.stringify(names)}'')`], { encoding: 'utf8' }),
    );
    expect(names.map(parseDrvName)).toEqual(nix);
    expect(parseDrvName('python3.14-requests-2.32.3')).toEqual({ name: 'python3.14-requests', version: '2.32.3' });
  });

  it('splits a store path into hash and name', () => {
    expect(storePathParts('/nix/store/s8m70cm6w8mq74smry78f0sljdbfn9am-python3.14-requests-2.32.3')).toEqual({
      hash: 's8m70cm6w8mq74smry78f0sljdbfn9am',
      fullName: 'python3.14-requests-2.32.3',
    });
  });
});
