// Real Turborepo on the fixture workspace: which tasks hit, which ran, and what each streamed.
import { readFile, writeFile, appendFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LayerRecord } from '../tools/src/model/vocabulary.ts';
import { REPO, run } from './helpers/cli.ts';
import { readRecords, tempDir } from './helpers/fixture.ts';
import { commitAll, makeFixtureWorkspace, turboBuild } from './helpers/workspace.ts';

const LAYERS = Array.from({ length: 12 }, (_, i) => `layer-${String(i + 1).padStart(2, '0')}`);

/** The lines a task printed in this run (turbo prefixes them with `<package>:build:`). */
const taskLog = (stdout: string, pkg: string) =>
  stdout
    .split('\n')
    .filter((l) => l.startsWith(`${pkg}:build:`))
    .join('\n');

const digests = (rs: LayerRecord[]) => Object.fromEntries(rs.map((r) => [r.name, r.digest ?? null]));

describe('turbo run build on the fixture workspace', () => {
  let ws: string;
  let env: NodeJS.ProcessEnv;
  let first: Record<string, string | null>;

  beforeAll(async () => {
    ws = await makeFixtureWorkspace();
    env = { MEGAPAK_CACHE_DIR: await tempDir('turbo-cache') };
    const { tasks } = await turboBuild(ws, env);
    expect([...tasks.values()].every((t) => t.cache.status === 'MISS')).toBe(true);
    expect(tasks.size).toBe(13);
    first = digests(await readRecords(ws));
  });

  it('a no-change build is a cache hit for every layer', async () => {
    const { tasks } = await turboBuild(ws, env);
    for (const l of LAYERS) expect(tasks.get(l)!.cache.status, l).toBe('HIT');
  });

  it('--filter=layer-09 runs layer 09 and the layers below it, nothing above', async () => {
    const { tasks } = await turboBuild(ws, env, ['--filter=layer-09']);
    expect([...tasks.keys()].sort()).toEqual(LAYERS.slice(0, 9));
  });

  it("after a change to layer 09's list: 01–08 hit, 09 streams, 10–12 re-check without streaming", async () => {
    await appendFile(join(ws, 'layers', '09-pak5', 'pak5.txt'), 'tqdm\n');
    await commitAll(ws, 'layer 09: add tqdm');
    const { result, tasks } = await turboBuild(ws, env);
    for (const l of LAYERS.slice(0, 8)) expect(tasks.get(l)!.cache.status, l).toBe('HIT');
    for (const l of LAYERS.slice(8)) expect(tasks.get(l)!.cache.status, l).toBe('MISS');
    expect(taskLog(result.stdout, 'layer-09')).toMatch(/layer-09: streaming/);
    for (const l of LAYERS.slice(9)) {
      const log = taskLog(result.stdout, l);
      expect(log).toMatch(/no tar streamed/);
      expect(log).not.toMatch(/streaming/);
    }
    expect(taskLog(result.stdout, 'image')).toMatch(/image megapak-fixture:test sha256:/);
    const now = digests(await readRecords(ws));
    const changed = LAYERS.filter((l) => now[l] !== first[l]);
    expect(changed).toEqual(['layer-09']);
    const l09 = (await readRecords(ws))[8]!;
    expect(l09.paths.map((p) => p.path)).toEqual(expect.arrayContaining([expect.stringMatching(/-python3\.14-tqdm$/)]));
  });

  it('a package a higher layer also pulls in moves down: the higher delta shrinks', async () => {
    const before = (await readRecords(ws))[9]!;
    expect(before.paths.some((p) => p.path.endsWith('-python3.14-dlib'))).toBe(true);
    await appendFile(join(ws, 'layers', '09-pak5', 'pak5.txt'), 'dlib\n');
    await commitAll(ws, 'layer 09: add dlib, which layer 10 also lists');
    const { result, tasks } = await turboBuild(ws, env);
    expect(tasks.get('layer-10')!.cache.status).toBe('MISS');
    const [l09, l10] = (await readRecords(ws)).slice(8, 10);
    expect(l09!.paths.some((p) => p.path.endsWith('-python3.14-dlib'))).toBe(true);
    expect(l10!.paths.some((p) => p.path.endsWith('-python3.14-dlib'))).toBe(false);
    expect(l10!.paths.length).toBe(before.paths.length - 1);
    expect(l10!.digest).not.toBe(before.digest);
    // layer 10 still roots dlib: it is in its closure, shipped below.
    expect(l10!.roots.some((r) => r.endsWith('-python3.14-dlib'))).toBe(true);
    expect(taskLog(result.stdout, 'layer-10')).toMatch(/layer-10: streaming/);
  });

  it('changesets: a minor bump of layer 09 patches 10–12 and leaves 01–08 alone; the image carries the versions', async () => {
    await writeFile(join(ws, '.changeset', 'pak5-tqdm.md'), "---\n'layer-09': minor\n---\n\nAdd tqdm to pak5.\n");
    await commitAll(ws, 'changeset');
    const r = await run(join(REPO, 'node_modules', '.bin', 'changeset'), ['version'], { cwd: ws });
    expect(r.code, r.stderr).toBe(0);
    const version = async (folder: string) => JSON.parse(await readFile(join(ws, 'layers', folder, 'package.json'), 'utf8')).version;
    const folders = ['01-base', '02-cuda', '03-build-tools', '04-python', '05-gcc15', '06-torch', '07-pak3', '08-cupy', '09-pak5', '10-pak7', '11-attention', '12-app'];
    const versions = await Promise.all(folders.map(version));
    expect(versions).toEqual(['1.0.0', '1.0.0', '1.0.0', '1.0.0', '1.0.0', '1.0.0', '1.0.0', '1.0.0', '1.1.0', '1.0.1', '1.0.1', '1.0.1']);
    expect(await readFile(join(ws, 'layers', '09-pak5', 'CHANGELOG.md'), 'utf8')).toMatch(/## 1\.1\.0[\s\S]*Add tqdm to pak5\./);
    await commitAll(ws, 'version packages');
    const { tasks } = await turboBuild(ws, env);
    for (const l of LAYERS.slice(0, 8)) expect(tasks.get(l)!.cache.status, l).toBe('HIT');
    const config = JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${join(ws, 'out', 'oci')}:test`])).stdout);
    expect(config.history.map((h: { created_by: string }) => h.created_by).slice(7)).toEqual([
      'layer-08@1.0.0',
      'layer-09@1.1.0',
      'layer-10@1.0.1',
      'layer-11@1.0.1',
      'layer-12@1.0.1',
    ]);
  });
});
