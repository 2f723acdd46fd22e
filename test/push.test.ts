// megapak push against Debian's docker-registry (distribution v2) on loopback.
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LayerRecord } from '../tools/src/model/vocabulary.ts';
import { megapak, megapakOk, run } from './helpers/cli.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';
import { startRegistry, startTokenService, type Registry } from './helpers/registry.ts';

const skopeo = async (...args: string[]) => {
  const r = await run('skopeo', args, { timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`skopeo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
};
const inspect = async (ref: string, creds?: string) => JSON.parse(await skopeo('inspect', '--tls-verify=false', ...(creds ? ['--creds', creds] : []), `docker://${ref}`));
const summaryOf = (stdout: string) => {
  const m = /(\d+) uploaded \([^)]*\), (\d+) skipped \([^)]*\), (\d+) mounted/.exec(stdout);
  if (!m) throw new Error(`no push summary in:\n${stdout}`);
  return { uploaded: Number(m[1]), skipped: Number(m[2]), mounted: Number(m[3]) };
};

describe('megapak push', () => {
  let stack: string;
  let cache: string;
  let records: LayerRecord[];
  let manifestDigest: string;
  let ociDir: string;
  const registries: Registry[] = [];
  const env = (extra: NodeJS.ProcessEnv = {}) => ({ MEGAPAK_CACHE_DIR: cache, MEGAPAK_RETRY_BACKOFF_MS: '100', ...extra });
  const registry = async (opts: Partial<Parameters<typeof startRegistry>[0]> = {}) => {
    const r = await startRegistry({ storage: opts.storage ?? join(await tempDir('registry'), 'data'), ...opts });
    registries.push(r);
    return r;
  };

  beforeAll(async () => {
    stack = await copyFixtureStack();
    cache = await tempDir('push-cache');
    ociDir = join(await tempDir('push-oci'), 'oci');
    const r = await megapakOk(['build', '--stack', stack, '--oci', ociDir], { env: env() });
    manifestDigest = /image \S+ (sha256:[0-9a-f]{64})/.exec(r.stdout)![1]!;
    records = await readRecords(stack);
  });
  afterEach(async () => {
    await Promise.all(registries.splice(0).map((r) => r.stop()));
  });

  it('pushes anonymously; skopeo reads the same digests back; a re-push uploads nothing; another repository mounts', async () => {
    const reg = await registry();
    const ref = `${reg.host}/megapak/fixture:test`;
    const first = await megapakOk(['push', '--stack', stack, '--plain-http', '--tag', 'extra', ref], { env: env() });
    expect(summaryOf(first.stdout)).toEqual({ uploaded: 13, skipped: 0, mounted: 0 });
    expect(first.stdout).toContain(manifestDigest);
    expect(first.stderr).toMatch(/layer-02 \w+: uploaded/);

    const info = await inspect(ref);
    expect(info.Digest).toBe(manifestDigest);
    expect(info.Layers).toEqual(records.map((r) => r.digest));
    expect((await inspect(`${reg.host}/megapak/fixture:extra`)).Digest).toBe(manifestDigest);
    const copied = join(await tempDir('skopeo-copy'), 'oci');
    await skopeo('copy', '--src-tls-verify=false', `docker://${ref}`, `oci:${copied}:test`);
    const ours = JSON.parse(await skopeo('inspect', `oci:${ociDir}:test`));
    const theirs = JSON.parse(await skopeo('inspect', `oci:${copied}:test`));
    expect(theirs.Layers).toEqual(ours.Layers);

    const uploadsBefore = reg.requests('POST', '/blobs/uploads/').length;
    const again = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env() });
    expect(summaryOf(again.stdout)).toEqual({ uploaded: 0, skipped: 13, mounted: 0 });
    // Only the push-access check's upload session (opened before any build, cancelled at once).
    expect(reg.requests('POST', '/blobs/uploads/').length).toBe(uploadsBefore + 1);
    expect(reg.requests('DELETE', '/blobs/uploads/').length).toBeGreaterThanOrEqual(2);
    expect(reg.requests('PATCH').length + reg.requests('PUT', '/blobs/uploads/').length).toBe(13);

    const other = `${reg.host}/megapak/other:test`;
    const mounted = await megapakOk(['push', '--stack', stack, '--plain-http', other], { env: env() });
    expect(summaryOf(mounted.stdout)).toEqual({ uploaded: 0, skipped: 0, mounted: 13 });
    expect(reg.requests('POST', 'mount=sha256').length).toBe(13);
    expect(reg.requests('PUT', '/blobs/uploads/').length).toBe(13);
    expect((await inspect(other)).Layers).toEqual(records.map((r) => r.digest));
  });

  it('with htpasswd auth: good credentials push, wrong ones are refused with no tag written and no secret shown', async () => {
    const reg = await registry({ htpasswd: { user: 'pak', password: 's3cret-pass' } });
    const ref = `${reg.host}/megapak/auth:test`;
    const bad = await megapak(['push', '--stack', stack, '--plain-http', ref], {
      env: env({ MEGAPAK_REGISTRY_USER: 'pak', MEGAPAK_REGISTRY_PASSWORD: 'wrong-pass' }),
    });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`authentication to ${reg.host} failed (HTTP 401) with the credentials from MEGAPAK_REGISTRY_USER/PASSWORD`);
    expect(bad.stderr + bad.stdout).not.toContain('wrong-pass');
    expect(reg.requests('PUT', '/manifests/')).toEqual([]);
    const anon = await megapak(['push', '--stack', stack, '--plain-http', ref], { env: env({ DOCKER_CONFIG: await tempDir('nodocker') }) });
    expect(anon.code).toBe(1);
    expect(anon.stderr).toMatch(/authentication to \S+ failed \(HTTP 401\) anonymously/);

    const good = await megapakOk(['push', '--stack', stack, '--plain-http', ref], {
      env: env({ MEGAPAK_REGISTRY_USER: 'pak', MEGAPAK_REGISTRY_PASSWORD: 's3cret-pass' }),
    });
    expect(summaryOf(good.stdout).uploaded).toBe(13);
    expect(good.stderr + good.stdout).not.toContain('s3cret-pass');
    expect((await inspect(ref, 'pak:s3cret-pass')).Digest).toBe(manifestDigest);

    // The Docker config file's `auths` work too.
    const dockerConfig = await tempDir('docker-config');
    await writeFile(join(dockerConfig, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('pak:s3cret-pass').toString('base64') } } }));
    const viaConfig = await megapakOk(['push', '--stack', stack, '--plain-http', `${reg.host}/megapak/auth:again`], { env: env({ DOCKER_CONFIG: dockerConfig }) });
    expect(summaryOf(viaConfig.stdout).skipped).toBe(13);
  });

  it('with a bearer-token service in front: tokens are fetched with the credentials, wrong ones refused', async () => {
    const token = await startTokenService(await tempDir('token'), 'pak', 'tok-pass');
    try {
      const reg = await registry({ token: { realm: token.url, service: token.service, issuer: token.issuer, certFile: token.certFile } });
      const ref = `${reg.host}/megapak/bearer:test`;
      const bad = await megapak(['push', '--stack', stack, '--plain-http', ref], { env: env({ MEGAPAK_REGISTRY_USER: 'pak', MEGAPAK_REGISTRY_PASSWORD: 'nope' }) });
      expect(bad.code).toBe(1);
      expect(bad.stderr).toContain(`authentication to ${reg.host} failed (HTTP 401)`);
      expect(bad.stderr).toContain('the token service refused');
      const good = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env({ MEGAPAK_REGISTRY_USER: 'pak', MEGAPAK_REGISTRY_PASSWORD: 'tok-pass' }) });
      expect(summaryOf(good.stdout).uploaded).toBe(13);
      expect(token.issued()).toBeGreaterThan(0);
      expect(good.stderr + good.stdout).not.toContain('tok-pass');
    } finally {
      await token.stop();
    }
  });

  it('a blob damaged in the blob store is caught before it is sent: evicted, made again, pushed with the right digests', async () => {
    const reg = await registry();
    const cache2 = await tempDir('push-corrupt');
    await megapakOk(['build', '--stack', stack, '--oci', join(cache2, 'oci')], { env: env({ MEGAPAK_CACHE_DIR: cache2 }) });
    const victim = records[3]!;
    const file = join(cache2, 'blobs', 'sha256', victim.digest!.slice(7));
    const bytes = await readFile(file);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff;
    await writeFile(file, bytes);
    const ref = `${reg.host}/megapak/corrupt:test`;
    const r = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env({ MEGAPAK_CACHE_DIR: cache2 }) });
    expect(r.stderr).toContain(`blob store: ${file} is damaged`);
    expect(r.stderr).toMatch(new RegExp(`${victim.name}: streaming`));
    const info = await inspect(ref);
    expect(info.Digest).toBe(manifestDigest);
    expect(info.Layers).toEqual(records.map((r) => r.digest));
  });

  it('bad references: one line, exit 2', async () => {
    for (const ref of ['UPPER/case:x', 'host:5000/repo:bad tag', 'repo@sha256:123']) {
      const r = await megapak(['push', '--stack', stack, ref]);
      expect(r.code, ref).toBe(2);
      expect(r.stderr.trim().split('\n'), ref).toHaveLength(1);
      expect(r.stderr).toMatch(/^megapak: invalid image reference/);
    }
  });

  it('megapak load says clearly that no Docker daemon is reachable', async () => {
    const r = await megapak(['load', '--stack', stack], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^megapak: no Docker (daemon is reachable|client)/);
  });

  afterAll(async () => {
    await rm(cache, { recursive: true, force: true });
  });
});
