// docs/blob-store.md's "What survives what", registry and process rows: a fault-injecting loopback
// proxy in front of docker-registry (5xx, resets part-way through an upload, stalls), and
// SIGKILL in the middle of a build and of a push. Each: the exit code, the one line, and a
// re-run that gives the clean build's digests.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LayerRecord } from '../tools/src/model/vocabulary.ts';
import { megapak, megapakOk, REPO, run } from './helpers/cli.ts';
import { startFaultProxy, type FaultProxy } from './helpers/fault-proxy.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';
import { startRegistry, type Registry } from './helpers/registry.ts';

const imageDigest = (stdout: string) => /(?:image \S+|pushed \S+) (sha256:[0-9a-f]{64})/.exec(stdout)![1]!;
const lastLine = (text: string) => text.trimEnd().split('\n').pop();

/** Start the CLI in the background, to kill it part-way; `stderr()` is what it said so far. */
function background(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [join(REPO, 'tools/bin/megapak.js'), ...args], { env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (b) => (stderr += b));
  child.stdout.resume();
  const exited = new Promise<string | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
  return { child, stderr: () => stderr, exited };
}

async function until(what: string, cond: () => boolean, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('what survives what', () => {
  let stack: string;
  let cache: string;
  let clean: string;
  let records: LayerRecord[];
  const running: { stop: () => Promise<void> }[] = [];
  // A 48 MiB random "CUDA" file: layer 02's gzip blob (50 MB) goes up in a streamed PATCH.
  const env = (extra: NodeJS.ProcessEnv = {}) => ({
    MEGAPAK_CACHE_DIR: cache,
    MEGAPAK_FIXTURE_BIG_MIB: '48',
    MEGAPAK_COMPRESSION: 'gzip',
    MEGAPAK_RETRY_BACKOFF_MS: '50',
    ...extra,
  });
  const bigDigest = () => records.find((r) => r.name === 'layer-02')!.digest!;
  /** The PUT that completes layer 02's upload. */
  const bigUpload = () => new RegExp(`/blobs/uploads/.*digest=${bigDigest().replace(':', '%3A')}`);
  const patch = /\/blobs\/uploads\//;

  /** A fresh registry behind a fault proxy. */
  async function faulty(): Promise<{ reg: Registry; proxy: FaultProxy; ref: string }> {
    const reg = await startRegistry({ storage: join(await tempDir('matrix-reg'), 'data') });
    const proxy = await startFaultProxy(reg.host);
    running.push(proxy, reg);
    return { reg, proxy, ref: `${proxy.host}/megapak/matrix:test` };
  }
  const pushedLayers = async (ref: string) => JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`])).stdout).Layers;

  beforeAll(async () => {
    stack = await copyFixtureStack();
    cache = await tempDir('matrix-cache');
    clean = imageDigest((await megapakOk(['build', '--stack', stack, '--oci', join(cache, 'oci')], { env: env() })).stdout);
    records = await readRecords(stack);
  });
  afterEach(async () => {
    for (const s of running.splice(0)) await s.stop();
  });

  it('registry 5xx within the retry budget: retried, exit 0, the clean digests', async () => {
    const { proxy, ref } = await faulty();
    proxy.inject('PUT', bigUpload(), { kind: 'status', status: 503 }, 2);
    proxy.inject('PUT', /\/manifests\//, { kind: 'status', status: 500 });
    proxy.inject('HEAD', /\/blobs\//, { kind: 'status', status: 502 });
    const r = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env() });
    expect(proxy.applied()).toBe(4);
    expect(imageDigest(r.stdout)).toBe(clean);
    expect(await pushedLayers(ref)).toEqual(records.map((l) => l.digest));
  });

  it('registry 5xx beyond the budget: exit 1, one line, no manifest; a re-run pushes the clean image', async () => {
    const { reg, proxy, ref } = await faulty();
    proxy.inject('PUT', bigUpload(), { kind: 'status', status: 503 }, 100);
    const r = await megapak(['push', '--stack', stack, '--plain-http', '--retries', '2', ref], { env: env() });
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toBe(
      `megapak: push to ${ref} failed at layer-02 ${bigDigest().slice(7, 19)}: completing the upload of ${bigDigest()}: HTTP 503; no manifest was pushed; run the push again to upload what is still missing`,
    );
    expect(reg.requests('PUT', '/manifests/')).toEqual([]);
    const again = await megapakOk(['push', '--stack', stack, '--plain-http', `${reg.host}/megapak/matrix:test`], { env: env() });
    expect(imageDigest(again.stdout)).toBe(clean);
  });

  it('connection reset part-way through an upload (one streamed PATCH, and 8 MB chunks): resumed, exit 0, the clean digests', async () => {
    const { proxy, ref } = await faulty();
    proxy.inject('PATCH', patch, { kind: 'reset', afterBytes: 3 << 20 });
    const whole = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env() });
    expect(imageDigest(whole.stdout)).toBe(clean);
    const chunked = await faulty();
    chunked.proxy.inject('PATCH', patch, { kind: 'reset', afterBytes: 5 << 20 }, 2);
    const r = await megapakOk(['push', '--stack', stack, '--plain-http', chunked.ref], { env: env({ MEGAPAK_PUSH_CHUNK_MB: '8' }) });
    expect(proxy.applied() + chunked.proxy.applied()).toBe(3);
    expect(imageDigest(r.stdout)).toBe(clean);
    expect(await pushedLayers(chunked.ref)).toEqual(records.map((l) => l.digest));
  });

  it('a registry that stalls mid-upload: dropped after MEGAPAK_REGISTRY_IDLE_S, retried, exit 0, the clean digests', async () => {
    const { proxy, ref } = await faulty();
    proxy.inject('PATCH', patch, { kind: 'stall', afterBytes: 2 << 20 });
    const r = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env({ MEGAPAK_REGISTRY_IDLE_S: '1' }) });
    expect(proxy.applied()).toBe(1);
    expect(imageDigest(r.stdout)).toBe(clean);
  });

  it('SIGKILL in the middle of a build: nothing damaged is kept; a re-run gives the clean digests', async () => {
    const fresh = await copyFixtureStack();
    const own = await tempDir('matrix-kill-cache');
    // One gzip thread: layer 02's blob takes long enough to be killed in the middle of.
    const b = background(['build', '--stack', fresh, '--oci', join(own, 'oci'), '--gzip-workers', '1'], env({ MEGAPAK_CACHE_DIR: own }));
    await until('layer 02 streaming', () => b.stderr().includes('layer-02: streaming'));
    b.child.kill('SIGKILL');
    expect(await b.exited).toBe('SIGKILL');
    expect(existsSync(join(fresh, 'layers', '02-cuda', 'dist', 'layer.json'))).toBe(false); // killed before layer 02 was done
    expect((await megapak(['cache', 'verify'], { env: env({ MEGAPAK_CACHE_DIR: own }) })).code).toBe(0);
    const again = await megapakOk(['build', '--stack', fresh, '--oci', join(own, 'oci')], { env: env({ MEGAPAK_CACHE_DIR: own }) });
    expect(imageDigest(again.stdout)).toBe(clean);
  });

  it('SIGKILL in the middle of a push: a re-run completes it with the clean digests', async () => {
    const { proxy, ref } = await faulty();
    proxy.inject('PATCH', patch, { kind: 'stall', afterBytes: 1 << 20 });
    const p = background(['push', '--stack', stack, '--plain-http', ref], env());
    await until('the big upload under way', () => proxy.applied() === 1);
    p.child.kill('SIGKILL');
    expect(await p.exited).toBe('SIGKILL');
    const again = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env() });
    expect(imageDigest(again.stdout)).toBe(clean);
    expect(await pushedLayers(ref)).toEqual(records.map((l) => l.digest));
  });
});
