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
