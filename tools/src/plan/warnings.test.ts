import { describe, expect, it } from 'vitest';
import { parseSize } from '../util/bytes.ts';
import { bigLayerWarning, budgetViolation, layerCountWarning, redundantRoots } from './warnings.ts';

describe('warnings and budgets', () => {
  it('flags more than 127 layers and a layer over 10 GB, nothing below', () => {
    expect(layerCountWarning(127)).toEqual([]);
    expect(layerCountWarning(128)[0]).toMatch(/128 layers \(each part of a split layer counts\); more than 127/);
    expect(bigLayerWarning('layer-02', 10e9)).toEqual([]);
    expect(bigLayerWarning('layer-02', 12.5e9)[0]).toMatch(/^layer-02: 12\.5 GB in one layer/);
  });

  it('names redundant roots with the layer that ships them', () => {
    const shipped = new Map([['/nix/store/a-glibc', 'layer-01']]);
    expect(redundantRoots('layer-05', ['/nix/store/a-glibc', '/nix/store/b-gcc'], shipped)).toEqual([
      'layer-05: root /nix/store/a-glibc already ships in layer-01; listing it here adds nothing',
    ]);
  });

  it('parses sizes and lists the five biggest paths over budget', () => {
    expect(parseSize('800MB')).toBe(800e6);
    expect(parseSize('10 GiB')).toBe(10 * 2 ** 30);
    expect(parseSize(1234)).toBe(1234);
    expect(parseSize('lots')).toBeUndefined();
    const paths = Array.from({ length: 7 }, (_, i) => ({ path: `/nix/store/p${i}`, narSize: (i + 1) * 1000 }));
    expect(budgetViolation('layer-07', 28000, 30000, paths)).toBeUndefined();
    const msg = budgetViolation('layer-07', 28000, 20000, paths)!;
    expect(msg.split('\n')).toHaveLength(6);
    expect(msg.split('\n')[1]).toMatch(/7\.0 KB +\/nix\/store\/p6$/);
  });
});
