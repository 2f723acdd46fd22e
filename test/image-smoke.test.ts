// scripts/image-smoke.py, the smoke test CI runs in the built image with its own Python. No image
// of the real stack can be built here (no nixpkgs, no network), so: (1) in a fixture image that
// megapak builds (test/fixtures/smoke-stack: Debian's python3 copied into the store with its
// libraries and loader, and fixture distributions), run in a chroot of the unpacked image with the
// image's Env, as CI runs it in the real one; (2) its checks one by one with Debian's python3 over
// fixture distributions in a temp directory: one that imports, one that fails, one whose import
// switches the GIL back on, and stand-ins of torch's cuDNN API and triton's libcuda_dirs with the
// shapes of the real ones. Debian's Python is not free-threaded, so the fixtures' sitecustomize
// gives `sys._is_gil_enabled` the behaviour of a 3.14t interpreter (off at start; on after an
// extension without Py_mod_gil, with CPython's warning): the GIL part is tested on that stand-in.
import { copyFile, cp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, megapakOk, run } from './helpers/cli.ts';
import { copyFixtureStack, tempDir } from './helpers/fixture.ts';

const SCRIPT = join(REPO, 'scripts', 'image-smoke.py');
// Debian's (scripts/setup.sh installs it): Nix's build users can read it, unlike an interpreter under /root.
const PYTHON = '/usr/bin/python3';

const SITE = join(REPO, 'test', 'fixtures', 'smoke-stack', 'site');
type Opts = { compile?: string; runtime?: number | null; withBad?: boolean; withNoFree?: boolean; gilAtStart?: boolean };

/**
 * The fixture image's site-packages (test/fixtures/smoke-stack/site) in a temp directory, changed as
 * `o` says: without the failing and the GIL-enabling distributions unless asked, another cuDNN for
 * torch's stand-in (version() is major*10000+minor*100+patch for cuDNN 9, as torch 2.10's), the GIL
 * on from the start.
 */
async function fixture(o: Opts = {}) {
  const site = join(await tempDir('smoke-site'), 'site-packages');
  await cp(SITE, site, { recursive: true });
  if (!o.withBad) for (const d of ['badpkg', 'badpkg-0.1.dist-info']) await rm(join(site, d), { recursive: true });
  if (!o.withNoFree) for (const d of ['nofree', 'nofree-3.0.dist-info']) await rm(join(site, d), { recursive: true });
  const [cmaj, cmin, cpat] = (o.compile ?? '9.15.1').split('.').map(Number);
  const runtime = o.runtime === undefined ? 92000 : o.runtime;
  const rt = runtime === null ? '(0, 0, 0)' : `(${Math.floor(runtime / 10000)}, ${Math.floor((runtime % 10000) / 100)}, ${runtime % 100})`;
  await writeFile(join(site, 'torch', '_C', '_cudnn.py'), `def getCompileVersion():\n    return (${cmaj}, ${cmin}, ${cpat})\n\n\ndef getRuntimeVersion():\n    return ${rt}\n`);
  await writeFile(join(site, 'torch', 'backends', 'cudnn', '__init__.py'), `def version():\n    return ${runtime === null ? 'None' : runtime}\n`);
  if (o.gilAtStart) {
    const custom = join(site, 'sitecustomize.py');
    await writeFile(custom, (await readFile(custom, 'utf8')).replace('_state = {"gil": False}', '_state = {"gil": True}'));
  }
  return site;
}

const smoke = (site: string, env: Record<string, string> = { TRITON_LIBCUDA_PATH: '/usr/lib/x86_64-linux-gnu' }, extra: string[] = []) =>
  run(PYTHON, [SCRIPT, '--path', site, '--require-free-threading', ...extra], { env: { PYTHONPATH: site, PYTHONNOUSERSITE: '1', ...env } });

