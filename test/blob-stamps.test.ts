// Unlinks cost nothing: deleting a layout (its blobs are hard links into the blob store), cache
// gc, a layout on another file system — none makes the next build re-hash a blob (counted in
// bytes from the build's own summary, not timed); damage is still caught after each.
import { createHash } from 'node:crypto';
import { appendFile, cp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LayerRecord } from '../tools/src/model/vocabulary.ts';
import { megapakOk, run } from './helpers/cli.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';
import { mountTmpfs } from './helpers/tmpfs.ts';

const sha256 = async (file: string) =>
  `sha256:${createHash('sha256')
    .update(await readFile(file))
    .digest('hex')}`;
const imageDigest = (stdout: string) => /image \S+ (sha256:[0-9a-f]{64})/.exec(stdout)![1]!;

/** The build summary's count of blobs hashed in full, and their bytes as printed. */
function rehashed(stdout: string): { blobs: number; bytes: string } {
  const m = /, (\d+) blobs re-hashed \(([^)]+)\), in /.exec(stdout);
  if (!m) throw new Error(`no re-hash count in:\n${stdout}`);
  return { blobs: Number(m[1]), bytes: m[2]! };
}

/** Overwrite one byte in place (same inode), as `dd conv=notrunc` does: damage through any name of the file. */
async function scribble(file: string, at: number): Promise<void> {
  const r = await run('sh', ['-c', `printf '\\377' | dd of='${file}' bs=1 seek=${at} conv=notrunc status=none`]);
  if (r.code !== 0) throw new Error(`dd into ${file}: ${r.stderr}`);
}

