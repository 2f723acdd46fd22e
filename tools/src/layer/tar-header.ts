// Hand-written ustar/PAX header encoding: the layer tar's bytes are the product's contract
// (docs/stack.md, "Layer tars"; a change needs a TAR_FORMAT bump in content-key.ts), and a tar library's choices (PAX header naming, when it
// switches to PAX, GNU extensions) would tie every published digest to that library's version.

export type EntryType = 'file' | 'dir' | 'symlink';

export interface TarEntry {
  /** Relative name without a leading slash; directories are given without a trailing slash. */
  name: string;
  type: EntryType;
  mode: number;
  size: number;
  linkname?: string;
}

export const BLOCK = 512;
const MAX_OCTAL_SIZE = 0o77777777777;
const TYPEFLAG: Record<EntryType | 'pax', string> = { file: '0', dir: '5', symlink: '2', pax: 'x' };

const isPlain = (s: string, max: number) => /^[\x20-\x7e]*$/.test(s) && s.length <= max;

function octal(buf: Buffer, off: number, width: number, value: number): void {
  buf.write(value.toString(8).padStart(width - 1, '0'), off, width - 1, 'ascii');
  buf[off + width - 1] = 0;
}

function asciiFallback(s: string, max: number): string {
  return s.replace(/[^\x20-\x7e]/g, '_').slice(-max);
}

function ustarHeader(name: string, type: EntryType | 'pax', mode: number, size: number, linkname: string): Buffer {
  const h = Buffer.alloc(BLOCK);
  h.write(name, 0, 100, 'utf8');
  octal(h, 100, 8, mode);
  octal(h, 108, 8, 0); // uid
  octal(h, 116, 8, 0); // gid
  octal(h, 124, 12, size);
  octal(h, 136, 12, 1); // mtime: fixed, the store's own epoch is 1
  h.fill(0x20, 148, 156); // checksum is computed with this field as spaces
  h.write(TYPEFLAG[type], 156, 1, 'ascii');
  h.write(linkname, 157, 100, 'utf8');
  h.write('ustar\x0000', 257, 8, 'ascii');
  // uname/gname stay empty; devmajor/devminor are zero.
  octal(h, 329, 8, 0);
  octal(h, 337, 8, 0);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += h[i]!;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii');
  return h;
}

/** One PAX record: "<len> <key>=<value>\n", where len counts the whole record in bytes. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = Buffer.byteLength(body);
  let len = bodyLen + String(bodyLen).length;
  if (String(len).length + bodyLen !== len) len = bodyLen + String(len).length;
  return `${len}${body}`;
}

export function padding(size: number): number {
  return (BLOCK - (size % BLOCK)) % BLOCK;
}

/** The header block(s) for an entry: a PAX extended header first when a field does not fit ustar. */
export function encodeHeader(e: TarEntry): Buffer {
  const name = e.type === 'dir' ? `${e.name}/` : e.name;
  const link = e.linkname ?? '';
  const records: string[] = [];
  if (link && !isPlain(link, 100)) records.push(paxRecord('linkpath', link));
  if (!isPlain(name, 100)) records.push(paxRecord('path', name));
  if (e.size > MAX_OCTAL_SIZE) records.push(paxRecord('size', String(e.size)));
  const main = ustarHeader(
    isPlain(name, 100) ? name : asciiFallback(name, 100),
    e.type,
    e.mode,
    e.size > MAX_OCTAL_SIZE ? 0 : e.size,
    isPlain(link, 100) ? link : asciiFallback(link, 100),
  );
  if (records.length === 0) return main;
  const pax = Buffer.from(records.join(''), 'utf8');
  const base = asciiFallback(name.replace(/\/$/, '').split('/').pop() ?? 'entry', 80);
  return Buffer.concat([ustarHeader(`PaxHeaders/${base}`, 'pax', 0o644, pax.length, ''), pax, Buffer.alloc(padding(pax.length)), main]);
}

/**
 * A plain ustar header (no PAX: printable ASCII name and link target of at most 100 bytes, size
 * in octal range) as `ustarHeader` makes it, but its constant fields come from a template and
 * the checksum is the template's plus the variable fields' bytes: no allocation, no string
 * formatting. Most entries of a store are plain, and at ~170k entries per layer stack the
 * general encoder's allocations and formatting were a tenth of the build's main thread.
 */
const PLAIN_TEMPLATE = ustarHeader('', 'file', 0, 0, '');
PLAIN_TEMPLATE.fill(0, 100, 108); // mode
PLAIN_TEMPLATE.fill(0, 124, 136); // size
PLAIN_TEMPLATE.fill(0x20, 148, 156); // checksum field: spaces while summing
PLAIN_TEMPLATE[156] = 0; // typeflag
const TEMPLATE_SUM = PLAIN_TEMPLATE.reduce((a, b) => a + b, 0);
const TYPEFLAG_BYTE: Record<EntryType, number> = { file: 0x30, dir: 0x35, symlink: 0x32 };

