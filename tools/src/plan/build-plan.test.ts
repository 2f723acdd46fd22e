import { describe, expect, it } from 'vitest';
import type { DerivationInfo } from '../nix/derivations.ts';
import { attributePlan, heaviestBuilds, presentClosure, presentFrontier } from './build-plan.ts';

const s = (n: string) => `/nix/store/${n.padEnd(32, 'x')}-${n}`;
const drv = (name: string, o: Partial<DerivationInfo> = {}): DerivationInfo => ({ name, outputs: { out: s(name) }, inputDrvs: {}, inputSrcs: [], bigParallel: false, ...o });

describe('attributePlan', () => {
  it('gives each path to the lowest layer that needs it, and sums the download of what is left to each', () => {
    const plan = attributePlan(
      [
        { name: 'layer-01', build: [`${s('glibc')}.drv`], fetch: [s('zlib')], present: [s('bash')] },
        { name: 'layer-02', build: [`${s('glibc')}.drv`, `${s('cuda')}.drv`], fetch: [s('zlib'), s('nccl')], present: [s('bash'), s('perl')] },
        { name: 'layer-03', build: [], fetch: [], present: [] },
      ],
      (p) => (p === s('zlib') ? 100 : p === s('nccl') ? 5000 : NaN),
    );
    expect(plan).toEqual({
      layers: [
        { name: 'layer-01', build: [`${s('glibc')}.drv`], fetch: [s('zlib')], present: [s('bash')], downloadBytes: 100 },
        { name: 'layer-02', build: [`${s('cuda')}.drv`], fetch: [s('nccl')], present: [s('perl')], downloadBytes: 5000 },
        { name: 'layer-03', build: [], fetch: [], present: [], downloadBytes: 0 },
      ],
    });
  });
});

describe('presentFrontier and presentClosure', () => {
  it("stops where Nix stops: roots, fetched paths' references, inputs of builds (only the outputs they use)", () => {
    const drvs = new Map([
      [`${s('app')}.drv`, drv('app', { inputDrvs: { [`${s('gcc')}.drv`]: ['lib'], [`${s('lib')}.drv`]: ['out'] }, inputSrcs: [s('builder.sh')] })],
      [`${s('gcc')}.drv`, drv('gcc', { outputs: { out: s('gcc'), lib: s('gcc-lib') } })],
      [`${s('lib')}.drv`, drv('lib')],
    ]);
    const frontier = presentFrontier({ roots: [s('app'), s('tool')], build: [`${s('app')}.drv`, `${s('lib')}.drv`], fetch: [s('zlib')] }, drvs, (p) =>
      p === s('zlib') ? [s('glibc'), s('zlib')] : undefined,
    );
    // Not gcc's unused `out`, not lib (built here), not the roots or paths to fetch themselves.
    expect(frontier.sort()).toEqual([s('builder.sh'), s('gcc-lib'), s('glibc'), s('tool')].sort());
    const refs: Record<string, string[]> = { [s('gcc-lib')]: [s('glibc')], [s('glibc')]: [], [s('builder.sh')]: [] };
    const present = presentClosure(
      frontier,
      (p) => p in refs,
      (p) => refs[p],
    );
    expect(present.sort()).toEqual([s('builder.sh'), s('gcc-lib'), s('glibc')].sort());
  });
});

describe('heaviestBuilds', () => {
  it('puts big-parallel builds first, then those with the most inputs', () => {
    const drvs = new Map([
      [`${s('torch')}.drv`, drv('torch', { bigParallel: true })],
      [`${s('numpy')}.drv`, drv('numpy', { inputDrvs: { a: ['out'], b: ['out'] } })],
      [`${s('six')}.drv`, drv('six', { inputDrvs: { a: ['out'] } })],
    ]);
    const plan = { layers: [{ name: 'layer-07', build: [`${s('six')}.drv`, `${s('numpy')}.drv`, `${s('torch')}.drv`], fetch: [], present: [], downloadBytes: 0 }] };
    expect(heaviestBuilds(plan, drvs, 2).map((h) => [h.name, h.bigParallel, h.inputs])).toEqual([
      ['torch', true, 0],
      ['numpy', false, 2],
    ]);
  });
});
