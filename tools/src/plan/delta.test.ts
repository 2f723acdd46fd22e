import { describe, expect, it } from 'vitest';
import { contentKey, planDelta, shippedBy } from './delta.ts';

const p = (name: string, narHash = `sha256-${name}`, references: string[] = []) => ({ path: `/nix/store/${name}`, narHash, narSize: 10, references });

describe('planner', () => {
  it('removes what lower layers ship and sorts bytewise', () => {
    const lower = [{ name: 'layer-01', paths: [p('aaa-glibc')] }, { name: 'layer-03', paths: [p('bbb-libstdcxx')] }];
    const shipped = shippedBy(lower);
    expect(shipped.get('/nix/store/bbb-libstdcxx')).toBe('layer-03');
    const delta = planDelta([p('zzz-numpy'), p('aaa-glibc'), p('Ccc-upper'), p('bbb-libstdcxx'), p('ddd-é')], shipped);
    expect(delta.map((d) => d.path)).toEqual(['/nix/store/Ccc-upper', '/nix/store/ddd-é', '/nix/store/zzz-numpy']);
  });

  it('keys content by paths and NAR hashes only, in any order', () => {
    const a = [p('a'), p('b')];
    expect(contentKey(a)).toBe(contentKey([p('b'), p('a')]));
    expect(contentKey(a)).not.toBe(contentKey([p('a'), p('b', 'sha256-other')]));
    expect(contentKey(a)).not.toBe(contentKey([p('a')]));
    expect(contentKey(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
