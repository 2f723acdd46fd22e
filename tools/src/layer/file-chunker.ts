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
  private s1 = WINDOW * CHAR_OFFSET;
  private s2 = WINDOW * (WINDOW - 1) * CHAR_OFFSET;
  private readonly window = new Uint8Array(WINDOW);
  private wofs = 0;
  /** Zeros seen and not yet written: whether they are a hole depends on what follows. */
  private zeros = 0;
  /** Bytes in the current chunk. */
  private inChunk = 0;

  constructor(private readonly sink: ChunkSink) {}

  /** Roll one byte in; true when the chunk ends after it. */
  private roll(ch: number): boolean {
    const drop = this.window[this.wofs]!;
    this.window[this.wofs] = ch;
    this.wofs = (this.wofs + 1) & (WINDOW - 1);
    this.s1 = (this.s1 + ch - drop) >>> 0;
    this.s2 = (this.s2 + this.s1 - WINDOW * (drop + CHAR_OFFSET)) >>> 0;
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

  /** The pending run of zeros ended: a hole of its own, or ordinary bytes rolled one by one. */
  private settleZeros(): void {
    const n = this.zeros;
    this.zeros = 0;
    if (n >= HOLE_MIN) {
      this.cut(false);
      // Past 64 zeros the window is all zeros and the sum stops changing.
      for (let i = 0; i < Math.min(n, WINDOW); i++) this.roll(0);
      this.emitZeros(n);
      this.cut(true);
      return;
    }
    let pending = 0;
    for (let i = 0; i < n; i++) {
      pending++;
      if (this.roll(0)) {
        this.emitZeros(pending);
        pending = 0;
        this.cut(false);
      }
    }
    this.emitZeros(pending);
  }

  write(buf: Uint8Array): void {
    let from = 0; // first byte of `buf` rolled (or a pending zero) and not yet emitted
    for (let i = 0; i < buf.length; i++) {
      const ch = buf[i]!;
      if (ch === 0) {
        if (this.zeros++ === 0) {
          this.emit(buf.subarray(from, i));
          from = i;
        }
        continue;
      }
      if (this.zeros > 0) {
        this.settleZeros();
        from = i;
      }
      if (this.roll(ch)) {
        this.emit(buf.subarray(from, i + 1));
        from = i + 1;
        this.cut(false);
      }
    }
    // Pending zeros are emitted (from a zero buffer) once settled; the rest now.
    if (this.zeros === 0) this.emit(buf.subarray(from));
  }

  end(): void {
    if (this.zeros > 0) this.settleZeros();
    this.cut(false);
  }
}
