// A full disk (a 40 MB tmpfs) at each write site, a read-only one and a folder without permission: one line naming the path
// and the bytes needed and free, exit 1, no temp file left, the blob store and the layout
// consistent; with room again, a re-run gives the clean build's digests. And too few open
// files (ulimit -n): one line saying which limit to raise.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chown, mkdir, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { megapak, megapakOk, REPO, run, type RunResult } from './helpers/cli.ts';
import { copyFixtureStack, tempDir } from './helpers/fixture.ts';
import { mountTmpfs, type Tmpfs } from './helpers/tmpfs.ts';

// A 48 MiB "CUDA" file of random bytes: its gzip blob cannot fit in 40 MB.
const env = (extra: NodeJS.ProcessEnv = {}) => ({ MEGAPAK_FIXTURE_BIG_MIB: '48', MEGAPAK_COMPRESSION: 'gzip', ...extra });
const imageDigest = (stdout: string) => /image \S+ (sha256:[0-9a-f]{64})/.exec(stdout)![1]!;

/** Every file under `dir`, recursively. */
async function files(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** No temp file left; every blob's bytes are its name's. */
async function expectConsistent(blobsDir: string): Promise<void> {
  const all = await files(blobsDir);
  expect(all.filter((f) => f.includes('.tmp-'))).toEqual([]);
  for (const f of all)
    expect(
      `${createHash('sha256')
        .update(await readFile(f))
        .digest('hex')}`,
      f,
    ).toBe(f.split('/').pop());
}

/** Failed with exit 1, and the last line is ours: no stack trace, nothing from Node. */
function expectOneLine(r: RunResult, line: RegExp): void {
  expect(r.code, r.stderr).toBe(1);
  expect(r.stderr.trimEnd().split('\n').pop()).toMatch(line);
  expect(r.stderr).not.toMatch(/\n\s+at |Node\.js v|Uncaught|triggerUncaughtException/);
}

describe('a full or read-only disk at each write site', () => {
  let cache: string;
  let clean: string;
  let fs: Tmpfs | undefined;

  beforeAll(async () => {
    cache = await tempDir('full-cache');
    const r = await megapakOk(['build', '--stack', await copyFixtureStack(), '--oci', join(cache, 'oci')], { env: env({ MEGAPAK_CACHE_DIR: cache }) });
    clean = imageDigest(r.stdout);
  });
  afterEach(async () => {
    await fs?.unmount();
    fs = undefined;
  });

  it('the blob store ($MEGAPAK_CACHE_DIR on a 40 MB tmpfs): the gzip threads fail into one line', async () => {
    fs = await mountTmpfs('40M');
    const stack = await copyFixtureStack();
    const r = await megapak(['build', '--stack', stack, '--oci', join(await tempDir('full-oci'), 'oci')], { env: env({ MEGAPAK_CACHE_DIR: fs.dir }) });
    expectOneLine(
      r,
      new RegExp(`^megapak: layer-02: no space left on device: write ${fs.dir}/blobs/sha256 \\(needs about 50\\.3 MB, [\\d.]+ MB written, then removed, [\\d.]+ MB free there\\)$`),
    );
    await expectConsistent(join(fs.dir, 'blobs'));
    expect(existsSync(join(stack, 'layers', '02-cuda', 'dist', 'layer.json'))).toBe(false);
    await fs.remount('size=200M');
    expect(imageDigest((await megapakOk(['build', '--stack', stack, '--oci', join(fs.dir, 'oci')], { env: env({ MEGAPAK_CACHE_DIR: fs.dir }) })).stdout)).toBe(clean);
  });

  it('the OCI layout (--oci on a 40 MB tmpfs: blobs are copied there)', async () => {
    fs = await mountTmpfs('40M');
    const stack = await copyFixtureStack();
    const layout = join(fs.dir, 'oci');
    const r = await megapak(['build', '--stack', stack, '--oci', layout], { env: env({ MEGAPAK_CACHE_DIR: cache }) });
    expectOneLine(r, new RegExp(`^megapak: no space left on device: copyfile ${layout}/blobs/sha256/[0-9a-f]{64} \\(needs about [\\d.]+ MB, [\\d.]+ MB free there\\)$`));
    expect(existsSync(join(layout, 'index.json'))).toBe(false); // no manifest naming blobs that are not there
    await expectConsistent(join(layout, 'blobs'));
    await fs.remount('size=200M');
    expect(imageDigest((await megapakOk(['build', '--stack', stack, '--oci', layout], { env: env({ MEGAPAK_CACHE_DIR: cache }) })).stdout)).toBe(clean);
    expect((await run('skopeo', ['inspect', `oci:${layout}`])).code).toBe(0); // tag-less, as a user would
  });

  it('the docker archive (--docker-archive on a 40 MB tmpfs)', async () => {
    fs = await mountTmpfs('40M');
    const archive = join(fs.dir, 'image.tar');
    const r = await megapak(['image', '--stack', await copyFixtureStack(), '--oci', join(await tempDir('full-oci'), 'oci'), '--docker-archive', archive], {
      env: env({ MEGAPAK_CACHE_DIR: cache }),
    });
    expectOneLine(r, new RegExp(`^megapak: no space left on device: write ${archive} \\(needs about [\\d.]+ MB, [\\d.]+ MB written, then removed, [\\d.]+ MB free there\\)$`));
    expect(await files(fs.dir)).toEqual([]);
  });

  it('the layer records (the stack on a full tmpfs)', async () => {
    fs = await mountTmpfs('40M');
    const stack = await copyFixtureStack();
    await run('cp', ['-r', stack, join(fs.dir, 'stack')]);
    await run('dd', ['if=/dev/zero', `of=${join(fs.dir, 'filler')}`, 'bs=1M']); // fills the tmpfs (dd exits 1)
    const r = await megapak(['build', '--stack', join(fs.dir, 'stack'), '--oci', join(await tempDir('full-oci'), 'oci')], { env: env({ MEGAPAK_CACHE_DIR: cache }) });
    expectOneLine(
      r,
      new RegExp(
        `^megapak: layer-01: no space left on device: write ${fs.dir}/stack/layers/01-base/dist/layer\\.json \\(needs about \\d[^,]*, 0 B written, then removed, 0 B free there\\)$`,
      ),
    );
    expect((await files(join(fs.dir, 'stack', 'layers'))).filter((f) => f.includes('/dist/'))).toEqual([]);
    await run('rm', [join(fs.dir, 'filler')]);
    const again = await megapakOk(['build', '--stack', join(fs.dir, 'stack'), '--oci', join(await tempDir('full-oci'), 'oci')], { env: env({ MEGAPAK_CACHE_DIR: cache }) });
    expect(imageDigest(again.stdout)).toBe(clean);
  });

  it('no permission on the OCI layout folder: one line naming it', async () => {
    const dir = join(await tempDir('eacces'), 'theirs');
    await mkdir(dir, { mode: 0o755 });
    await chown(dir, 65534, 65534);
    // Root without CAP_DAC_OVERRIDE: a folder another user owns is as closed to it as to anyone.
    const noOverride = ['--inh-caps=-dac_override,-dac_read_search', '--bounding-set=-dac_override,-dac_read_search', '--'];
    const r = await run('setpriv', [...noOverride, process.execPath, join(REPO, 'tools/bin/megapak.js'), 'build', '--stack', await copyFixtureStack(), '--oci', join(dir, 'oci')], {
      env: env({ MEGAPAK_CACHE_DIR: cache }),
    });
    expectOneLine(r, new RegExp(`^megapak: permission denied: mkdir ${dir}/oci$`));
  });

  it('a read-only blob store: one line naming it', async () => {
    fs = await mountTmpfs('40M');
    await fs.remount('ro');
    const r = await megapak(['build', '--stack', await copyFixtureStack(), '--oci', join(await tempDir('full-oci'), 'oci')], { env: env({ MEGAPAK_CACHE_DIR: fs.dir }) });
    expectOneLine(r, new RegExp(`^megapak: layer-01: read-only file system: mkdir ${fs.dir}/blobs/sha256$`));
  });
});

/** The newest modification time under `dir` (what tools/bin/megapak.js compares the bundle with). */
function newestSource(dir: string): number {
  return Math.max(
    ...readdirSync(dir, { withFileTypes: true }).map((e) => (e.isDirectory() ? newestSource(join(e.parentPath, e.name)) : statSync(join(e.parentPath, e.name)).mtimeMs)),
  );
}

describe('process limits: too many open files, a file size limit', () => {
  beforeAll(async () => {
    // Only the bundled CLI starts under a low limit: through tsx, Node runs out of descriptors
    // while loading modules, before megapak runs. setup.sh bundles; a source edited since needs it again.
    const bundle = join(REPO, 'tools', 'dist', 'megapak.mjs');
    if (existsSync(bundle) && statSync(bundle).mtimeMs >= newestSource(join(REPO, 'tools', 'src'))) return;
    const r = await run('pnpm', ['-s', '-F', '@megapak/tools', 'bundle'], { cwd: REPO });
    if (r.code !== 0) throw new Error(`bundle: ${r.stderr}`);
  });

  it('ulimit -n 24: one line naming the limit and the call that hit it, exit 1, no blob, record or layout left', async () => {
    const stack = await copyFixtureStack();
    const cache = await tempDir('emfile-cache');
    const oci = join(await tempDir('emfile-oci'), 'oci');
    const cli = [process.execPath, join(REPO, 'tools/bin/megapak.js'), 'build', '--stack', stack, '--oci', oci].map((a) => `'${a}'`).join(' ');
    const r = await run('sh', ['-c', `ulimit -n 24 && exec ${cli}`], { env: env({ MEGAPAK_CACHE_DIR: cache }) });
    // Where the limit bites varies from run to run (a worker thread, a spawn, an open, a scandir): each is this line.
    expectOneLine(r, /^megapak: (layer-\d\d: )?too many open files \(EMFILE; raise the limit: ulimit -n\): (starting a worker thread|[a-z]+ \S+)$/);
    expect((await files(join(stack, 'layers'))).filter((f) => f.includes('/dist/'))).toEqual([]);
    expect(await files(cache)).toEqual([]);
    expect(existsSync(oci)).toBe(false);
  });

  it('ulimit -f (20 MiB, a 48 MiB blob to write): EFBIG in one line naming the blob store and the bytes, exit 1, no temp file; a re-run without the limit is clean', async () => {
    const stack = await copyFixtureStack();
    const built = await megapakOk(['build', '--stack', stack, '--oci', join(await tempDir('efbig-oci'), 'oci')], { env: env({ MEGAPAK_CACHE_DIR: await tempDir('efbig-first') }) });
    // Store paths built first, without the limit: under it Nix's own build of the 48 MiB file would fail instead.
    const cache = await tempDir('efbig-cache');
    const oci = join(await tempDir('efbig-oci'), 'oci');
    const cli = [process.execPath, join(REPO, 'tools/bin/megapak.js'), 'build', '--stack', stack, '--oci', oci].map((a) => `'${a}'`).join(' ');
    const r = await run('sh', ['-c', `ulimit -f 40960 && exec ${cli}`], { env: env({ MEGAPAK_CACHE_DIR: cache }) });
    expectOneLine(
      r,
      new RegExp(
        `^megapak: layer-02: file too large \\(EFBIG: over the file system's or this process's limit, ulimit -f\\): write ${cache}/blobs/sha256 \\(needs about [\\d.]+ MB, 21\\.0 MB written, then removed\\)$`,
      ),
    );
    await expectConsistent(join(cache, 'blobs'));
    expect(existsSync(join(oci, 'index.json'))).toBe(false);
    expect(imageDigest((await megapakOk(['build', '--stack', stack, '--oci', oci], { env: env({ MEGAPAK_CACHE_DIR: cache }) })).stdout)).toBe(imageDigest(built.stdout));
  });
});
