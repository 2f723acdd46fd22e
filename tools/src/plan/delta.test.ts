import { describe, expect, it } from 'vitest';
import { planDelta, shippedBy } from './delta.ts';

const p = (name: string, narHash = `sha256-${name}`, references: string[] = []) => ({ path: `/nix/store/${name}`, narHash, narSize: 10, references });

describe('planner', () => {
  it('removes what lower layers ship and sorts bytewise', () => {
    const lower = [
      { name: 'layer-01', paths: [p('aaa-glibc')] },
      { name: 'layer-03', paths: [p('bbb-libstdcxx')] },
    ];
    const shipped = shippedBy(lower);
    expect(shipped.get('/nix/store/bbb-libstdcxx')).toBe('layer-03');
    const delta = planDelta([p('zzz-numpy'), p('aaa-glibc'), p('Ccc-upper'), p('bbb-libstdcxx'), p('ddd-é')], shipped);
    expect(delta.map((d) => d.path)).toEqual(['/nix/store/Ccc-upper', '/nix/store/ddd-é', '/nix/store/zzz-numpy']);
  });
});
