// Nothing stale, nothing damaged: the blob store checks what it hands out (store and layouts),
// `megapak cache verify`, push/image check their records against the sources, push fails fast
// on a registry it cannot use, and a blob the registry rejects is re-checked and sent again.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, readFile, rename, rm, stat, writeFile, cp } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LayerRecord } from '../tools/src/model/vocabulary.ts';
import { BlobChecks } from '../tools/src/layer/blob-check.ts';
import { megapak, megapakOk, run } from './helpers/cli.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';
import { startFaultProxy } from './helpers/fault-proxy.ts';
import { startRegistry, type Registry } from './helpers/registry.ts';
import { freePort } from './helpers/servers.ts';
import { mountTmpfs } from './helpers/tmpfs.ts';
import { flipByte } from './helpers/damage.ts';

const sha256 = async (file: string) =>
  `sha256:${createHash('sha256')
    .update(await readFile(file))
    .digest('hex')}`;
const imageDigest = (stdout: string) => /image \S+ (sha256:[0-9a-f]{64})/.exec(stdout)![1]!;
const lines = (text: string) => text.split('\n').filter(Boolean);

describe('integrity', () => {
  let stack: string;
  let cache: string;
  let records: LayerRecord[];
  let clean: string;
  let reg: Registry;
  const env = (extra: NodeJS.ProcessEnv = {}) => ({ MEGAPAK_CACHE_DIR: cache, MEGAPAK_COMPRESSION: 'none', ...extra });
  const big = () => records.find((r) => r.name === 'layer-02')!;
  const storeBlob = (d: string) => join(cache, 'blobs', 'sha256', d.slice(7));

  beforeAll(async () => {
    stack = await copyFixtureStack();
    cache = await tempDir('integrity-cache');
    clean = imageDigest((await megapakOk(['build', '--stack', stack, '--oci', join(cache, 'oci')], { env: env() })).stdout);
    records = await readRecords(stack);
    reg = await startRegistry({ storage: join(await tempDir('integrity-reg'), 'data') });
  });
  afterAll(async () => reg?.stop());

  it('a blob damaged in the store is re-hashed, evicted with one line and made again; the image is the clean one', async () => {
    await flipByte(storeBlob(big().digest!), 1000);
    const r = await megapakOk(['build', '--stack', stack, '--oci', join(cache, 'oci')], { env: env() });
    expect(lines(r.stderr).filter((l) => l.includes('is damaged'))).toHaveLength(1);
    expect(r.stderr).toMatch(
      new RegExp(`blob store: ${storeBlob(big().digest!)} is damaged \\(holds sha256:[0-9a-f]{64}, not ${big().digest}\\); evicted, it is made again from the Nix store`),
    );
    expect(r.stdout).toContain('12 layers, 1 streamed');
    expect(imageDigest(r.stdout)).toBe(clean);
    expect(await sha256(storeBlob(big().digest!))).toBe(big().digest);
  });

  it('linking a blob into a new layout re-stamps it: the next use is a stat, not a re-hash', async () => {
    const checks = new BlobChecks(join(cache, 'checks'));
    await megapakOk(['build', '--stack', stack, '--oci', join(await tempDir('integrity-new-oci'), 'oci')], { env: env() });
    for (const r of records) if (!r.empty) expect(await checks.unchanged(storeBlob(r.digest!), r.digest!, r.size!), r.name).toBe(true);
  });

  it('a layout blob damaged through its hard link never reaches a later push or build', async () => {
    const layoutBlob = join(cache, 'oci', 'blobs', 'sha256', big().digest!.slice(7));
    expect((await stat(layoutBlob)).ino).toBe((await stat(storeBlob(big().digest!))).ino); // layouts hard-link the store's file
    await flipByte(layoutBlob, 5000);
    // A push straight after: the store's blob shares the inode, its change time moved, so it is re-hashed and made again.
    const ref = `${reg.host}/megapak/integrity:layout`;
    const pushed = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env() });
    expect(pushed.stderr).toContain(`blob store: ${storeBlob(big().digest!)} is damaged`);
    expect(pushed.stdout).toContain(clean);
    const inspected = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`])).stdout);
    expect(inspected.Layers).toEqual(records.map((r) => r.digest));
    // The layout still holds the damaged inode (the store let go of it); the next build replaces it.
    expect(await sha256(layoutBlob)).not.toBe(big().digest);
    const built = await megapakOk(['build', '--stack', stack, '--oci', join(cache, 'oci')], { env: env() });
    expect(built.stdout).toContain('0 streamed');
    expect(await sha256(layoutBlob)).toBe(big().digest);
    expect((await stat(layoutBlob)).ino).toBe((await stat(storeBlob(big().digest!))).ino);
    // An editor's save (a new file renamed over the layout's name) leaves the store alone; the next build puts the store's inode back.
    const other = records.find((r) => r.name === 'layer-01')!;
    const otherBlob = join(cache, 'oci', 'blobs', 'sha256', other.digest!.slice(7));
    await writeFile(`${otherBlob}.edit`, 'not a layer');
    await rename(`${otherBlob}.edit`, otherBlob);
    const again = await megapakOk(['build', '--stack', stack, '--oci', join(cache, 'oci')], { env: env() });
    expect(again.stdout).toContain('0 streamed');
    expect(await sha256(otherBlob)).toBe(other.digest);
    expect((await run('skopeo', ['inspect', `oci:${join(cache, 'oci')}`])).code).toBe(0); // tag-less, as a user would
  });

  it('a layout on another file system holds stamped copies: a copy damaged in place is replaced by the next build', async () => {
    // A tmpfs of its own: a hard link from the store cannot cross to it.
    const fs = await mountTmpfs('100M');
    try {
      const layout = join(fs.dir, 'oci');
      await megapakOk(['build', '--stack', stack, '--oci', layout], { env: env() });
      const copy = join(layout, 'blobs', 'sha256', big().digest!.slice(7));
      expect((await stat(copy)).dev).not.toBe((await stat(storeBlob(big().digest!))).dev);
      await flipByte(copy, 77);
      await megapakOk(['build', '--stack', stack, '--oci', layout], { env: env() });
      expect(await sha256(copy)).toBe(big().digest);
    } finally {
      await fs.unmount();
    }
  });

  it('cache verify re-hashes every blob, names the damaged ones and exits 1; --repair evicts them; a rebuild gives the clean digests', async () => {
    expect((await megapakOk(['cache', 'verify'], { env: env() })).stdout).toMatch(/\d+ blobs \(.*\) verified, none damaged/);
    const victim = records.find((r) => r.name === 'layer-07')!;
    await flipByte(storeBlob(victim.digest!), 600);
    const found = await megapak(['cache', 'verify'], { env: env() });
    expect(found.code).toBe(1);
    expect(found.stdout).toContain(`damaged ${victim.digest}: ${storeBlob(victim.digest!)} holds sha256:`);
    expect(lines(found.stderr)).toEqual([expect.stringMatching(/^megapak: .* 1 of \d+ blobs damaged; run megapak cache verify --repair to evict them$/)]);
    const repaired = await megapak(['cache', 'verify', '--repair'], { env: env() });
    expect(repaired.code).toBe(1);
    expect(repaired.stdout).toContain('; evicted');
    expect(existsSync(storeBlob(victim.digest!))).toBe(false);
    expect((await megapakOk(['cache', 'verify'], { env: env() })).code).toBe(0);
    const r = await megapakOk(['build', '--stack', stack, '--oci', join(cache, 'oci')], { env: env() });
    expect(r.stdout).toContain('1 streamed');
    expect(imageDigest(r.stdout)).toBe(clean);
  });

  it('bit rot that leaves the change time alone is caught by the registry: the push re-hashes, makes the blob again and retries once', async () => {
    const victim = records.find((r) => r.name === 'layer-03')!;
    const file = storeBlob(victim.digest!);
    await flipByte(file, 100);
    // Bit rot on the disk changes no change time: the stamp still matches.
    await new BlobChecks(join(cache, 'checks')).record(file, victim.digest!);
    // A registry of its own: distribution answers HEAD for a blob any repository of it holds.
    const own = await startRegistry({ storage: join(await tempDir('integrity-rot'), 'data') });
    const ref = `${own.host}/megapak/integrity:rot`;
    const r = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env() }).finally(() => own.stop());
    expect(r.stderr).toMatch(
      new RegExp(`layer-03 \\w+: ${own.host} rejected blob ${victim.digest}: its content does not match the digest; re-checking the blob and retrying once`),
    );
    expect(r.stderr).toContain(`blob store: ${file} is damaged`);
    expect(r.stdout).toContain(clean);
    expect(await sha256(file)).toBe(victim.digest);
  });

  it('bytes damaged on the way (a bad proxy) are rejected by the registry and sent again once', async () => {
    const own = await startRegistry({ storage: join(await tempDir('integrity-wire'), 'data') });
    const proxy = await startFaultProxy(own.host);
    try {
      proxy.inject('PUT', new RegExp(`digest=${big().digest!.replace(':', '%3A')}`), { kind: 'corrupt', atByte: 4096 });
      const ref = `${proxy.host}/megapak/integrity:wire`;
      const r = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env() });
      expect(proxy.applied()).toBe(1);
      expect(r.stderr).toContain('re-checking the blob and retrying once');
      expect(r.stderr).not.toContain('is damaged');
      expect(r.stdout).toContain(clean);
    } finally {
      await proxy.stop();
      await own.stop();
    }
  });

  it('stale records: push/image --no-build name the changed layer; push rebuilds only it (registry first) and ships the new image', async () => {
    const edited = await copyFixtureStack();
    await cp(join(stack, 'layers'), join(edited, 'layers'), { recursive: true });
    await appendFile(join(edited, 'layers', '09-pak5', 'pak5.txt'), '\npillow\n');
    for (const cmd of [
      ['push', '--plain-http', `${reg.host}/megapak/integrity:stale`],
      ['image', '--oci', join(await tempDir('stale-oci'), 'oci')],
    ]) {
      const r = await megapak([...cmd, '--stack', edited, '--no-build'], { env: env() });
      expect(r.code).toBe(1);
      expect(lines(r.stderr)).toEqual(['megapak: stale layer records (--no-build): layer-09 (roots changed: layer.nix or nix/); run megapak build, or leave out --no-build']);
    }
    const ref = `${reg.host}/megapak/integrity:stale`;
    await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env() });
    const pushed = await megapakOk(['push', '--stack', edited, '--plain-http', ref], { env: env({ MEGAPAK_CACHE_DIR: await tempDir('stale-cache') }) });
    // An empty blob store: only layer 09 streams; 10-12 re-check their delta and keep their records.
    expect(pushed.stderr.match(/layer-\d\d: streaming/g)).toEqual(['layer-09: streaming']);
    const after = await readRecords(edited);
    expect(after[8]!.digest).not.toBe(records[8]!.digest);
    expect(after.map((r) => r.digest)).toEqual([...records.slice(0, 8).map((r) => r.digest), after[8]!.digest, ...records.slice(9).map((r) => r.digest)]);
    const built = await megapakOk(['build', '--stack', await copyFixtureStack(edited), '--oci', join(await tempDir('stale-oci'), 'oci')], { env: env() });
    expect(pushed.stdout).toContain(imageDigest(built.stdout));
    // Nothing changed since: no build, nothing streamed, records as they are.
    const again = await megapakOk(['push', '--stack', edited, '--plain-http', ref, '--no-build'], { env: env() });
    expect(again.stderr).not.toMatch(/streaming|stale/);
  });

  it('push fails fast, before any build: an unreachable registry, and credentials the registry refuses', async () => {
    const fresh = await copyFixtureStack();
    const port = await freePort();
    const down = await megapak(['push', '--stack', fresh, '--plain-http', `127.0.0.1:${port}/megapak/x:y`], { env: env({ MEGAPAK_RETRY_BACKOFF_MS: '50' }) });
    expect(down.code).toBe(1);
    expect(lines(down.stderr)).toEqual([
      `megapak: push to 127.0.0.1:${port}/megapak/x:y: cannot reach registry 127.0.0.1:${port} (GET /v2/): ECONNREFUSED; nothing was built or pushed`,
    ]);
    const locked = await startRegistry({ storage: join(await tempDir('integrity-auth'), 'data'), htpasswd: { user: 'pak', password: 'right' } });
    try {
      const bad = await megapak(['push', '--stack', fresh, '--plain-http', `${locked.host}/megapak/x:y`], {
        env: env({ MEGAPAK_REGISTRY_USER: 'pak', MEGAPAK_REGISTRY_PASSWORD: 'wrong' }),
      });
      expect(bad.code).toBe(1);
      expect(lines(bad.stderr)).toEqual([
        `megapak: push to ${locked.host}/megapak/x:y: authentication to ${locked.host} failed (HTTP 401) with the credentials from MEGAPAK_REGISTRY_USER/PASSWORD; nothing was built or pushed`,
      ]);
    } finally {
      await locked.stop();
    }
    // Nothing was built: no layer has a record.
    expect(existsSync(join(fresh, 'layers', '01-base', 'dist', 'layer.json'))).toBe(false);
  });
});
