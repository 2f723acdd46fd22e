// A self-hosted Turborepo remote cache (turborepo-remote-cache on loopback) shared by two clones.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { megapak, run } from './helpers/cli.ts';
import { readRecords, tempDir } from './helpers/fixture.ts';
import { startTurboRemoteCache, type Server } from './helpers/servers.ts';
import { makeFixtureWorkspace, turboBuild } from './helpers/workspace.ts';

const LAYERS = Array.from({ length: 12 }, (_, i) => `layer-${String(i + 1).padStart(2, '0')}`);

describe('remote cache across clones', () => {
  let server: Server;
  let cloneA: string;
  let cloneB: string;
  let remoteEnv: NodeJS.ProcessEnv;
  let imageA: string;

  beforeAll(async () => {
    server = await startTurboRemoteCache(await tempDir('turbo-remote'), 'test-token');
    remoteEnv = { TURBO_API: server.url, TURBO_TOKEN: 'test-token', TURBO_TEAM: 'megapak' };
  });
  afterAll(async () => server?.stop());

  it('a second clone of the same commit gets every layer from the remote cache', async () => {
    cloneA = await makeFixtureWorkspace();
    const a = await turboBuild(cloneA, { ...remoteEnv, MEGAPAK_CACHE_DIR: await tempDir('blobs-a') });
    expect(LAYERS.map((l) => a.tasks.get(l)!.cache.status)).toEqual(LAYERS.map(() => 'MISS'));
    imageA = /image megapak-fixture:test (sha256:\S+)/.exec(a.result.stdout)![1]!;

    cloneB = join(await tempDir('clone-b'), 'ws');
    expect((await run('git', ['clone', '-q', cloneA, cloneB])).code).toBe(0);
    expect((await run('pnpm', ['install', '--offline', '--reporter=silent'], { cwd: cloneB })).code).toBe(0);
    // Clone B has its own .turbo and an empty blob store: only the remote cache can answer.
    const b = await turboBuild(cloneB, { ...remoteEnv, MEGAPAK_CACHE_DIR: await tempDir('blobs-b') });
    for (const l of LAYERS) expect(b.tasks.get(l)!.cache, l).toMatchObject({ status: 'HIT', source: 'REMOTE' });
    // The image task found no blobs locally, made each again from the store and checked its digest.
    const imageLog = b.result.stdout
      .split('\n')
      .filter((l) => l.startsWith('image:build:'))
      .join('\n');
    expect(imageLog.match(/: streaming /g)).toHaveLength(12);
    expect(imageLog).toContain(imageA);
  });

  it('a restored layer.json whose digest the store cannot reproduce is an error that says so', async () => {
    const cache = await tempDir('blobs-c');
    const file = join(cloneB, 'layers', '05-gcc15', 'dist', 'layer.json');
    const original = await readFile(file, 'utf8');
    const record = JSON.parse(original);
    const wrong = `sha256:${'0'.repeat(64)}`;
    await writeFile(file, JSON.stringify({ ...record, digest: wrong }));
    const r = await megapak(['image', '--stack', cloneB], { env: { MEGAPAK_CACHE_DIR: cache } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`layer-05: the blob made again from the Nix store has digest ${record.digest}, but dist/layer.json records ${wrong}`);
    await rm(cache, { recursive: true });
    expect((await readRecords(cloneA))[4]!.digest).toBe(record.digest);
    await writeFile(file, original);
  });

  it('a restored layer.json naming a store path that no binary cache has and the layer does not build names the layer and the path', async () => {
    const file = join(cloneB, 'layers', '06-torch', 'dist', 'layer.json');
    const record = JSON.parse(await readFile(file, 'utf8'));
    const gone = `/nix/store/${'0'.repeat(32)}-not-built-here`;
    record.paths[0].path = gone;
    await writeFile(file, JSON.stringify(record));
    const r = await megapak(['image', '--stack', cloneB], { env: { MEGAPAK_CACHE_DIR: await tempDir('blobs-d') } });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`megapak: layer-06: store path ${gone} is in no binary cache and building the layer did not make it\n`);
  });
});