describe('blob stamps: unlinks cost nothing, writes are still caught', () => {
  let stack: string;
  let cache: string;
  let out: string;
  let clean: string;
  let records: LayerRecord[];
  const env = { MEGAPAK_COMPRESSION: 'none' } as NodeJS.ProcessEnv;
  const build = (layout: string, s = stack) => megapakOk(['build', '--stack', s, '--oci', layout, '--no-sbom'], { env: { ...env, MEGAPAK_CACHE_DIR: cache } });
  const layout = () => join(out, 'oci');
  const storeBlob = (d: string) => join(cache, 'blobs', 'sha256', d.slice(7));
  const layoutBlob = (dir: string, d: string) => join(dir, 'blobs', 'sha256', d.slice(7));
  const big = () => records.find((r) => r.name === 'layer-02')!;

  beforeAll(async () => {
    stack = await copyFixtureStack();
    cache = await tempDir('stamps-cache');
    out = await tempDir('stamps-out');
    clean = imageDigest((await build(layout())).stdout);
    records = await readRecords(stack);
  });

  it('a steady build, and one after rm -rf of a second layout, of the layout itself, or an editor replacing a layout blob, hash nothing', async () => {
    const steady = await build(layout());
    expect(steady.stdout).toContain('12 layers, 0 streamed, 0 blobs re-hashed (0 B)');
    const second = join(await tempDir('stamps-second'), 'oci');
    expect(rehashed((await build(second)).stdout).blobs).toBe(0);
    expect((await stat(layoutBlob(second, big().digest!))).ino).toBe((await stat(storeBlob(big().digest!))).ino);
    await rm(second, { recursive: true, force: true });
    const after = await build(layout());
    expect(rehashed(after.stdout)).toEqual({ blobs: 0, bytes: '0 B' });
    expect(imageDigest(after.stdout)).toBe(clean);
    // rm -rf out/oci && build: every link of the store's blobs but their own is gone.
    await rm(layout(), { recursive: true, force: true });
    expect(rehashed((await build(layout())).stdout).blobs).toBe(0);
    // An editor's save over a layout name unlinks the store's inode there: the store's blob is intact, the layout's name is put back.
    const victim = layoutBlob(layout(), big().digest!);
    await writeFile(`${victim}.edit`, 'not a layer');
    await rename(`${victim}.edit`, victim);
    expect(rehashed((await build(layout())).stdout).blobs).toBe(0);
    expect((await stat(victim)).ino).toBe((await stat(storeBlob(big().digest!))).ino);
  });

  it('cache gc removing a blob that layouts share, then rm -rf of those layouts: the next build hashes nothing', async () => {
    const edited = await copyFixtureStack();
    await cp(join(stack, 'layers'), join(edited, 'layers'), { recursive: true });
    await appendFile(join(edited, 'layers', '09-pak5', 'pak5.txt'), '\npillow\n');
    const other = join(await tempDir('stamps-edited'), 'oci');
    await build(other, edited); // its layer 09 is new; the rest are links to the same store blobs
    const newBlob = (await readRecords(edited))[8]!.digest!;
    expect(newBlob).not.toBe(records[8]!.digest);
    const gc = await megapakOk(['cache', 'gc', '--all-unreferenced', '--min-age', '0', '--stack', stack], { env: { MEGAPAK_CACHE_DIR: cache } });
    expect(gc.stdout).toMatch(/^removed 1 blobs/);
    await rm(other, { recursive: true, force: true });
    const r = await build(layout());
    expect(r.stdout).toContain('0 streamed, 0 blobs re-hashed (0 B)');
    expect(imageDigest(r.stdout)).toBe(clean);
  });

  it('a layout on another file system (copies): building it, again, removing it and gc hash nothing; a copy damaged in place is replaced', async () => {
    const fs = await mountTmpfs('100M');
    try {
      const there = join(fs.dir, 'oci');
      expect(rehashed((await build(there)).stdout).blobs).toBe(0);
      const copy = layoutBlob(there, big().digest!);
      expect((await stat(copy)).dev).not.toBe((await stat(storeBlob(big().digest!))).dev);
      expect(rehashed((await build(there)).stdout).blobs).toBe(0);
      await scribble(copy, 123);
      expect(rehashed((await build(there)).stdout).blobs).toBe(0); // the copy is replaced, never hashed: its stamp no longer matches
      expect(await sha256(copy)).toBe(big().digest);
      await rm(there, { recursive: true, force: true });
    } finally {
      await fs.unmount();
    }
    const gc = await megapakOk(['cache', 'gc', '--all-unreferenced', '--min-age', '0', '--stack', stack], { env: { MEGAPAK_CACHE_DIR: cache } });
    expect(gc.stdout).toMatch(/check records of files gone/);
    expect(rehashed((await build(layout())).stdout).blobs).toBe(0);
  });

  it('damage is still caught: a write through a layout link followed by rm -rf of another layout, and a write whose mtime was set back', async () => {
    // A write through the layout's hard link, then an unlink that moves the link count: mtime still tells.
    const second = join(await tempDir('stamps-second'), 'oci');
    await build(second);
    await scribble(layoutBlob(layout(), big().digest!), 4000);
    await rm(second, { recursive: true, force: true });
    let r = await build(layout());
    expect(r.stderr).toContain(`blob store: ${storeBlob(big().digest!)} is damaged`);
    expect(rehashed(r.stdout).blobs).toBe(1);
    expect(imageDigest(r.stdout)).toBe(clean);
    expect(await sha256(layoutBlob(layout(), big().digest!))).toBe(big().digest);
    // A write with the mtime put back to the nanosecond (touch -r) and no link change: the change time tells.
    const victim = records.find((x) => x.name === 'layer-05')!;
    const file = storeBlob(victim.digest!);
    const ref = join(out, 'times-ref');
    await writeFile(ref, '');
    expect((await run('touch', ['-r', file, ref])).code).toBe(0);
    await scribble(file, 10);
    expect((await run('touch', ['-m', '-r', ref, file])).code).toBe(0);
    expect((await stat(file, { bigint: true })).mtimeNs).toBe((await stat(ref, { bigint: true })).mtimeNs);
    r = await build(layout());
    expect(r.stderr).toContain(`blob store: ${file} is damaged`);
    expect(rehashed(r.stdout).blobs).toBe(1);
    expect(imageDigest(r.stdout)).toBe(clean);
    expect(await sha256(file)).toBe(victim.digest);
  });
});
