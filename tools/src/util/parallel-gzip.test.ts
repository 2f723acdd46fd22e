import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { crc32, gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { crc32Combine } from './crc32-combine.ts';
import { ParallelGzip } from './parallel-gzip.ts';

/** Text, incompressible bytes and long repeats, like a layer tar; `n` bytes. */
function layerLike(n: number): Buffer {
  const parts: Buffer[] = [];
  let len = 0;
  for (let i = 0; len < n; i++) {
    const p =
      i % 3 === 0
        ? Buffer.from(Array.from({ length: 400 }, (_, j) => `def f_${i}_${j}(x): return x * ${j}\n`).join(''))
        : i % 3 === 1
          ? randomBytes(50_000 + ((i * 7919) % 90_000))
          : Buffer.alloc(20_000 + i * 13, i % 251);
    parts.push(p);
    len += p.length;
  }
  return Buffer.concat(parts).subarray(0, n);
}

/** Gzip `input` written in pieces of the given sizes (cycled), as the tar writer would. */
async function gzip(input: Buffer, opts: { workers: number; blockSize?: number }, pieces = [1 << 20]): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let off = 0, i = 0; off < input.length; i++) {
    const n = pieces[i % pieces.length]!;
    chunks.push(input.subarray(off, off + n));
    off += n;
  }
  const gz = new ParallelGzip(opts);
  const out: Buffer[] = [];
  gz.on('data', (b: Buffer) => out.push(b));
  const done = new Promise<void>((resolve, reject) => gz.on('end', resolve).on('error', reject));
  Readable.from(chunks).pipe(gz);
  await done;
  return Buffer.concat(out);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('crc32Combine', () => {
  it('gives the CRC-32 of a concatenation from the CRCs of its parts', () => {
    for (const [a, b] of [
      [randomBytes(1000), randomBytes(1)],
      [randomBytes(3), randomBytes(1 << 20)],
      [Buffer.alloc(0), randomBytes(77)],
      [randomBytes(77), Buffer.alloc(0)],
    ] as const)
      expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(crc32(Buffer.concat([a, b])));
  });
});

describe('ParallelGzip', () => {
  const input = layerLike(5_000_003);

  it('writes the same bytes with 1, 2 and 4 workers and any write sizes, and gunzip gives back the input', async () => {
    const opts = { blockSize: 128 << 10 };
    const one = await gzip(input, { ...opts, workers: 1 });
    const two = await gzip(input, { ...opts, workers: 2 }, [4096, 1 << 20, 333]);
    const four = await gzip(input, { ...opts, workers: 4 }, [4 << 20, 17]);
    expect(sha(two)).toBe(sha(one));
    expect(sha(four)).toBe(sha(one));
    expect(one.length).toBeLessThan(input.length * 0.8);

    const dir = mkdtempSync(join(tmpdir(), 'megapak-pgz-'));
    const file = join(dir, 'layer.tar.gz');
    writeFileSync(file, four);
    const test = spawnSync('gzip', ['-t', file], { encoding: 'utf8' });
    expect(test.stderr).toBe('');
    expect(test.status).toBe(0);
    const back = spawnSync('gzip', ['-dc', file], { maxBuffer: 64 << 20 });
    expect(back.status).toBe(0);
    expect(sha(back.stdout)).toBe(sha(input));
    expect(sha(gunzipSync(one))).toBe(sha(input));
  });

  // Separate members per block would end with the last block's CRC, not the whole input's.
  it('is one gzip member whose trailer holds the CRC-32 and length of the whole input', async () => {
    const out = await gzip(input, { workers: 2 });
    expect([...out.subarray(0, 4)]).toEqual([0x1f, 0x8b, 8, 0]);
    expect(out.readUInt32LE(out.length - 8)).toBe(crc32(input));
    expect(out.readUInt32LE(out.length - 4)).toBe(input.length);
  });

  it('handles an empty input and inputs that end exactly on a block boundary', async () => {
    for (const n of [0, 1, 64 << 10, 2 * (64 << 10)]) {
      const data = layerLike(n);
      const a = await gzip(data, { workers: 1, blockSize: 64 << 10 });
      const b = await gzip(data, { workers: 3, blockSize: 64 << 10 }, [1000]);
      expect(sha(b)).toBe(sha(a));
      expect(gunzipSync(a).equals(data)).toBe(true);
      const t = spawnSync('gzip', ['-t'], { input: a });
      expect(t.status).toBe(0);
    }
  });
});
