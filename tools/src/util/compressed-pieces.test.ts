import { randomBytes } from 'node:crypto';
import { gzipSync, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decompress } from 'zstd-napi';
import { CompressedPieces } from './compressed-pieces.ts';
import { zstdFrame } from './zstd-frame.ts';

/** Pieces through the pool, written in slices of `slice` bytes: the output and each piece's offset. */
async function run(kind: 'gzip' | 'zstd', pieces: Buffer[], threads: number, slice: number) {
  const out: Buffer[] = [];
  const p = new CompressedPieces((b) => out.push(b), { kind, level: kind === 'gzip' ? 6 : 3, threads });
  for (const piece of pieces) {
    for (let i = 0; i < piece.length; i += slice) p.write(piece.subarray(i, i + slice));
    p.end();
  }
  await p.flush();
  p.close();
  return { blob: Buffer.concat(out), offsets: pieces.map((_, i) => p.offset(i)), end: p.offset(p.count) };
}

describe('CompressedPieces', () => {
  // Small pieces and ones far larger than a batch (a zstd frame of those goes out in parts, to one thread).
  const pieces = [randomBytes(10), Buffer.alloc(3_000_000, 7), randomBytes(5_000_000), randomBytes(70_000), Buffer.from('end')];

  it('writes each zstd frame as one thread would, in order, whatever the thread count and slicing; offsets point at each frame', async () => {
    const expected = pieces.map((p) => zstdFrame(p));
    const one = await run('zstd', pieces, 1, 1 << 20);
    expect(one.blob.equals(Buffer.concat(expected))).toBe(true);
    for (const [threads, slice] of [
      [3, 65_537],
      [2, 4 << 20],
    ] as const)
      expect((await run('zstd', pieces, threads, slice)).blob.equals(one.blob)).toBe(true);
    one.offsets.forEach((o, i) => expect(decompress(one.blob.subarray(o, o + expected[i]!.length)).equals(pieces[i]!)).toBe(true));
    expect(one.end).toBe(one.blob.length);
  });

  it('writes each gzip member as gzipSync does, in order, on any number of threads', async () => {
    const small = pieces.filter((p) => p.length < 4 << 20);
    const r = await run('gzip', small, 3, 100_000);
    expect(r.blob.equals(Buffer.concat(small.map((p) => gzipSync(p, { level: 6 }))))).toBe(true);
    r.offsets.forEach((o, i) => expect(gunzipSync(r.blob.subarray(o, r.offsets[i + 1] ?? r.end)).equals(small[i]!)).toBe(true));
  });
});
