// A fresh CI runner: layer records from elsewhere, an empty blob store, none of the stack's
// store paths, and a Nix binary cache (file://) as the only substituter.
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LayerRecord } from '../tools/src/model/vocabulary.ts';
import { megapak, megapakOk, run } from './helpers/cli.ts';
import { readRecords, tempDir } from './helpers/fixture.ts';
import { startRegistry, type Registry } from './helpers/registry.ts';
import { startTurboRemoteCache, type Server } from './helpers/servers.ts';
import { blobUploads, deleteSaltedPaths, onlySubstituter, pathOrigins, pushToFileCache, requestsSince, saltedStack, shippedPaths, uploadedDigests } from './helpers/stateless.ts';
import { commitAll, makeFixtureWorkspace, turboBuild } from './helpers/workspace.ts';

describe('a stateless runner', () => {
  let stack: string;
  let salt: string;
  let nixCache: string;
  let paths: string[] = [];

  beforeAll(async () => {
    ({ dir: stack, salt } = await saltedStack());
    await megapakOk(['build', '--stack', stack], { env: { MEGAPAK_CACHE_DIR: await tempDir('stateless-blobs') } });
    paths = await shippedPaths(stack);
    nixCache = join(await tempDir('nix-cache'), 'cache');
  });
  afterAll(async () => {
    // Leave none of this test's salted paths behind in the shared store.
    const present = paths.filter((p) => existsSync(p));
    if (present.length) await deleteSaltedPaths(present, salt);
  });

  it("the image workflow's cache push puts every shipped path into a binary cache, from which a runner without them substitutes them", async () => {
    expect(paths.length).toBeGreaterThan(20);
    const out = await pushToFileCache(stack, nixCache);
    expect(out).toContain(`copying ${paths.length} store paths`);
    await deleteSaltedPaths(paths, salt);
    expect(paths.filter((p) => existsSync(p))).toEqual([]);

    const r = await run('nix-store', ['--realise', ...paths], { env: onlySubstituter(nixCache) });
    expect(r.code, r.stderr).toBe(0);
    const origins = await pathOrigins(paths);
    expect([...new Set(origins.values())]).toEqual(['substituted']);
    // The same content as the machine that built them recorded.
    const info = JSON.parse((await run('nix', ['--extra-experimental-features', 'nix-command', 'path-info', '--json', ...paths])).stdout);
    const narHash = new Map((Array.isArray(info) ? info.map((e: { path: string }) => [e.path, e]) : Object.entries(info)) as [string, { narHash: string }][]);
    for (const rec of await readRecords(stack)) for (const p of rec.paths) expect(narHash.get(p.path)!.narHash, p.path).toBe(p.narHash);
  });

  it('refuses to delete a path that is not built from the salted busybox', async () => {
    const unsalted = await saltedStack(undefined, `other-${salt}`);
    await expect(deleteSaltedPaths([...paths.slice(0, 1), `/nix/store/${'0'.repeat(32)}-not-ours`], salt)).rejects.toThrow(/refusing to delete anything/);
    await expect(deleteSaltedPaths(paths.slice(1, 3), unsalted.salt)).rejects.toThrow(/no busybox built with salt/);
    expect(paths.slice(0, 3).every((p) => existsSync(p))).toBe(true);
  });
});