describe('scripts/image-smoke.py in a fixture image with a real interpreter', () => {
  let rootfs: string;
  let env: string[];
  let python: string;
  beforeAll(async () => {
    const stack = await copyFixtureStack(join(REPO, 'test', 'fixtures', 'smoke-stack'));
    const out = await tempDir('smoke-image');
    // --no-sbom: umoci 0.4.7 cannot pick the image out of a tag that also names the SBOMs (docs/oci-layout.md).
    await megapakOk(['build', '--stack', stack, '--oci', join(out, 'oci'), '--no-sbom'], {
      env: { MEGAPAK_CACHE_DIR: join(out, 'cache'), MEGAPAK_SMOKE_PYTHON: PYTHON, NIX_CONFIG: 'substituters =' },
    });
    const unpack = await run('umoci', ['unpack', '--image', `${join(out, 'oci')}:test`, join(out, 'bundle')]);
    expect(unpack.code, unpack.stderr).toBe(0);
    rootfs = join(out, 'bundle', 'rootfs');
    const config = JSON.parse((await run('skopeo', ['inspect', '--config', `oci:${join(out, 'oci')}:test`])).stdout).config;
    env = config.Env;
    python = config.Entrypoint[0];
    await copyFile(SCRIPT, join(rootfs, 'megapak-smoke.py'));
  }, 300_000);
  // As image-smoke.sh runs it: the image's python from its PATH, the image's Env, nothing else of the host.
  const inImage = (args: string[], envOverride?: string[]) =>
    run('bash', [
      '-c',
      `env -i ${(envOverride ?? env).map((e) => `'${e}'`).join(' ')} "$(command -v chroot || echo /usr/sbin/chroot)" ${rootfs} ${python} /megapak-smoke.py --require-free-threading --json /smoke.json ${args.join(' ')}`,
    ]);

  it("runs with the image's own interpreter (a store path), without ldconfig, and names the import that fails and the one that re-enables the GIL", async () => {
    await expect(stat(join(rootfs, 'sbin', 'ldconfig'))).rejects.toThrow(/ENOENT/);
    expect(python).toMatch(/^\/nix\/store\/[0-9a-z]{32}-python3-host\/bin\/python3$/);
    const r = await inImage([]);
    expect(r.code, r.stdout + r.stderr).toBe(1);
    expect(r.stderr).toContain('megapak smoke: 2 failure(s):');
    expect(r.stderr).toContain('import badpkg (badpkg 0.1): ImportError: libfoo.so.1: cannot open shared object file');
    expect(r.stderr).toContain('GIL: importing nofree (nofree 3.0) re-enabled the GIL');
    expect(r.stdout).toContain('torch: torch=2.10.0+cu130, cuda=13.0, cudnn=92000, cudnnCompile=9.15.1, cudnnRuntime=9.20.0');
    expect(r.stdout).toContain("libcudaDirs=['/usr/lib/x86_64-linux-gnu']");
    const report = JSON.parse(await readFile(join(rootfs, 'smoke.json'), 'utf8'));
    expect(report.executable).toBe(python);
    expect(Object.keys(report.distributions).sort()).toEqual(['badpkg', 'goodpkg', 'nofree', 'single-module', 'torch', 'triton']);
    expect(report.distributions['single-module'].modules.map((m: { module: string }) => m.module)).toEqual(['single_module']);
  });

  it('passes once those two are skipped, and fails when the image config lacks TRITON_LIBCUDA_PATH', async () => {
    const ok = await inImage(['--skip', 'badpkg', '--skip', 'nofree']);
    expect(ok.code, ok.stdout + ok.stderr).toBe(0);
    expect(ok.stdout).toContain('megapak smoke: passed');
    const noVar = await inImage(
      ['--skip', 'badpkg', '--skip', 'nofree'],
      env.filter((e) => !e.startsWith('TRITON_LIBCUDA_PATH=')),
    );
    expect(noVar.code).toBe(1);
    expect(noVar.stderr).toContain('triton: TRITON_LIBCUDA_PATH is not set');
  });
});

describe('scripts/image-smoke.py, check by check', () => {
  it('passes when every module imports, the GIL stays off, cuDNN satisfies torch and triton needs no ldconfig; prints versions', async () => {
    const site = await fixture();
    const r = await smoke(site);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('torch: torch=2.10.0+cu130, cuda=13.0, cudnn=92000, cudnnCompile=9.15.1, cudnnRuntime=9.20.0');
    expect(r.stdout).toContain("triton: triton=3.6.0, TRITON_LIBCUDA_PATH=/usr/lib/x86_64-linux-gnu, libcudaDirs=['/usr/lib/x86_64-linux-gnu']");
    // single-module: a module file at the top of site-packages, found through RECORD (its script in ../../bin is not a module).
    expect(r.stdout).toMatch(/4 distributions, 4 top-level modules imported/);
    for (const d of ['goodpkg 1.0', 'single-module 2.0', 'torch 2.10.0+cu130', 'triton 3.6.0']) expect(r.stdout).toContain(d);
    expect(r.stdout).toContain('megapak smoke: passed');
  });

  it('fails naming a module that does not import and one that re-enables the GIL', async () => {
    const site = await fixture({ withBad: true, withNoFree: true });
    const json = join(site, 'report.json');
    const r = await smoke(site, undefined, ['--json', json]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('megapak smoke: 2 failure(s):');
    expect(r.stderr).toContain('import badpkg (badpkg 0.1): ImportError: libfoo.so.1: cannot open shared object file');
    expect(r.stderr).toContain('GIL: importing nofree (nofree 3.0) re-enabled the GIL');
    // The others still pass in their own interpreters: the GIL switched on by nofree is not blamed on them.
    const report = JSON.parse(await readFile(json, 'utf8'));
    expect(report.gilReenabledBy).toEqual(['nofree (nofree 3.0)']);
    expect(report.distributions.nofree.modules[0].gilWarnings[0]).toMatch(/has been enabled to load module 'nofree\._ext'/);
    expect(report.distributions.goodpkg.modules[0]).toMatchObject({ error: null, gilBefore: false, gilAfter: false });
  });

  it("fails when the runtime cuDNN is older in minor than torch's compile-time one, or missing", async () => {
    const old = await smoke(await fixture({ runtime: 91300 }));
    expect(old.code).toBe(1);
    expect(old.stderr).toContain("cuDNN: runtime 9.13.0 does not satisfy torch's rule for the 9.15.1 it was compiled against (same major, minor at least)");
    const none = await smoke(await fixture({ runtime: null }));
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('cuDNN: torch.backends.cudnn.version() is None: torch found no cuDNN');
    // A newer minor is fine; another major is not.
    expect((await smoke(await fixture({ compile: '9.15.1', runtime: 91600 }))).code).toBe(0);
    expect((await smoke(await fixture({ compile: '8.9.7', runtime: 92000 }))).stderr).toContain('cuDNN: runtime 9.20.0 does not satisfy');
  });

  it('fails when TRITON_LIBCUDA_PATH is unset (no ldconfig in the image), and when the GIL is on from the start', async () => {
    const site = await fixture();
    const r = await smoke(site, {});
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('triton: TRITON_LIBCUDA_PATH is not set (nix/config.nix sets it: the image has no ldconfig)');
    const gil = await smoke(await fixture({ gilAtStart: true }));
    expect(gil.code).toBe(1);
    expect(gil.stderr).toMatch(/python: 3\.\d+\.\d+ is not a free-threaded build/);
  });
});
