// Nix's own base-32 alphabet (no e, o, u, t); hand-written because no npm package decodes it
// and narHash must be comparable across Nix versions that print SRI or `sha256:<base32>`.
import { MegapakError } from '../util/errors.ts';

const NIX32 = '0123456789abcdfghijklmnpqrsvwxyz';

export function decodeNix32(s: string): Buffer {
  const len = Math.floor((s.length * 5) / 8);
  const out = Buffer.alloc(len);
  for (let n = 0; n < s.length; n++) {
    const c = s[s.length - n - 1]!;
    const digit = NIX32.indexOf(c);
    if (digit < 0) throw new MegapakError(`invalid character '${c}' in Nix base-32 hash ${s}`);
    const b = n * 5;
    const i = b >> 3;
    const j = b & 7;
    out[i] = out[i]! | ((digit << j) & 0xff);
    const carry = digit >> (8 - j);
    if (carry) {
      if (i + 1 >= len) throw new MegapakError(`Nix base-32 hash ${s} overflows`);
      out[i + 1] = out[i + 1]! | carry;
    }
  }
  return out;
}

/** Normalise any narHash Nix prints (SRI, `sha256:<nix32>`, `sha256:<hex>`) to SRI `sha256-<base64>`. */
export function toSriHash(hash: string): string {
  if (/^sha256-[A-Za-z0-9+/]{43}=$/.test(hash)) return hash;
  const m = /^sha256:(.+)$/.exec(hash);
  if (m) {
    const body = m[1]!;
    if (/^[0-9a-f]{64}$/.test(body)) return `sha256-${Buffer.from(body, 'hex').toString('base64')}`;
    if (body.length === 52) return `sha256-${decodeNix32(body).toString('base64')}`;
  }
  throw new MegapakError(`unrecognised narHash format: ${hash}`);
}