/** Write `s` (printable ASCII, checked here) at `off`; its byte sum, or -1 when it is not plain or longer than `max`. */
function plainAscii(buf: Buffer, off: number, s: string, max: number): number {
  if (s.length > max) return -1;
  let sum = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return -1;
    buf[off + i] = c;
    sum += c;
  }
  return sum;
}

/** `value` in octal, zero-padded to `width - 1` digits and a NUL (as `octal`); the digits' byte sum. */
function octalInto(buf: Buffer, off: number, width: number, value: number): number {
  let sum = 0;
  for (let i = width - 2; i >= 0; i--) {
    const d = 0x30 + (value % 8);
    buf[off + i] = d;
    sum += d;
    value = Math.floor(value / 8);
  }
  buf[off + width - 1] = 0;
  return sum;
}

/**
 * A ustar header block at `off` from the template: `name` (+ `slash`) and `link` printable
 * ASCII of at most 100 bytes (false, and the block scribbled on, when not), size in range.
 */
function ustarInto(buf: Buffer, off: number, name: string, slash: boolean, typeflag: number, mode: number, size: number, link: string): boolean {
  PLAIN_TEMPLATE.copy(buf, off);
  let sum = TEMPLATE_SUM;
  const nameSum = plainAscii(buf, off, name, slash ? 99 : 100);
  if (nameSum < 0) return false;
  sum += nameSum;
  if (slash) {
    buf[off + name.length] = 0x2f;
    sum += 0x2f;
  }
  if (link) {
    const linkSum = plainAscii(buf, off + 157, link, 100);
    if (linkSum < 0) return false;
    sum += linkSum;
  }
  sum += octalInto(buf, off + 100, 8, mode);
  sum += octalInto(buf, off + 124, 12, size);
  buf[off + 156] = typeflag;
  sum += typeflag;
  octalInto(buf, off + 148, 7, sum);
  buf[off + 154] = 0;
  buf[off + 155] = 0x20;
  return true;
}

/**
 * Write `e`'s header into `buf` at `off` (512 bytes free) when it is a plain one; false (and
 * `buf` scribbled on, to be overwritten) when it needs PAX: use `encodeHeaderInto` then.
 */
export function writePlainHeader(e: TarEntry, buf: Buffer, off: number): boolean {
  return e.size <= MAX_OCTAL_SIZE && ustarInto(buf, off, e.name, e.type === 'dir', TYPEFLAG_BYTE[e.type], e.mode, e.size, e.linkname ?? '');
}

/**
 * What `encodeHeader` returns, written into `out` from offset 0 without allocating blocks:
 * the byte count, or -1 when it does not fit (then use `encodeHeader`). Deep site-packages
 * paths pass 100 bytes often enough that PAX headers were a third of a many-file build's
 * main thread when each took five buffers.
 */
export function encodeHeaderInto(e: TarEntry, out: Buffer): number {
  if (writePlainHeader(e, out, 0)) return BLOCK;
  const name = e.type === 'dir' ? `${e.name}/` : e.name;
  const link = e.linkname ?? '';
  let records = '';
  if (link && !isPlain(link, 100)) records += paxRecord('linkpath', link);
  if (!isPlain(name, 100)) records += paxRecord('path', name);
  if (e.size > MAX_OCTAL_SIZE) records += paxRecord('size', String(e.size));
  const paxLen = Buffer.byteLength(records);
  const total = BLOCK + paxLen + padding(paxLen) + BLOCK;
  if (total > out.length) return -1;
  const base = asciiFallback(name.replace(/\/$/, '').split('/').pop() ?? 'entry', 80);
  if (!ustarInto(out, 0, `PaxHeaders/${base}`, false, 0x78, 0o644, paxLen, '')) return -1;
  out.write(records, BLOCK, 'utf8');
  out.fill(0, BLOCK + paxLen, total - BLOCK);
  const main = total - BLOCK;
  const ok = ustarInto(
    out,
    main,
    isPlain(name, 100) ? name : asciiFallback(name, 100),
    false,
    TYPEFLAG_BYTE[e.type],
    e.mode,
    e.size > MAX_OCTAL_SIZE ? 0 : e.size,
    isPlain(link, 100) ? link : asciiFallback(link, 100),
  );
  return ok ? total : -1;
}

/** `encodeHeader(e).length` without encoding it: what the part planner counts for every entry. */
export function headerLength(e: TarEntry): number {
  const name = e.type === 'dir' ? `${e.name}/` : e.name;
  const link = e.linkname ?? '';
  let pax = 0;
  if (link && !isPlain(link, 100)) pax += Buffer.byteLength(paxRecord('linkpath', link));
  if (!isPlain(name, 100)) pax += Buffer.byteLength(paxRecord('path', name));
  if (e.size > MAX_OCTAL_SIZE) pax += Buffer.byteLength(paxRecord('size', String(e.size)));
  return pax ? BLOCK + pax + padding(pax) + BLOCK : BLOCK;
}

/** The two zero blocks that end an archive. */
export const END_OF_ARCHIVE = Buffer.alloc(2 * BLOCK);
