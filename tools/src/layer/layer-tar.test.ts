// The golden digest of the layer tar format. Every published layer digest depends on these
// bytes: if this test fails, the tar format changed. If that was meant, bump TAR_FORMAT in
// layer/content-key.ts (so old blob-store entries are not reused) and then update GOLDEN.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TAR_FORMAT } from './content-key.ts';
import { writeLayerTar } from './layer-tar.ts';

const GOLDEN = { format: 'megapak-tar-v1', sha256: 'bc385a1089e96518767ba0a55e27f1335e3727385314de395164d10b461d1de4' };
const TREE = join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'golden-tree');
const STORE = '/nix/store';

/** The checked-in tree as a store on disk: Nix's modes (0444/0555 files, 0555 dirs), whatever git checked out. */
function materialise(): string {
  const root = mkdtempSync(join(tmpdir(), 'megapak-golden-'));
  mkdirSync(join(root, STORE), { recursive: true });
  cpSync(TREE, join(root, STORE), { recursive: true, verbatimSymlinks: true });
  const fix = (p: string) => {
    const st = lstatSync(p);
    if (st.isSymbolicLink()) return;
    if (st.isDirectory()) {
      for (const c of readdirSync(p)) fix(join(p, c));
      chmodSync(p, 0o555);
    } else chmodSync(p, st.mode & 0o100 ? 0o555 : 0o444);
  };
  for (const c of readdirSync(join(root, STORE))) fix(join(root, STORE, c));
  return root;
}

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) {
    spawnSync('chmod', ['-R', 'u+w', r]);
    rmSync(r, { recursive: true, force: true });
  }
});

async function goldenTar(): Promise<Buffer> {
  const root = materialise();
  roots.push(root);
  const paths = readdirSync(join(root, STORE))
    .sort()
    .map((n) => `${STORE}/${n}`);
  const parts: Buffer[] = [];
  await writeLayerTar(STORE, paths, { write: async (c) => void parts.push(Buffer.from(c)) }, () => {}, root);
  return Buffer.concat(parts);
}

describe('layer tar format', () => {
  it('writes the golden bytes for the checked-in tree (long, non-ASCII names, symlinks, an executable)', async () => {
    const tar = await goldenTar();
    const digest = createHash('sha256').update(tar).digest('hex');
    expect(
      { format: TAR_FORMAT, sha256: digest },
      'The layer tar bytes changed: every published digest would change. If that is intended, bump TAR_FORMAT in ' +
        'tools/src/layer/content-key.ts and update GOLDEN in this test; otherwise the change is a bug.',
    ).toEqual(GOLDEN);
  });

  it('is a tar GNU tar lists with the contract: nix/ and nix/store/ first, bytewise order, store modes, mtime 1, owner 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'megapak-golden-list-'));
    roots.push(dir);
    writeFileSync(join(dir, 't.tar'), await goldenTar());
    const r = spawnSync('tar', ['--numeric-owner', '--full-time', '-tvf', join(dir, 't.tar')], { encoding: 'utf8', env: { ...process.env, TZ: 'UTC' } });
    expect(r.stderr).toBe('');
    const rows = r.stdout.trim().split('\n');
    const names = rows.map((l) =>
      l
        .split(/ +/)
        .slice(5)
        .join(' ')
        .replace(/ -> .*$/, ''),
    );
    expect(names.slice(0, 2)).toEqual(['nix/', 'nix/store/']);
    const sorted = [...names].sort((a, b) => Buffer.compare(Buffer.from(a.replace(/\/$/, '')), Buffer.from(b.replace(/\/$/, ''))));
    expect(names).toEqual(sorted);
    expect(rows.every((l) => / 0\/0 +\d+ 1970-01-01 00:00:01 /.test(l))).toBe(true);
    const row = (suffix: string) => rows[names.findIndex((n) => n.endsWith(suffix))];
    expect(row('/bin/hello')).toMatch(/^-r-xr-xr-x /);
    expect(row('/share/readme.txt')).toMatch(/^-r--r--r-- /);
    expect(row('-golden/')).toMatch(/^dr-xr-xr-x /);
    expect(rows.find((l) => l.includes('/bin/readme-link'))).toMatch(/^lrwxrwxrwx .* -> \.\.\/share\/readme\.txt$/);
    expect(names.some((n) => n.endsWith('naïve-日本.txt'))).toBe(true);
    expect(names.some((n) => n.length > 100)).toBe(true);
  });
});

describe('layer tars written at once', () => {
  it('two tars written concurrently (parts are made two at a time) are byte for byte the ones written alone', async () => {
    // Long names (PAX headers, 1536 bytes each, so headers straddle the 1 MiB batches). The
    // first tar's sink holds each write until the second tar has written two more batches: the
    // first writer waits inside its flushes while the second one writes headers.
    const root = mkdtempSync(join(tmpdir(), 'megapak-concurrent-'));
    roots.push(root);
    const paths: string[] = [];
    for (const [p, n] of [
      ['a', 6000],
      ['b', 18000],
    ] as const) {
      const dir = join(root, STORE, `${p.repeat(32)}-pkg-${p}`, 'lib', 'python3.14', 'site-packages', `${'deep_package_name_'.repeat(3)}${p}`);
      mkdirSync(dir, { recursive: true });
      for (let i = 0; i < n; i++) writeFileSync(join(dir, `module_with_a_long_name_${i}.py`), i % 10 ? '' : `${p}${i}\n`.repeat(1 + ((i * 37) % 2000)));
      paths.push(`${STORE}/${p.repeat(32)}-pkg-${p}`);
    }
    const tarOf = async (path: string, sink: (c: Buffer) => Promise<void>) => {
      const parts: Buffer[] = [];
      await writeLayerTar(STORE, [path], { write: (c) => (parts.push(Buffer.from(c)), sink(c)) }, () => {}, root);
      return Buffer.concat(parts);
    };
    const free = async () => {};
    const alone = [await tarOf(paths[0]!, free), await tarOf(paths[1]!, free)];
    expect(alone[0]!.length).toBeGreaterThan(8 << 20);
    let bWrites = 0;
    let bDone = false;
    let wake: (() => void)[] = [];
    const woken = () => wake.splice(0).forEach((f) => f());
    const gated = async () => {
      const need = bWrites + 2;
      while (bWrites < need && !bDone) await new Promise<void>((r) => wake.push(r));
    };
    const b = tarOf(paths[1]!, async () => {
      bWrites++;
      woken();
      await new Promise<void>((r) => setImmediate(r));
    }).finally(() => {
      bDone = true;
      woken();
    });
    const together = await Promise.all([tarOf(paths[0]!, gated), b]);
    expect(together[0]!.equals(alone[0]!)).toBe(true);
    expect(together[1]!.equals(alone[1]!)).toBe(true);
    wake = [];
  });
});
