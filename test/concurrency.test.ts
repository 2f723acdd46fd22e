// Two builds sharing one blob store, and a build interrupted mid-stream.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { megapakOk, REPO } from './helpers/cli.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';

describe('blob store under concurrency and interruption', () => {
  it('two builds at once into one blob store both succeed with the same digests', async () => {
    const [a, b] = [await copyFixtureStack(), await copyFixtureStack()];
    const cache = await tempDir('cache-shared');
    const env = { MEGAPAK_CACHE_DIR: cache };
    await Promise.all([megapakOk(['build', '--stack', a], { env }), megapakOk(['build', '--stack', b], { env })]);
    expect((await readRecords(a)).map((r) => r.digest)).toEqual((await readRecords(b)).map((r) => r.digest));
    const files = await readdir(join(cache, 'blobs', 'sha256'));
    expect(files.filter((f) => f.startsWith('.'))).toEqual([]);
    expect(files).toHaveLength(12);
  });

  it('SIGINT while a layer streams leaves no temp blob and no dist/layer.json for that layer', async () => {
    const stack = await copyFixtureStack();
    const cache = await tempDir('cache-int');
    const env = { ...process.env, MEGAPAK_CACHE_DIR: cache, MEGAPAK_FIXTURE_BIG_MIB: '300' };
    const child = spawn(process.execPath, [join(REPO, 'tools/bin/megapak.js'), 'build', '--stack', stack, '--compression', 'gzip'], { env });
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`layer-02 never started streaming:\n${stderr}`)), 240_000);
      child.stderr.on('data', (b) => {
        stderr += b;
        if (/layer-02: streaming/.test(stderr)) {
          clearTimeout(timer);
          setTimeout(resolve, 300);
        }
      });
    });
    child.kill('SIGINT');
    expect(await exited).toBe(130);
    const files = await readdir(join(cache, 'blobs', 'sha256'));
    expect(files.filter((f) => f.startsWith('.'))).toEqual([]);
    expect(files).toHaveLength(1); // layer-01 only
    expect(existsSync(join(stack, 'layers', '01-base', 'dist', 'layer.json'))).toBe(true);
    expect(existsSync(join(stack, 'layers', '02-cuda', 'dist', 'layer.json'))).toBe(false);
  });
});
