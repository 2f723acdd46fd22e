import { createHash, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { decompress } from 'zstd-napi';
import { Crc64Iso } from '../util/crc64.ts';
import { FileChunker, HOLE_MIN } from './file-chunker.ts';
import { TarEntryStream } from './tar-entry-stream.ts';
import { END_OF_ARCHIVE, encodeHeader, padding } from './tar-header.ts';
import { parseZstdChunkedToc } from './toc-reader.ts';
import { ZSTD_CHUNKED_TOC_DIGEST, ZSTD_CHUNKED_TOC_POSITION, ZstdChunkedEncoder } from './zstd-chunked.ts';

const sha = (b: Uint8Array) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/** A tar of `files` (name → content) under a directory, written as the layer tar writer does. */
function tarOf(files: Record<string, Buffer>): Buffer {
  const parts: Buffer[] = [encodeHeader({ name: 'nix', type: 'dir', mode: 0o755, size: 0 })];
  for (const [name, data] of Object.entries(files)) parts.push(encodeHeader({ name, type: 'file', mode: 0o444, size: data.length }), data, Buffer.alloc(padding(data.length)));
  parts.push(encodeHeader({ name: 'nix/link', type: 'symlink', mode: 0o777, size: 0, linkname: 'x' }), END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

/** Encode `tar` fed in slices of `slice` bytes. */
async function encode(tar: Buffer, slice: number, threads = 2): Promise<{ blob: Buffer; annotations: Record<string, string> }> {
  const out: Buffer[] = [];
  const enc = new ZstdChunkedEncoder((b) => out.push(b), { threads });
  const stream = new TarEntryStream(enc);
  for (let i = 0; i < tar.length; i += slice) stream.write(tar.subarray(i, i + slice));
  stream.end();
  const { annotations } = await enc.finish();
  return { blob: Buffer.concat(out), annotations };
}

/** Cut points of `data` (chunk sizes, and which are zero runs). */
// Random bytes without zeros, so each zero run in a test is exactly as long as written (a random
// zero beside a written run would lengthen it by one).
const noZeros = (n: number) => Buffer.from(randomBytes(n).map((b) => b || 1));

function cuts(data: Buffer, slice = 4096): { size: number; zeros: boolean }[] {
  const out: { size: number; zeros: boolean }[] = [];
  let n = 0;
  const c = new FileChunker({ data: (b) => void (n += b.length), cut: (zeros) => (out.push({ size: n, zeros }), (n = 0)) });
  for (let i = 0; i < data.length; i += slice) c.write(data.subarray(i, i + slice));
  c.end();
  return out;
}

describe('zstd:chunked encoder', () => {
  const big = randomBytes(900_000);
  const files = { 'nix/a.so': big, 'nix/b.txt': Buffer.from('hello\n'), 'nix/empty': Buffer.alloc(0) };
  const tar = tarOf(files);

  it('is one zstd stream of exactly the tar (the frames, TOC and footer skipped by the decoder), the same however the tar was sliced and on any number of threads', async () => {
    const a = await encode(tar, 1 << 20);
    expect(sha(decompress(a.blob))).toBe(sha(tar));
    const z = spawnSync('zstd', ['-d', '-c', '-q'], { input: a.blob });
    expect(sha(z.stdout)).toBe(sha(tar));
    expect((await encode(tar, 777)).blob.equals(a.blob)).toBe(true);
    expect((await encode(tar, 1 << 16, 1)).blob.equals(a.blob)).toBe(true);
    expect((await encode(tar, 1 << 16, 5)).blob.equals(a.blob)).toBe(true);
  });

  it('has a TOC whose annotated digest matches and whose every file and chunk decompresses, on its own, to its digest', async () => {
    const { blob, annotations } = await encode(tar, 1 << 20);
    const [offset, length] = annotations[ZSTD_CHUNKED_TOC_POSITION]!.split(':').map(Number);
    const tocBytes = blob.subarray(offset!, offset! + length!);
    expect(sha(tocBytes)).toBe(annotations[ZSTD_CHUNKED_TOC_DIGEST]);
    const toc = parseZstdChunkedToc(tocBytes, 'test');
    expect(toc.files.map((f) => f.name)).toEqual(['nix/a.so', 'nix/b.txt']);
    for (const f of toc.files) {
      const content = Buffer.concat(f.chunks.map((c) => decompress(blob.subarray(c.offset, c.end))));
      expect(content.equals(files[f.name as keyof typeof files])).toBe(true);
      expect(sha(content)).toBe(f.digest);
      if (f.chunks.length > 1) for (const c of f.chunks) expect(sha(decompress(blob.subarray(c.offset, c.end)))).toBe(c.digest);
    }
    expect(toc.files[0]!.chunks.length).toBeGreaterThan(3);
  });
});

describe('file chunker', () => {
  it('cuts where the content says: a changed head leaves every cut after the first unchanged', () => {
    const data = randomBytes(2_000_000);
    const changed = Buffer.concat([randomBytes(300), data.subarray(200)]);
    const a = cuts(data);
    const b = cuts(changed, 1000);
    expect(a.length).toBeGreaterThan(10);
    expect(a.reduce((s, c) => s + c.size, 0)).toBe(data.length);
    // Past the changed head (and the 64-byte window after it), the cuts are the same, counted from the end.
    const ends = (cs: { size: number }[], total: number) => cs.map((_, i) => total - cs.slice(0, i + 1).reduce((s, c) => s + c.size, 0)).filter((e) => e < data.length - 1000);
    expect(ends(b, changed.length)).toEqual(ends(a, data.length));
  });

  it('cuts the same and passes every byte in order however the file is sliced, zero runs of every length included', () => {
    const parts: Buffer[] = [];
    for (let i = 0; i < 160; i++) parts.push(noZeros(1 + ((i * 7919) % 3000)), Buffer.alloc([1, 2, 63, 64, 65, 1023, 1024, 5000][i % 8]!));
    const data = Buffer.concat(parts);
    const whole = (slice: number) => {
      const out: Buffer[] = [];
      const sizes: { size: number; zeros: boolean }[] = [];
      let n = 0;
      const c = new FileChunker({ data: (b) => (out.push(Buffer.from(b)), (n += b.length)), cut: (zeros) => (sizes.push({ size: n, zeros }), (n = 0)) });
      for (let i = 0; i < data.length; i += slice) c.write(data.subarray(i, i + slice));
      c.end();
      return { bytes: Buffer.concat(out), sizes };
    };
    const a = whole(1 << 20);
    expect(a.bytes.equals(data)).toBe(true);
    expect(a.sizes.filter((c) => c.zeros).length).toBe(40);
    for (const slice of [13, 1000, 4096]) expect(whole(slice)).toEqual(a);
  });

  it('makes a run of at least 1 KiB of zeros a chunk of its own; a shorter run stays in the data', () => {
    const head = noZeros(5000);
    const tail = noZeros(5000);
    const holed = cuts(Buffer.concat([head, Buffer.alloc(HOLE_MIN + 7), tail]));
    expect(holed.filter((c) => c.zeros)).toEqual([{ size: HOLE_MIN + 7, zeros: true }]);
    expect(cuts(Buffer.concat([head, Buffer.alloc(HOLE_MIN - 1), tail])).some((c) => c.zeros)).toBe(false);
  });
});

describe('Crc64Iso', () => {
  it("is Go's crc64.ISO (the catalogue's check value of '123456789')", () => {
    const c = new Crc64Iso();
    c.update(Buffer.from('123456789'));
    expect(c.sum().toString('hex')).toBe('b90956c775a41001');
  });

  it('takes eight bytes a step and agrees with the one-bit-at-a-time definition, however the input is sliced', () => {
    // Reflected CRC-64 with Go's ISO polynomial, bit by bit in BigInt: slow and plainly right.
    const reference = (b: Uint8Array) => {
      let crc = 0xffffffffffffffffn;
      for (const byte of b) {
        crc ^= BigInt(byte);
        for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ 0xd800000000000000n : crc >> 1n;
      }
      return (crc ^ 0xffffffffffffffffn).toString(16).padStart(16, '0');
    };
    const data = randomBytes(20_011);
    for (const n of [0, 1, 7, 8, 9, 15, 16, 17, 4099, data.length]) {
      const c = new Crc64Iso();
      c.update(data.subarray(0, n));
      expect(c.sum().toString('hex')).toBe(reference(data.subarray(0, n)));
    }
    const sliced = new Crc64Iso();
    for (let i = 0; i < data.length; i += 13) sliced.update(data.subarray(i, i + 13));
    expect(sliced.sum().toString('hex')).toBe(reference(data));
  });
});