// The scenario: machine A builds with Turborepo (remote cache) and pushes; its store
// paths go to a binary cache and are deleted here; clone B is the fresh runner.
describe('a fresh CI runner pushing with the layer records from a Turborepo remote cache', () => {
  const TOKEN = 'stateless-token';
  let turboCache: Server;
  let reg: Registry;
  let salt: string;
  let wsA: string;
  let wsB: string;
  let nixCache: string;
  let envA: NodeJS.ProcessEnv;
  let envB: NodeJS.ProcessEnv;
  let recordsA: LayerRecord[];
  let manifestA: string;
  let sbomA: string;
  let ref: string;
  const pathsToClean = new Set<string>();

  beforeAll(async () => {
    let dir: string;
    ({ dir, salt } = await saltedStack());
    wsA = await makeFixtureWorkspace(dir);
    turboCache = await startTurboRemoteCache(await tempDir('turbo-remote'), TOKEN);
    reg = await startRegistry({ storage: join(await tempDir('registry'), 'data') });
    ref = `${reg.host}/megapak/stateless:ci`;
    const remote = { TURBO_API: turboCache.url, TURBO_TOKEN: TOKEN, TURBO_TEAM: 'megapak' };
    envA = { ...remote, MEGAPAK_CACHE_DIR: await tempDir('blobs-a') };
    const a = await turboBuild(wsA, envA, ['--filter=layer-*']);
    expect(LAYERS.map((l) => a.tasks.get(l)!.cache.status)).toEqual(LAYERS.map(() => 'MISS'));
    manifestA = digestOf((await megapakOk(['push', '--no-sbom', '--stack', wsA, '--plain-http', ref], { env: envA })).stdout);
    recordsA = await readRecords(wsA);
    sbomA = (await megapakOk(['sbom', '--stack', wsA], { env: envA })).stdout;
    for (const p of await shippedPaths(wsA)) pathsToClean.add(p);

    nixCache = join(await tempDir('nix-cache'), 'cache');
    await pushToFileCache(wsA, nixCache);
    await deleteSaltedPaths([...pathsToClean], salt);

    wsB = join(await tempDir('runner-b'), 'ws');
    expect((await run('git', ['clone', '-q', wsA, wsB])).code).toBe(0);
    expect((await run('pnpm', ['install', '--offline', '--reporter=silent'], { cwd: wsB })).code).toBe(0);
    envB = { ...remote, MEGAPAK_CACHE_DIR: await tempDir('blobs-b'), ...onlySubstituter(nixCache) };
  });
  afterAll(async () => {
    await Promise.all([turboCache?.stop(), reg?.stop()]);
    if (wsB) for (const r of await readRecords(wsB).catch(() => [])) for (const p of [...r.roots, ...r.paths.map((x) => x.path)]) pathsToClean.add(p);
    const present = [...pathsToClean].filter((p) => existsSync(p));
    if (present.length) await deleteSaltedPaths(present, salt);
  });

  it('(a) nothing changed: HEAD requests and the manifest PUT only, no blob made, no store path read', async () => {
    const b = await turboBuild(wsB, envB, ['--filter=layer-*']);
    for (const l of LAYERS) expect(b.tasks.get(l)!.cache, l).toMatchObject({ status: 'HIT', source: 'REMOTE' });
    const mark = reg.log().length;
    const r = await megapakOk(['push', '--no-sbom', '--stack', wsB, '--plain-http', ref], { env: envB });
    expect(digestOf(r.stdout)).toBe(manifestA);
    const reqs = requestsSince(reg, mark);
    // Only the push-access check, before anything else: one upload session opened and cancelled.
    expect(blobUploads(reqs).map((q) => q.method)).toEqual(['POST', 'DELETE']);
    expect(reqs.filter((q) => q.method !== 'HEAD' && q.method !== 'GET' && !(q.method === 'PUT' && q.path.includes('/manifests/')) && !blobUploads(reqs).includes(q))).toEqual([]);
    expect(reqs.filter((q) => q.method === 'HEAD' && q.path.includes('/blobs/sha256:'))).toHaveLength(13);
    expect(await blobFiles(envB.MEGAPAK_CACHE_DIR!)).toEqual([]);
    expect([...pathsToClean].filter((p) => existsSync(p))).toEqual([]);
  });

  it('the SBOM from the restored records, none of the store paths here, is the one machine A made', async () => {
    const r = await megapakOk(['sbom', '--stack', wsB], { env: envB });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(sbomA);
    expect([...pathsToClean].filter((p) => existsSync(p))).toEqual([]);
  });

  it('to a registry without the blobs: each is made again from store paths substituted from the binary cache, and matches its record', async () => {
    const empty = await startRegistry({ storage: join(await tempDir('registry-empty'), 'data') });
    try {
      const r = await megapakOk(['push', '--no-sbom', '--stack', wsB, '--plain-http', `${empty.host}/megapak/stateless:ci`], { env: envB });
      expect(digestOf(r.stdout)).toBe(manifestA);
      expect(uploadedDigests(requestsSince(empty, 0))).toHaveLength(13);
      for (const l of LAYERS) expect(r.stderr, l).toMatch(new RegExp(`${l}: \\d+ store path\\(s\\) of the blob are not in this machine's Nix store; realising them`));
      expect(r.stderr).not.toContain('building the layer');
      const present = [...pathsToClean].filter((p) => existsSync(p));
      expect(present).toHaveLength(pathsToClean.size);
      expect(new Set((await pathOrigins(present)).values())).toEqual(new Set(['substituted']));
      await deleteSaltedPaths(present, salt); // a fresh runner again for (b)
    } finally {
      await empty.stop();
    }
  });

  it('(b) one layer changed: turbo rebuilds it from the binary cache; only its blob, any above that changed, and the config are uploaded', async () => {
    const list = join(wsB, 'layers', '09-pak5', 'pak5.txt');
    await writeFile(list, `${await readFile(list, 'utf8')}stateless-extra\n`);
    await commitAll(wsB, 'layer 09: one more package');
    const b = await turboBuild(wsB, envB, ['--filter=layer-*']);
    expect(LAYERS.map((l) => b.tasks.get(l)!.cache.status)).toEqual([...Array(8).fill('HIT'), ...Array(4).fill('MISS')]);
    const recordsB = await readRecords(wsB);
    const changed = recordsB.filter((r, i) => r.digest !== recordsA[i]!.digest);
    // Layers 10–12 have the same delta, so the same digest: only layer 09's blob is new.
    expect(changed.map((r) => r.name)).toEqual(['layer-09']);

    const mark = reg.log().length;
    const r = await megapakOk(['push', '--no-sbom', '--stack', wsB, '--plain-http', ref], { env: envB });
    const config = await configDigest(reg, digestOf(r.stdout));
    expect(uploadedDigests(requestsSince(reg, mark)).sort()).toEqual([...changed.map((c) => c.digest!), config].sort());

    // What layer 09's new package needed (python, libstdcxx, … from lower layers) came from the
    // binary cache; only the new package itself was built here.
    const extra = recordsB[8]!.paths.find((p) => p.path.endsWith('-python3.14-stateless-extra'))!;
    expect(extra).toBeDefined();
    const restored = [...pathsToClean].filter((p) => existsSync(p));
    expect(restored.length).toBeGreaterThan(0);
    const origins = await pathOrigins([...restored, extra.path]);
    expect(origins.get(extra.path)).toBe('built');
    for (const p of restored) expect(origins.get(p), p).toBe('substituted');
  });

  it('a path in no binary cache that nothing builds: one line naming the layer and the path, no manifest pushed', async () => {
    const fresh = await startRegistry({ storage: join(await tempDir('registry-fresh'), 'data') });
    let original: string | undefined;
    const file12 = join(wsB, 'layers', '12-app', 'dist', 'layer.json');
    const push = async () =>
      megapak(['push', '--stack', wsB, '--plain-http', `${fresh.host}/megapak/stateless:ci`], { env: { ...envB, MEGAPAK_CACHE_DIR: await tempDir('blobs-c') } });
    try {
      const file = join(wsB, 'layers', '12-app', 'dist', 'layer.json');
      original = await readFile(file, 'utf8');
      const record = JSON.parse(original);
      const gone = `${record.storeDir}/${'0'.repeat(32)}-in-no-cache`;
      // vim: a path of layer 12 that the image config does not name (that check comes first).
      record.paths.find((p: { path: string }) => p.path.endsWith('-vim')).path = gone;
      await writeFile(file, JSON.stringify(record));
      // The layer builds, but not that path.
      const r = await push();
      expect(r.code).toBe(1);
      expect(r.stderr.trimEnd().split('\n').pop()).toBe(
        `megapak: layer-12: store path ${gone} is in no binary cache and building the layer did not make it; no manifest was pushed`,
      );
      // layer.nix changed (to a derivation that does not build): the record is stale, so the push
      // rebuilds the layer, and Nix's failure names it.
      await writeFile(
        join(wsB, 'layers', '12-app', 'layer.nix'),
        `{ pkgs }: [ (derivation { name = "cannot-build-${salt}"; system = builtins.currentSystem; builder = "/bin/busybox"; args = [ "sh" "-c" "exit 3" ]; }) ]\n`,
      );
      const r2 = await push();
      expect(r2.code).toBe(1);
      expect(r2.stderr).toContain('stale: layer-12 (roots changed: layer.nix or nix/); building from layer-12 up');
      expect(r2.stderr).toContain(`megapak: layer-12: nix-build of ${join(wsB, 'layers', '12-app', 'layer.nix')} failed:`);
      expect(r2.stderr).toContain(`cannot-build-${salt}`);
      const reqs = requestsSince(fresh, 0);
      // The first push uploaded the blobs made before layer 12's failed (each goes up as soon as
      // it is made; the next push skips them): never layer 12's, nor the config, nor a manifest.
      // The second stopped at the rebuild: only its access check (a session opened and cancelled).
      expect(uploadedDigests(reqs)).not.toContain(record.digest);
      expect(uploadedDigests(reqs).length).toBeGreaterThan(0);
      expect(
        blobUploads(reqs)
          .slice(-2)
          .map((q) => q.method),
      ).toEqual(['POST', 'DELETE']);
      expect(reqs.filter((q) => q.path.includes('/manifests/'))).toEqual([]);
    } finally {
      await fresh.stop();
      // The failed rebuild removed layer 12's record; afterAll finds the paths to delete in it.
      if (original) await writeFile(file12, original);
    }
  });
});

const LAYERS = Array.from({ length: 12 }, (_, i) => `layer-${String(i + 1).padStart(2, '0')}`);
const digestOf = (pushStdout: string) => /pushed \S+ (sha256:[0-9a-f]{64})/.exec(pushStdout)![1]!;

async function blobFiles(cacheDir: string): Promise<string[]> {
  const dir = join(cacheDir, 'blobs', 'sha256');
  return existsSync(dir) ? readdir(dir) : [];
}

/** The config digest of a manifest the registry holds. */
async function configDigest(reg: Registry, manifest: string): Promise<string> {
  const res = await fetch(`http://${reg.host}/v2/megapak/stateless/manifests/${manifest}`, {
    headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    signal: AbortSignal.timeout(10_000),
  });
  return ((await res.json()) as { config: { digest: string } }).config.digest;
}
