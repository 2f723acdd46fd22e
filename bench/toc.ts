// The cold-build rows of issue 23: what writing a table of contents costs a build. zstd:chunked
// beside plain zstd and eStargz beside gzip, on the many-file stack (shaped like the real image:
// most of its bytes in small files, each of which becomes its own frames or members), run by
// run alternated from the same page cache, as the other cold rows are.
import { join } from 'node:path';
import { stat, type Row, type Sample } from './measure.ts';
import type { BenchContext } from './split.ts';

/** Issue 23's goal: a TOC format costs at most this much over the plain one. */
const LIMIT = 1.2;

export async function tocRows(c: Pick<BenchContext, 'many' | 'runs' | 'freshDir' | 'megapak' | 'log' | 'settle'>): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [toc, plain] of [
    ['zstd:chunked', 'zstd'],
    ['estargz', 'gzip'],
  ] as const) {
    c.log(`many-file: cold build, ${toc} beside ${plain}`);
    const ours: Sample[] = [];
    const ref: Sample[] = [];
    const build = async (compression: string, into: Sample[]) => {
      const out = await c.freshDir(`cold-${compression.replace(':', '-')}`);
      await c.settle();
      into.push(await c.megapak(['build', '--stack', c.many, '--compression', compression, '--oci', join(out, 'oci')], { MEGAPAK_CACHE_DIR: join(out, 'cache') }));
    };
    for (let i = 0; i < c.runs; i++) {
      await build(toc, ours);
      await build(plain, ref);
    }
    const o = stat(ours);
    const r = stat(ref);
    rows.push({
      stack: 'many-file',
      what: `cold build, 12 layers, ${toc}`,
      ours: o,
      reference: { name: `megapak, ${plain}`, stat: r },
      goal: `≤ ${LIMIT} × reference`,
      met: o.median <= LIMIT * r.median,
    });
  }
  return rows;
}
