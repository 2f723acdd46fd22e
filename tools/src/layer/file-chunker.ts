// Content-defined chunking as containers/storage's zstd:chunked writer does it
// (pkg/chunked/compressor: bup's rolling sum over a 64-byte window, a cut after every byte
// where the low 16 bits of the sum are all ones, and runs of 1 KiB or more of zeros as their
// own "zeros" chunks). Same rule, same cuts: a file whose head changed (a store path in an
// RPATH) keeps the chunks after the first cut past the change, in megapak's blobs as in podman's.

const WINDOW = 64;
const CHAR_OFFSET = 31;
const SPLIT_MASK = 0xffff; // RollsumBits = 16: chunks of 64 KiB on average
/** holesThreshold: a run of at least this many zeros is a chunk of its own. */
export const HOLE_MIN = 1024;

const ZEROS = Buffer.alloc(64 << 10);

/** Where a file's bytes go, cut into chunks. */
export interface ChunkSink {
  /** Bytes of the current chunk (the caller owns `b` only until this returns). */
  data(b: Uint8Array): void;
  /** The current chunk ends here; `zeros`: it was a run of zeros. Never called for an empty chunk. */
  cut(zeros: boolean): void;
}

/** One file's chunker: feed its bytes in any slices, then `end`. */
export class FileChunker {
  // The rolling sum's state: not private only so `write` can move it in and out of locals at once.
  s1 = WINDOW * CHAR_OFFSET;
  s2 = WINDOW * (WINDOW - 1) * CHAR_OFFSET;
  private readonly window = new Uint8Array(WINDOW);
  wofs = 0;
  /** Zeros seen and not yet written: whether they are a hole depends on what follows. */
  zeros = 0;
  /** Bytes in the current chunk. */
  private inChunk = 0;

  constructor(private readonly sink: ChunkSink) {}

  /**
   * Roll one byte in; true when the chunk ends after it. Go's uint32 sums, kept as int32 (`| 0`):
   * the low bits are the same, and V8 keeps int32s unboxed where uint32s past 2^31 are doubles.
   */
  private roll(ch: number): boolean {
    const drop = this.window[this.wofs]!;
    this.window[this.wofs] = ch;
    this.wofs = (this.wofs + 1) & (WINDOW - 1);
    this.s1 = (this.s1 + ch - drop) | 0;
    this.s2 = (this.s2 + this.s1 - WINDOW * (drop + CHAR_OFFSET)) | 0;
    return (this.s2 & SPLIT_MASK) === SPLIT_MASK;
  }

  private emit(b: Uint8Array): void {
    if (b.length === 0) return;
    this.sink.data(b);
    this.inChunk += b.length;
  }

  private emitZeros(n: number): void {
    for (let left = n; left > 0; left -= ZEROS.length) this.emit(ZEROS.subarray(0, Math.min(left, ZEROS.length)));
  }

  private cut(zeros: boolean): void {
    if (this.inChunk === 0) return;
    this.sink.cut(zeros);
    this.inChunk = 0;
  }

  /**
   * The pending run of zeros ended before `buf[i]` (or at the file's end: no `buf`): a hole of
   * its own, or ordinary bytes rolled one by one. The run's first `carried` zeros came in
   * earlier slices (never emitted: they are written from a zero buffer); the rest are
   * `buf[runStart..i)`, emitted from `buf` with what follows unless a cut falls inside.
   * Returns where `buf`'s unemitted bytes now start.
   */
  private settle(buf: Uint8Array | undefined, from: number, runStart: number, i: number, carried: number): number {
    const n = this.zeros;
    this.zeros = 0;
    if (n >= HOLE_MIN) {
      if (buf) this.emit(buf.subarray(from, runStart));
      this.cut(false);
      // Past 64 zeros the window is all zeros and the sum stops changing.
      for (let k = 0; k < Math.min(n, WINDOW); k++) this.roll(0);
      this.emitZeros(n);
      this.cut(true);
      return i;
    }
    let pending = 0;
    for (let k = 0; k < carried; k++) {
      pending++;
      if (this.roll(0)) {
        this.emitZeros(pending);
        pending = 0;
        this.cut(false);
      }
    }
    this.emitZeros(pending);
    if (!buf) return i;
    for (let j = runStart; j < i; j++)
      if (this.roll(0)) {
        this.emit(buf.subarray(from, j + 1));
        from = j + 1;
        this.cut(false);
      }
    return from;
  }

  write(buf: Uint8Array): void {
    let from = 0; // first byte of `buf` not yet emitted
    // A run of zeros still open from the last slice continues at buf[0].
    const carried = this.zeros;
    let runStart = 0;
    // The rolling sum in locals for this loop (as `roll` does it): V8 keeps them in registers,
    // where the fields cost a load and a store per byte (measured: 3.6× slower).
    const w = this.window;
    let { s1, s2, wofs, zeros } = this;
    for (let i = 0; i < buf.length; i++) {
      const ch = buf[i]!;
      if (ch === 0) {
        if (zeros++ === 0) runStart = i;
        continue;
      }
      if (zeros > 0) {
        if (zeros < HOLE_MIN && !(runStart === 0 && carried > 0)) {
          // A short run that began in this slice (the common case: a third of a library's
          // bytes are zeros, in short runs): rolled here in locals, as `settle` would.
          for (let j = runStart; j < i; j++) {
            const drop = w[wofs]!;
            w[wofs] = 0;
            wofs = (wofs + 1) & (WINDOW - 1);
            s1 = (s1 - drop) | 0;
            s2 = (s2 + s1 - WINDOW * (drop + CHAR_OFFSET)) | 0;
            if ((s2 & SPLIT_MASK) === SPLIT_MASK) {
              this.emit(buf.subarray(from, j + 1));
              from = j + 1;
              this.cut(false);
            }
          }
        } else {
          Object.assign(this, { s1, s2, wofs, zeros });
          from = this.settle(buf, from, runStart, i, runStart === 0 ? Math.min(carried, zeros) : 0);
          ({ s1, s2, wofs } = this);
        }
        zeros = 0;
      }
      const drop = w[wofs]!;
      w[wofs] = ch;
      wofs = (wofs + 1) & (WINDOW - 1);
      s1 = (s1 + ch - drop) | 0;
      s2 = (s2 + s1 - WINDOW * (drop + CHAR_OFFSET)) | 0;
      if ((s2 & SPLIT_MASK) === SPLIT_MASK) {
        this.emit(buf.subarray(from, i + 1));
        from = i + 1;
        this.cut(false);
      }
    }
    Object.assign(this, { s1, s2, wofs, zeros });
    // A run of zeros still open waits (unemitted) for what follows it; the rest goes now.
    this.emit(buf.subarray(from, zeros > 0 ? runStart : buf.length));
  }

  end(): void {
    if (this.zeros > 0) this.settle(undefined, 0, 0, 0, this.zeros);
    this.cut(false);
  }
}
