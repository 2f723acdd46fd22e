// tar-split (the tar metadata a zstd:chunked blob carries for podman 5) checksums each file
// with Go's hash/crc64 and the ISO table; this is that checksum, in 32-bit halves because a
// BigInt per byte would cost more than the compression. Twenty lines, not a dependency.

const POLY_HI = 0xd8000000; // Go's crc64.ISO, reversed: 0xD800000000000000
// Int32 tables and int32 arithmetic throughout: V8 keeps small integers unboxed, where
// uint32 values past 2^31 (from `>>> 0`) become heap doubles and cost ten times as much.
const TABLE_HI = new Int32Array(256);
const TABLE_LO = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  let hi = 0;
  let lo = i;
  for (let k = 0; k < 8; k++) {
    const odd = lo & 1;
    lo = ((lo >>> 1) | (hi << 31)) >>> 0;
    hi = hi >>> 1;
    if (odd) hi = (hi ^ POLY_HI) >>> 0;
  }
  TABLE_HI[i] = hi;
  TABLE_LO[i] = lo;
}

/** Go's `crc64.New(crc64.MakeTable(crc64.ISO))`: `update` as bytes come, `sum` the 8 big-endian bytes. */
export class Crc64Iso {
  private hi = -1;
  private lo = -1;
  update(b: Uint8Array): void {
    let { hi, lo } = this;
    for (let i = 0; i < b.length; i++) {
      const t = (lo ^ b[i]!) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ TABLE_LO[t]!;
      hi = (hi >>> 8) ^ TABLE_HI[t]!;
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
