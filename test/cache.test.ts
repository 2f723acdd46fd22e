// megapak cache ls / gc on a real blob store, and gc racing a real build.
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { applyGc } from '../tools/src/cache/gc.ts';
import { planGc } from '../tools/src/cache/gc-plan.ts';
import { scanCache } from '../tools/src/cache/scan.ts';
import { BlobStore } from '../tools/src/layer/blob-store.ts';
import type { CacheListing } from '../tools/src/cache/listing.ts';
import { megapak, megapakOk, REPO } from './helpers/cli.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';
import { mountTmpfs } from './helpers/tmpfs.ts';

const DAY = 86_400_000;
const blobDir = (cache: string) => join(cache, 'blobs', 'sha256');
const blobFile = (cache: string, digest: string) => join(blobDir(cache), digest.slice(7));
const age = async (file: string, ms: number) => {
  const t = new Date(Date.now() - ms);
  await utimes(file, t, t);
};
/** Blob files in the store, by digest, with their sizes as the file system says. */
const storedBlobs = async (cache: string) => {
  const out = new Map<string, number>();
  for (const name of await readdir(blobDir(cache))) if (/^[0-9a-f]{64}$/.test(name)) out.set(`sha256:${name}`, (await stat(join(blobDir(cache), name))).size);
  return out;
};

