import { describe, expect, it } from 'vitest';
import type { LayerRecord } from '../model/vocabulary.ts';
import { why } from './why.ts';

const S = '/nix/store/';
const h = (c: string) => c.repeat(32);
const path = (c: string, name: string) => `${S}${h(c)}-${name}`;
const glibc = path('a', 'glibc');
const gcc = path('b', 'gcc-lib');
const python = path('c', 'python3.14');
const numpy = path('d', 'numpy');

const record = (name: string, index: number, roots: string[], paths: [string, string[]][]): LayerRecord => ({
  name,
  version: '1.0.0',
  index,
  storeDir: '/nix/store',
  roots,
  paths: paths.map(([p, references]) => ({ path: p, narHash: 'sha256-x', narSize: 1, references })),
  narSize: paths.length,
  contentKey: 'sha256:0',
  empty: true,
  compression: 'gzip',
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
  diffId: null,
  diffSize: null,
  digest: null,
  size: null,
  warnings: [],
});

// layer-01 ships glibc (its root); gcc-lib is pulled into layer-02 by python; numpy (layer-03) needs python.
const records = [
  record('layer-01', 1, [glibc], [[glibc, []]]),
  record(
    'layer-02',
    2,
    [python],
    [
      [gcc, [glibc]],
      [python, [gcc, glibc]],
    ],
  ),
  record('layer-03', 3, [numpy], [[numpy, [python]]]),
];

describe('why', () => {
  it("gives the shipping layer and the chain from that layer's root", () => {
    expect(why(records, gcc)).toEqual([{ path: gcc, layer: 'layer-02', chain: [python, gcc], rootLayer: 'layer-02' }]);
  });

  it('matches by name (exact before substring) and follows a chain from a higher layer when its own roots do not reach it', () => {
    expect(why(records, 'glibc').map((a) => [a.layer, a.rootLayer, a.chain])).toEqual([['layer-01', 'layer-01', [glibc]]]);
    expect(why(records, 'python').map((a) => a.path)).toEqual([python]);
    const extra = [record('layer-01', 1, [], [[glibc, []]]), ...records.slice(1)];
    expect(why(extra, 'glibc')[0]).toMatchObject({ layer: 'layer-01', rootLayer: 'layer-02', chain: [python, glibc] });
    expect(why(records, 'nothing-like-this')).toEqual([]);
  });
});
