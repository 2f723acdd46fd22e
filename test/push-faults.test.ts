// megapak push when the registry dies: mid-upload kill, restart, rerun; and a restart within the retry budget.
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { LayerRecord } from '../tools/src/model/vocabulary.ts';
import { megapakOk, REPO, run, type RunResult } from './helpers/cli.ts';
import { copyFixtureStack, layoutMembers, readRecords, tempDir } from './helpers/fixture.ts';
import { startRegistry, type Registry } from './helpers/registry.ts';

const BIG_MIB = '160'; // one 160 MiB blob: several chunked PATCHes

/** Start a push in the background; resolves when it exits. */
function pushInBackground(args: string[], env: NodeJS.ProcessEnv): { done: Promise<RunResult> } {
  const child = spawn(process.execPath, [join(REPO, 'tools/bin/megapak.js'), 'push', ...args], { env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b) => (stdout += b));
  child.stderr.on('data', (b) => (stderr += b));
  const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
  return {
    done: new Promise((resolve) =>
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? -1, stdout, stderr });
      }),
    ),
  };
}

async function until(what: string, cond: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const killHard = (reg: Registry) =>
  new Promise<void>((resolve) => {
    reg.proc.once('close', () => resolve());
    reg.proc.kill('SIGKILL');
  });

describe('push when the registry fails', () => {
  let stack: string;
  let cache: string;
  let records: LayerRecord[];
  const live: Registry[] = [];
  // 32 MiB chunks: several PATCH requests per big blob, so the registry can die between them.
  const env = (extra: NodeJS.ProcessEnv = {}) => ({
    MEGAPAK_CACHE_DIR: cache,
    MEGAPAK_FIXTURE_BIG_MIB: BIG_MIB,
    MEGAPAK_COMPRESSION: 'none',
    MEGAPAK_PUSH_CHUNK_MB: '32',
    ...extra,
  });

  beforeAll(async () => {
    stack = await copyFixtureStack();
    cache = await tempDir('fault-cache');
    await megapakOk(['build', '--stack', stack, '--oci', join(cache, 'oci')], { env: env() });
    records = await readRecords(stack);
    expect(records[1]!.size!).toBeGreaterThan(100 << 20);
  });
  afterEach(async () => {
    await Promise.all(live.splice(0).map((r) => r.stop()));
  });

  it('killed mid-upload: retries, then a clear error and no manifest; a rerun uploads only what is missing', async () => {
    const storage = join(await tempDir('fault-reg'), 'data');
    const reg = await startRegistry({ storage });
    const ref = `${reg.host}/megapak/fault:test`;
    const push = pushInBackground(['--stack', stack, '--plain-http', '--retries', '2', ref], env({ MEGAPAK_RETRY_BACKOFF_MS: '100' }));
    await until('the first chunk of the big blob', () => reg.requests('PATCH').length > 0);
    await killHard(reg);
    const failed = await push.done;
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(new RegExp(`megapak: push to ${reg.host}/megapak/fault:test failed at layer-\\d\\d \\w+: cannot reach registry ${reg.host}`));
    expect(failed.stderr).toContain('no manifest was pushed; run the push again to upload what is still missing');

    const again = await startRegistry({ storage, port: reg.opts.port });
    live.push(again);
    const manifest = JSON.parse(await readFile(join(cache, 'oci', 'blobs', 'sha256', (await layoutMembers(join(cache, 'oci'))).image.digest.slice(7)), 'utf8'));
    const all = [...records.map((r) => r.digest!), manifest.config.digest as string];
    const missing: string[] = [];
    for (const d of all) {
      const res = await fetch(`http://${again.host}/v2/megapak/fault/blobs/${d}`, { method: 'HEAD' });
      if (res.status === 404) missing.push(d);
    }
    expect(missing).toContain(records[1]!.digest);
    const rerun = await megapakOk(['push', '--stack', stack, '--plain-http', ref], { env: env() });
    const m = /(\d+) uploaded .*, (\d+) skipped .*, (\d+) mounted/.exec(rerun.stdout)!;
    expect([Number(m[1]), Number(m[2]), Number(m[3])]).toEqual([missing.length, all.length - missing.length, 0]);
    const info = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`])).stdout);
    expect(info.Layers).toEqual(records.map((r) => r.digest));
  });

  // distribution 2.8 cancels an upload whose stored size differs from the offset in the
  // client's last Location (a chunk cut mid-way), so here the client's status query leads to a
  // fresh session for that blob; a registry that reports the partial Range is resumed from it.
  it('a registry restarted within the retry budget: the push asks where the upload stands and completes', async () => {
    const storage = join(await tempDir('fault-reg2'), 'data');
    const reg = await startRegistry({ storage });
    const ref = `${reg.host}/megapak/resume:test`;
    const push = pushInBackground(['--stack', stack, '--plain-http', '--retries', '8', '--concurrency', '1', ref], env({ MEGAPAK_RETRY_BACKOFF_MS: '250' }));
    await until('the first chunk of the big blob', () => reg.requests('PATCH').length > 0);
    await killHard(reg);
    await new Promise((r) => setTimeout(r, 300));
    const again = await startRegistry({ storage, port: reg.opts.port });
    live.push(again);
    const done = await push.done;
    expect(done.code, done.stderr).toBe(0);
    // After the restart the client asked where the interrupted upload stood.
    expect(again.requests('GET', '/blobs/uploads/').length).toBeGreaterThan(0);
    const info = JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`])).stdout);
    expect(info.Layers).toEqual(records.map((r) => r.digest));
  });
});
