import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BLOCK, END_OF_ARCHIVE, encodeHeader, encodeHeaderInto, headerLength, paxRecord, writePlainHeader, type TarEntry } from './tar-header.ts';

describe('paxRecord', () => {
  it('counts its own length, also across a change in the number of digits', () => {
    for (const n of [1, 80, 88, 89, 90, 95, 96, 990, 995, 996, 1000]) {
      const rec = paxRecord('path', 'x'.repeat(n));
      expect(Number(rec.split(' ')[0])).toBe(Buffer.byteLength(rec));
    }
  });
});

describe('encodeHeader', () => {
  it('uses plain ustar for short ASCII names and PAX for long, non-ASCII names and long link targets', () => {
    expect(encodeHeader({ name: 'nix/store/a', type: 'dir', mode: 0o555, size: 0 })).toHaveLength(BLOCK);
    expect(encodeHeader({ name: `nix/${'a'.repeat(120)}`, type: 'file', mode: 0o444, size: 0 }).length).toBeGreaterThan(BLOCK);
    expect(encodeHeader({ name: 'nix/é', type: 'file', mode: 0o444, size: 0 }).length).toBeGreaterThan(BLOCK);
    expect(encodeHeader({ name: 'nix/l', type: 'symlink', mode: 0o777, size: 0, linkname: '/'.repeat(101) }).length).toBeGreaterThan(BLOCK);
  });

  it('writes headers GNU tar reads back exactly, names, links, modes and owner included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'megapak-hdr-'));
    const long = `nix/store/${'d'.repeat(150)}/f-ü-日本.txt`;
    const content = Buffer.from('hello\n');
    const parts = [
      encodeHeader({ name: 'nix', type: 'dir', mode: 0o755, size: 0 }),
      encodeHeader({ name: long, type: 'file', mode: 0o555, size: content.length }),
      content,
      Buffer.alloc(BLOCK - content.length),
      encodeHeader({ name: 'nix/link', type: 'symlink', mode: 0o777, size: 0, linkname: `/nix/store/${'t'.repeat(120)}` }),
      END_OF_ARCHIVE,
    ];
    writeFileSync(join(dir, 't.tar'), Buffer.concat(parts));
    const r = spawnSync('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir, 't.tar')], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    expect(r.stderr).toBe('');
    const rows = r.stdout.trim().split('\n');
    expect(rows[0]).toMatch(/^drwxr-xr-x 0\/0 +0 1970-01-01 00:00:01 nix\/$/);
    expect(rows[1]).toMatch(new RegExp(`^-r-xr-xr-x 0/0 +6 1970-01-01 00:00:01 ${long}$`));
    expect(rows[2]).toMatch(new RegExp(`^lrwxrwxrwx 0/0 +0 1970-01-01 00:00:01 nix/link -> /nix/store/${'t'.repeat(120)}$`));
    expect(spawnSync('tar', ['-xOf', join(dir, 't.tar'), long], { encoding: 'utf8' }).stdout).toBe('hello\n');
  });
});

describe('writePlainHeader', () => {
  it('writes the very block encodeHeader makes for plain entries, and declines what needs PAX', () => {
    const plain: TarEntry[] = [
      { name: 'nix/store/abc-x', type: 'dir', mode: 0o555, size: 0 },
      { name: `nix/${'d'.repeat(95)}`, type: 'dir', mode: 0o555, size: 0 }, // 99 bytes + the slash
      { name: `nix/${'f'.repeat(96)}`, type: 'file', mode: 0o444, size: 0 }, // exactly 100
      { name: 'nix/store/abc-x/bin/run', type: 'file', mode: 0o555, size: 123456789 },
      { name: 'nix/store/abc-x/lib/big', type: 'file', mode: 0o444, size: 0o77777777777 },
      { name: 'nix/store/abc-x/l', type: 'symlink', mode: 0o777, size: 0, linkname: `../${'t'.repeat(97)}` },
      { name: 'nix/store/abc-x/~ !"#$%&()*+,-.:;<=>?@[]^_`{|}', type: 'file', mode: 0o444, size: 7 },
    ];
    const buf = Buffer.alloc(BLOCK * 2, 0xaa);
    for (const e of plain) {
      expect(writePlainHeader(e, buf, BLOCK), e.name).toBe(true);
      expect(buf.subarray(BLOCK).equals(encodeHeader(e)), e.name).toBe(true);
    }
    expect(buf.subarray(0, BLOCK).every((b) => b === 0xaa)).toBe(true); // nothing before `off` touched
    const pax: TarEntry[] = [
      { name: `nix/${'d'.repeat(96)}`, type: 'dir', mode: 0o555, size: 0 }, // 100 + the slash
      { name: `nix/${'f'.repeat(97)}`, type: 'file', mode: 0o444, size: 0 },
      { name: 'nix/é', type: 'file', mode: 0o444, size: 0 },
      { name: 'nix/tab\there', type: 'file', mode: 0o444, size: 0 },
      { name: 'nix/l', type: 'symlink', mode: 0o777, size: 0, linkname: 't'.repeat(101) },
      { name: 'nix/huge', type: 'file', mode: 0o444, size: 0o77777777777 + 1 },
    ];
    for (const e of pax) expect(writePlainHeader(e, buf, 0), e.name).toBe(false);
    // encodeHeaderInto: the same blocks as encodeHeader, PAX included, written into a reused buffer.
    const out = Buffer.alloc(64 << 10, 0xaa);
    const longLink = { name: `nix/store/abc-x/${'é'.repeat(70)}`, type: 'symlink', mode: 0o777, size: 0, linkname: `/nix/store/${'ü'.repeat(90)}` } as const;
    for (const e of [...plain, ...pax, longLink]) {
      const n = encodeHeaderInto(e, out);
      expect(out.subarray(0, n).equals(encodeHeader(e)), e.name).toBe(true);
      expect(headerLength(e), e.name).toBe(n); // what the part planner counts: cuts depend on it
    }
    expect(encodeHeaderInto({ name: `nix/${'x'.repeat(5000)}`, type: 'file', mode: 0o444, size: 0 }, Buffer.alloc(4096))).toBe(-1);
  });
});
