import { MegapakError } from '../util/errors.ts';
import { BLOCK, padding } from './tar-header.ts';

/** One tar entry's header, as Go's archive/tar reads it (what containers/storage's TOC records). */
export interface TarEntryMeta {
  /** tar typeflag: '0' file, '5' dir, '2' symlink, … */
  typeflag: string;
  name: string;
  linkname: string;
  mode: number;
  size: number;
  uid: number;
  gid: number;
  mtime: number;
}

/** What a tar stream is made of, in order. */
export interface TarEvents {
  /** Bytes that are not file content: headers (PAX ones too), padding, the end-of-archive blocks. */
  raw(b: Uint8Array): void;
  /** A header was read (its bytes went to `raw` just before). */
  entry(e: TarEntryMeta): void;
  /** File content of the current entry. */
  data(b: Uint8Array): void;
  /** The current entry's content ended (right after `entry` when it has none). */
  entryEnd(): void;
  /** The end-of-archive blocks (and anything after them). */
  trailer(b: Uint8Array): void;
}

function field(h: Buffer, off: number, len: number): string {
  const s = h.subarray(off, off + len);
  const nul = s.indexOf(0);
  return s.subarray(0, nul < 0 ? len : nul).toString('utf8');
}
const octal = (h: Buffer, off: number, len: number) => parseInt(field(h, off, len).trim() || '0', 8);

function paxRecords(b: Buffer): Map<string, string> {
  const out = new Map<string, string>();
  for (let off = 0; off < b.length;) {
    const sp = b.indexOf(0x20, off);
    const len = parseInt(b.subarray(off, sp).toString('ascii'), 10);
    if (!(len > 0)) break;
    const rec = b.subarray(sp + 1, off + len - 1).toString('utf8');
    const eq = rec.indexOf('=');
    out.set(rec.slice(0, eq), rec.slice(eq + 1));
    off += len;
  }
  return out;
}

/**
 * Reads a ustar/PAX tar stream slice by slice and tells `events` what it holds, without
 * copying file content. Only what the layer tar writer (tar-header.ts) and tools like it
 * write: ustar headers, PAX `x` headers before them; anything else is refused, naming it.
 */
export class TarEntryStream {
  private state: 'header' | 'pax' | 'data' | 'pad' | 'end' = 'header';
  private readonly block = Buffer.alloc(BLOCK);
  private have = 0;
  private left = 0;
  private pax: Buffer[] = [];
  private paxSize = 0;
  private overrides = new Map<string, string>();

  constructor(private readonly events: TarEvents) {}

  write(buf: Uint8Array): void {
    let i = 0;
    while (i < buf.length) {
      if (this.state === 'end') {
        this.events.trailer(buf.subarray(i));
        return;
      }
      if (this.state === 'data' || this.state === 'pad' || this.state === 'pax') {
        const n = Math.min(this.left, buf.length - i);
        const part = buf.subarray(i, i + n);
        if (this.state === 'data') this.events.data(part);
        else {
          if (this.state === 'pax') this.pax.push(Buffer.from(part));
          this.events.raw(part);
        }
        this.left -= n;
        i += n;
        if (this.left === 0) this.next();
        continue;
      }
      const n = Math.min(BLOCK - this.have, buf.length - i);
      this.block.set(buf.subarray(i, i + n), this.have);
      this.have += n;
      i += n;
      if (this.have === BLOCK) {
        this.have = 0;
        this.header();
      }
    }
  }

  /** A data, padding or PAX run ended. */
  private next(): void {
    if (this.state === 'data') {
      this.events.entryEnd();
      this.left = padding(this.size);
      this.state = this.left ? 'pad' : 'header';
    } else if (this.state === 'pax') {
      const body = Buffer.concat(this.pax);
      this.pax = [];
      for (const [k, v] of paxRecords(body.subarray(0, this.paxSize))) this.overrides.set(k, v);
      // The PAX data's own padding is raw too: read as data of the 'pax' kind.
      this.left = padding(this.paxSize);
      this.paxSize = 0;
      this.state = this.left ? 'pad' : 'header';
    } else this.state = 'header';
  }

  private size = 0;

  private header(): void {
    const h = this.block;
    const copy = Buffer.from(h);
    if (h.every((b) => b === 0)) {
      this.state = 'end';
      this.events.trailer(copy);
      return;
    }
    const typeflag = String.fromCharCode(h[156]!) === '\0' ? '0' : String.fromCharCode(h[156]!);
    this.events.raw(copy);
    if (typeflag === 'x') {
      this.paxSize = octal(h, 124, 12);
      this.left = this.paxSize;
      this.state = this.left ? 'pax' : 'header';
      return;
    }
    if (!'0125346'.includes(typeflag)) throw new MegapakError(`tar entry '${field(h, 0, 100)}' has type '${typeflag}', which a layer never holds`);
    const prefix = field(h, 257, 6) === 'ustar' ? field(h, 345, 155) : '';
    const o = this.overrides;
    this.overrides = new Map();
    const e: TarEntryMeta = {
      typeflag,
      name: o.get('path') ?? (prefix ? `${prefix}/${field(h, 0, 100)}` : field(h, 0, 100)),
      linkname: o.get('linkpath') ?? field(h, 157, 100),
      mode: octal(h, 100, 8),
      size: o.has('size') ? Number(o.get('size')) : octal(h, 124, 12),
      uid: octal(h, 108, 8),
      gid: octal(h, 116, 8),
      mtime: octal(h, 136, 12),
    };
    this.size = typeflag === '0' ? e.size : 0;
    this.events.entry(e);
    if (this.size > 0) {
      this.left = this.size;
      this.state = 'data';
    } else {
      this.events.entryEnd();
      this.state = 'header';
    }
  }

  /** The stream ended: it must have ended between entries. */
  end(): void {
    if (this.state !== 'end' && (this.state !== 'header' || this.have !== 0)) throw new MegapakError(`the tar ended inside an entry (${this.state})`);
  }
}
