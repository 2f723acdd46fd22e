// zstd frames one at a time, for the formats that cut a layer into independently
// decompressible pieces (layer/zstd-chunked.ts). Node 20's zlib has no zstd and the zstd
// program writes one stream; zstd-napi binds libzstd itself (the version vendored in the
// package, so the lockfile pins the compressed bytes), with the streaming API that lets a
// frame of any size pass through without being held in memory.
import binding from 'zstd-napi/binding.js';

const CONTINUE = 0;
const END = 2;
const OUT = 128 << 10;

/** The compression level of every zstd blob megapak writes (the zstd program's `-3`). */
export const ZSTD_LEVEL = 3;

/** Writes zstd frames to `out`: `write` bytes into the open frame, `end` closes it. */
export class ZstdFrames {
  private readonly cctx = new binding.CCtx();
  private readonly dst = Buffer.allocUnsafe(OUT);
  /** Uncompressed bytes in the open frame; 0: no frame open. */
  inFrame = 0;

  constructor(private readonly out: (b: Buffer) => void) {
    this.cctx.setParameter(binding.CParameter.compressionLevel, ZSTD_LEVEL);
  }

  write(b: Uint8Array): void {
    let src = b;
    this.inFrame += b.length;
    while (src.length > 0) {
      const [, produced, consumed] = this.cctx.compressStream2(this.dst, src, CONTINUE);
      if (produced) this.out(Buffer.from(this.dst.subarray(0, produced)));
      src = src.subarray(consumed);
    }
  }

  /** Close the open frame (nothing when none is open). */
  end(): void {
    if (this.inFrame === 0) return;
    for (;;) {
      const [left, produced] = this.cctx.compressStream2(this.dst, Buffer.alloc(0), END);
      if (produced) this.out(Buffer.from(this.dst.subarray(0, produced)));
      if (left === 0) break;
    }
    this.inFrame = 0;
  }
}

/** `data` as one zstd frame. */
export function zstdFrame(data: Uint8Array): Buffer {
  const parts: Buffer[] = [];
  const f = new ZstdFrames((b) => parts.push(b));
  f.write(data);
  f.end();
  return Buffer.concat(parts);
}

/** A zstd skippable frame around `data`: every zstd decoder passes over it. */
export function skippableFrame(data: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(0x184d2a50, 0);
  head.writeUInt32LE(data.length, 4);
  return Buffer.concat([head, data]);
}
