// tar-split (the tar metadata a zstd:chunked blob carries for podman 5) checksums each file
// with Go's hash/crc64 and the ISO table; this is that checksum, in 32-bit halves because a
// BigInt per byte would cost more than the compression. Slicing-by-8 (eight bytes per step
// from eight tables, as Go's own crc64 does for long inputs): a byte at a time it was the
// second-largest cost of a zstd:chunked blob after the chunker. A few dozen lines, not a dependency.

const POLY_HI = 0xd8000000; // Go's crc64.ISO, reversed: 0xD800000000000000
// Int32 tables and int32 arithmetic throughout: V8 keeps small integers unboxed, where
// uint32 values past 2^31 (from `>>> 0`) become heap doubles and cost ten times as much.
// Table k (k = 0…7) at [k * 256 + i]: the CRC of byte i followed by k zero bytes.
const HI = new Int32Array(8 * 256);
const LO = new Int32Array(8 * 256);
for (let i = 0; i < 256; i++) {
  let hi = 0;
  let lo = i;
  for (let k = 0; k < 8; k++) {
    const odd = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi = hi >>> 1;
    if (odd) hi = (hi ^ POLY_HI) >>> 0;
  }
  HI[i] = hi;
  LO[i] = lo;
}
for (let k = 1; k < 8; k++)
  for (let i = 0; i < 256; i++) {
    const hi = HI[(k - 1) * 256 + i]!;
    const lo = LO[(k - 1) * 256 + i]!;
    const t = lo & 0xff;
    LO[k * 256 + i] = ((lo >>> 8) | (hi << 24)) ^ LO[t]!;
    HI[k * 256 + i] = (hi >>> 8) ^ HI[t]!;
  }

/** Go's `crc64.New(crc64.MakeTable(crc64.ISO))`: `update` as bytes come, `sum` the 8 big-endian bytes. */
export class Crc64Iso {
  private hi = -1;
  private lo = -1;
  update(b: Uint8Array): void {
    let { hi, lo } = this;
    const n = b.length;
    let i = 0;
    for (const end = n - (n & 7); i < end; i += 8) {
      lo ^= b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24);
      hi ^= b[i + 4]! | (b[i + 5]! << 8) | (b[i + 6]! << 16) | (b[i + 7]! << 24);
      const a = 7 * 256 + (lo & 0xff);
      const c = 6 * 256 + ((lo >>> 8) & 0xff);
      const d = 5 * 256 + ((lo >>> 16) & 0xff);
      const e = 4 * 256 + (lo >>> 24);
      const f = 3 * 256 + (hi & 0xff);
      const g = 2 * 256 + ((hi >>> 8) & 0xff);
      const h = 256 + ((hi >>> 16) & 0xff);
      const j = hi >>> 24;
      lo = LO[a]! ^ LO[c]! ^ LO[d]! ^ LO[e]! ^ LO[f]! ^ LO[g]! ^ LO[h]! ^ LO[j]!;
      hi = HI[a]! ^ HI[c]! ^ HI[d]! ^ HI[e]! ^ HI[f]! ^ HI[g]! ^ HI[h]! ^ HI[j]!;
    }
    for (; i < n; i++) {
      const t = (lo ^ b[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ LO[t]!;
      hi = (hi >>> 8) ^ HI[t]!;
    }
    this.hi = hi;
    this.lo = lo;
  }
  sum(): Buffer {
    const out = Buffer.alloc(8);
    out.writeUInt32BE(~this.hi >>> 0, 0);
    out.writeUInt32BE(~this.lo >>> 0, 4);
    return out;
  }
}
