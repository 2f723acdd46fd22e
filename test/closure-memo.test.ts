// A no-change build asks Nix for the stack's closure once per set of roots: the answer is
// remembered beside the blob store (tools/src/nix/closure-memo.ts). Nix is wrapped to log its calls.
import { appendFile, chmod, cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { megapakOk, run } from './helpers/cli.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';

describe('closure memo', () => {
  it('a no-change build makes no nix path-info call; changed roots are asked again and give the same records as a fresh cache', async () => {
    const stack = await copyFixtureStack();
    const cache = await tempDir('memo-cache');
    const bin = await tempDir('memo-bin');
    const log = join(bin, 'calls.log');
    const realNix = (await run('sh', ['-c', 'command -v nix'])).stdout.trim();
    await writeFile(join(bin, 'nix'), `#!/bin/sh\necho "$*" >> ${log}\nexec ${realNix} "$@"\n`);
    await chmod(join(bin, 'nix'), 0o755);
    const env = { MEGAPAK_CACHE_DIR: cache, MEGAPAK_COMPRESSION: 'none', PATH: `${bin}:${process.env.PATH}` };
    const build = (s: string, e: NodeJS.ProcessEnv = env) => megapakOk(['build', '--stack', s, '--oci', join(s, 'out'), '--no-sbom'], { env: e });
    const pathInfoCalls = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter((l) => l.includes('path-info')).length;

    await build(stack);
    const first = await pathInfoCalls();
    expect(first).toBeGreaterThan(0);
    const r = await build(stack);
    expect(r.stdout).toContain('12 layers, 0 streamed');
    expect(await pathInfoCalls()).toBe(first);

    // Layer 09's roots change: the closure is asked again, and the records equal those of a build with no memo at all.
    const edited = await copyFixtureStack();
    await cp(join(stack, 'layers'), join(edited, 'layers'), { recursive: true });
    await appendFile(join(edited, 'layers', '09-pak5', 'pak5.txt'), '\npillow\n');
    await build(edited);
    expect(await pathInfoCalls()).toBe(first + 1);
    const fresh = await copyFixtureStack(edited);
    await build(fresh, { ...env, MEGAPAK_CACHE_DIR: await tempDir('memo-fresh') });
    expect(await readRecords(edited)).toEqual(await readRecords(fresh));
  });
});
