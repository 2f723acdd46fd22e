// A fresh CI runner: layer records from elsewhere, an empty blob store, none of the stack's
// store paths, and a Nix binary cache (file://, loopback-free) as the only substituter.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { megapakOk, run } from './helpers/cli.ts';
import { readRecords, tempDir } from './helpers/fixture.ts';
import { deleteSaltedPaths, onlySubstituter, pathOrigins, pushToFileCache, saltedStack, shippedPaths } from './helpers/stateless.ts';

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