describe('megapak cache', () => {
  let stack: string;
  let cache: string;
  const env = () => ({ MEGAPAK_CACHE_DIR: cache });

  beforeAll(async () => {
    stack = await copyFixtureStack();
    cache = await tempDir('cache-gc');
  });

  it('ls lists every blob with its size and the layer records that refer to it; report shows the total', async () => {
    await megapakOk(['build', '--stack', stack], { env: env() });
    const gzip = await readRecords(stack);
    await megapakOk(['build', '--stack', stack, '--compression', 'zstd'], { env: env() });
    const zstd = await readRecords(stack);
    const stored = await storedBlobs(cache);

    const listing: CacheListing = JSON.parse((await megapakOk(['cache', 'ls', '--stack', stack, '--json'], { env: env() })).stdout);
    expect(new Map(listing.blobs.map((b) => [b.digest, b.size]))).toEqual(stored);
    for (const r of zstd.filter((r) => !r.empty)) {
      const b = listing.blobs.find((x) => x.digest === r.digest)!;
      expect(b.referencedBy, r.name).toEqual([{ stack, layer: r.name, version: r.version, compression: 'zstd' }]);
    }
    for (const r of gzip.filter((r) => !r.empty)) {
      const b = listing.blobs.find((x) => x.digest === r.digest)!;
      expect(b.referencedBy, r.name).toEqual([]);
      expect(b.compression).toBe('gzip');
    }
    const total = [...stored.values()].reduce((a, b) => a + b, 0);
    expect(listing.total).toMatchObject({ blobs: stored.size, bytes: total });

    const text = (await megapakOk(['cache', 'ls', '--stack', stack], { env: env() })).stdout;
    expect(text).toContain(`${zstd[1]!.digest!.slice(0, 19)}`);
    expect(text).toMatch(new RegExp(`${zstd[1]!.name}@1\\.0\\.0 \\(stack\\)`));

    // report only reads: it must not mark blobs used (that would change what gc --keep-last keeps).
    for (const d of stored.keys()) await age(blobFile(cache, d), DAY);
    const mtimes = async () => new Map(await Promise.all([...stored.keys()].map(async (d) => [d, (await stat(blobFile(cache, d))).mtimeMs] as const)));
    const before = await mtimes();
    const report = JSON.parse((await megapakOk(['report', '--stack', stack, '--json'], { env: env() })).stdout);
    expect(await mtimes()).toEqual(before);
    for (const d of stored.keys()) await age(blobFile(cache, d), 0); // as written, for the gc test below
    expect(report.cache).toEqual({ dir: cache, blobs: stored.size, bytes: total });
    expect((await megapakOk(['report', '--stack', stack], { env: env() })).stdout).toMatch(new RegExp(`blob store: ${stored.size} blobs, [\\d.]+ [KMG]?B in ${cache}`));
  });

  it('gc removes only unreferenced blobs older than --min-age; --dry-run and --keep-last; the stack still assembles', async () => {
    const zstd = await readRecords(stack);
    const referenced = new Set(zstd.map((r) => r.digest).filter(Boolean));
    const before = await storedBlobs(cache);
    const unreferenced = [...before.keys()].filter((d) => !referenced.has(d));
    expect(unreferenced.length).toBeGreaterThan(2);

    // Everything was just written: the default --min-age (1h) keeps it all.
    let r = await megapakOk(['cache', 'gc', '--all-unreferenced', '--stack', stack], { env: env() });
    expect(r.stdout).toMatch(new RegExp(`^removed 0 blobs.*${unreferenced.length} used within --min-age`));
    expect(await storedBlobs(cache)).toEqual(before);

    // Age everything (referenced blobs too: a reference alone must keep them); distinct ages.
    let i = 0;
    for (const d of before.keys()) await age(blobFile(cache, d), 2 * DAY + i++ * 60_000);
    const newestUnreferenced = [...unreferenced].sort((a, b) => [...before.keys()].indexOf(a) - [...before.keys()].indexOf(b))[0]!;

    r = await megapakOk(['cache', 'gc', '--all-unreferenced', '--dry-run', '--stack', stack], { env: env() });
    expect(
      r.stdout
        .split('\n')
        .filter((l) => l.startsWith('would remove'))
        .map((l) => l.split(' ')[2])
        .sort(),
    ).toEqual([...unreferenced].sort());
    expect(await storedBlobs(cache)).toEqual(before);

    r = await megapakOk(['cache', 'gc', '--keep-last', '1', '--stack', stack], { env: env() });
    expect(r.stdout).toMatch(new RegExp(`^removed ${unreferenced.length - 1} blobs`));
    expect([...(await storedBlobs(cache)).keys()].sort()).toEqual([...referenced, newestUnreferenced].sort());

    r = await megapakOk(['cache', 'gc', '--all-unreferenced', '--stack', stack], { env: env() });
    expect(r.stdout).toMatch(/^removed 1 blobs/);
    expect([...(await storedBlobs(cache)).keys()].sort()).toEqual([...referenced].sort());
    // Index entries of removed blobs are gone too: a gzip build streams again instead of missing a file.
    const img = await megapakOk(['image', '--stack', stack, '--oci', join(await tempDir('cache-oci'), 'oci')], { env: env() });
    expect(img.stderr).not.toContain('streaming');
    const rebuilt = await megapakOk(['build', '--stack', stack, '--compression', 'gzip'], { env: env() });
    expect(rebuilt.stdout).toMatch(/streamed/);

    const both = await megapak(['cache', 'gc', '--keep-last', '2', '--all-unreferenced'], { env: env() });
    expect(both.code).toBe(2);
    expect(both.stderr.trim()).toBe('megapak: cache gc: give exactly one of --keep-last N and --all-unreferenced');
  });

  it('a blob a build reuses between the scan and the removal is put back (the cache hit marks it used); a removed one is a miss', async () => {
    const own = await tempDir('cache-race');
    await megapakOk(['build', '--stack', stack, '--compression', 'none'], { env: { MEGAPAK_CACHE_DIR: own } });
    const victim = (await readRecords(stack)).find((r) => !r.empty)!;
    for (const d of (await storedBlobs(own)).keys()) await age(blobFile(own, d), DAY);

    const scan = await scanCache(own);
    const plan = planGc(scan.blobs, scan.temps, new Set(), { keepLast: 0, minAgeMs: 3600_000, now: Date.now() });
    expect(plan.blobs.find((b) => b.digest === victim.digest)?.remove).toBe(true);
    // A build reuses the blob now, after gc decided and before it removes.
    const hit = await new BlobStore(own).lookup(victim.contentKey, 'none');
    expect(hit?.digest).toBe(victim.digest);
    const result = await applyGc(own, plan, scan.index, 3600_000);
    expect(result.reprieved).toEqual([victim.digest]);
    expect(existsSync(blobFile(own, victim.digest!))).toBe(true);
    expect(result.removed).toBe(plan.blobs.filter((b) => b.remove).length - 1);
    // And the other way round: once removed, a lookup is a miss (the layer streams again).
    expect(await new BlobStore(own).lookup((await readRecords(stack)).find((r) => !r.empty && r.digest !== victim.digest)!.contentKey, 'none')).toBeUndefined();
  });

  it('gc running over and over while a build writes and records blobs never takes one the build needs', async () => {
    const racing = await copyFixtureStack();
    const own = await tempDir('cache-concurrent');
    // Old garbage that gc must remove meanwhile (valid blob names, no record refers to them).
    await mkdir(blobDir(own), { recursive: true });
    const garbage: string[] = [];
    for (let k = 0; k < 5; k++) {
      const f = join(blobDir(own), randomBytes(32).toString('hex'));
      await writeFile(f, randomBytes(1000));
      await age(f, 3 * DAY);
      garbage.push(f);
    }
    const build = spawn(process.execPath, [join(REPO, 'tools', 'bin', 'megapak.js'), 'build', '--stack', racing], {
      env: { ...process.env, MEGAPAK_CACHE_DIR: own },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let buildErr = '';
    build.stderr.on('data', (b) => (buildErr += b));
    const done = new Promise<number>((resolve) => build.on('close', (c) => resolve(c ?? -1)));
    let finished = false;
    void done.then(() => (finished = true));
    const runs: string[] = [];
    while (!finished) runs.push((await megapakOk(['cache', 'gc', '--all-unreferenced', '--stack', racing], { env: { MEGAPAK_CACHE_DIR: own } })).stdout.trim());
    expect(await done, buildErr).toBe(0);

    expect(runs.length).toBeGreaterThan(2);
    for (const f of garbage) expect(existsSync(f)).toBe(false);
    // gc met the build's work in flight: a temp blob being written, or a blob not yet recorded.
    const inFlight = runs.filter((l) => /[1-9]\d* used within --min-age|[1-9]\d* temp files in use/.test(l));
    expect(inFlight.length, runs.join('\n')).toBeGreaterThan(0);
    const records = await readRecords(racing);
    for (const r of records.filter((r) => !r.empty)) expect(existsSync(blobFile(own, r.digest!)), r.name).toBe(true);
    const img = await megapakOk(['image', '--stack', racing, '--oci', join(await tempDir('cache-oci'), 'oci')], { env: { MEGAPAK_CACHE_DIR: own } });
    expect(img.stderr).not.toContain('streaming');
  });

  it("gc removes the check records of files that are gone (layout copies on another file system), keeps the store blobs' own", async () => {
    const own = await tempDir('cache-checks');
    const s = await copyFixtureStack();
    const fs = await mountTmpfs('64M');
    // On another file system the layout's blobs are copies, each with a check record of its own.
    await megapakOk(['build', '--stack', s, '--oci', join(fs.dir, 'oci')], { env: { MEGAPAK_CACHE_DIR: own } });
    const stampOf = (file: string) => `${createHash('sha256').update(file).digest('hex').slice(0, 40)}.json`;
    const storeStamps = [...(await storedBlobs(own)).keys()].map((d) => stampOf(blobFile(own, d))).sort();
    const checks = join(own, 'checks');
    const before = await readdir(checks);
    expect(before.length).toBeGreaterThan(storeStamps.length);
    // Stamps from before stamps named their file: one of a store blob is kept, any other goes.
    const oldStamp = { digest: 'sha256:x', size: '1', dev: '1', ino: '1', ctimeNs: '1' };
    await writeFile(join(checks, `${'0'.repeat(40)}.json`), JSON.stringify(oldStamp));
    await writeFile(join(checks, storeStamps[0]!), JSON.stringify(oldStamp));
    await fs.unmount(); // the layout is gone
    const r = await megapakOk(['cache', 'gc', '--all-unreferenced', '--stack', s], { env: { MEGAPAK_CACHE_DIR: own } });
    expect(r.stdout).toContain(`; ${before.length - storeStamps.length + 1} check records of files gone`);
    expect((await readdir(checks)).sort()).toEqual(storeStamps);
  });
});
