// scripts/image-smoke.py, the smoke test CI runs in the built image with its own Python, run here
// with this machine's python3 (no image of the real stack can be built here: no nixpkgs, no
// network) over fixture distributions in a temp directory: one that imports, one that fails,
// one whose import switches the GIL back on, and stand-ins of torch's cuDNN API and triton's
// libcuda_dirs with the shapes of the real ones. This machine's Python is not free-threaded, so
// the fixture's sitecustomize gives `sys._is_gil_enabled` the behaviour of a 3.14t interpreter
// (off at start; on after an extension without Py_mod_gil, with CPython's warning).
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, run } from './helpers/cli.ts';
import { tempDir } from './helpers/fixture.ts';

const SCRIPT = join(REPO, 'scripts', 'image-smoke.py');

/** A distribution in `site`: its dist-info (METADATA, RECORD) and its modules. */
async function dist(site: string, name: string, version: string, files: Record<string, string>) {
  const info = join(site, `${name}-${version}.dist-info`);
  await mkdir(info, { recursive: true });
  await writeFile(join(info, 'METADATA'), `Metadata-Version: 2.1\nName: ${name}\nVersion: ${version}\n`);
  const record = [...Object.keys(files), `${name}-${version}.dist-info/METADATA`, `${name}-${version}.dist-info/RECORD`].map((f) => `${f},,`).join('\n');
  await writeFile(join(info, 'RECORD'), record + '\n');
  for (const [path, text] of Object.entries(files)) {
    await mkdir(join(site, path, '..'), { recursive: true });
    await writeFile(join(site, path), text);
  }
}

type Opts = { compile?: string; runtime?: number | null; withBad?: boolean; withNoFree?: boolean; gilAtStart?: boolean };

async function fixture(o: Opts = {}) {
  const site = await tempDir('smoke-site');
  // What a 3.14t interpreter does, on this machine's Python: the GIL off at start, switched on for good by
  // an extension module that does not declare free-threading support, with CPython's RuntimeWarning.
  await writeFile(
    join(site, 'sitecustomize.py'),
    `import sys\n_state = {"gil": ${o.gilAtStart ? 'True' : 'False'}}\nsys._is_gil_enabled = lambda: _state["gil"]\ndef _enable(name):\n    import warnings\n    _state["gil"] = True\n    warnings.warn(f"The global interpreter lock (GIL) has been enabled to load module '{name}', which has not declared that it can run safely without the GIL.", RuntimeWarning)\nsys._megapak_enable_gil = _enable\n`,
  );
  await dist(site, 'goodpkg', '1.0', { 'goodpkg/__init__.py': 'VALUE = 1\n', 'goodpkg/sub.py': '' });
  await dist(site, 'single-module', '2.0', { 'single_module.py': 'X = 2\n' });
  if (o.withBad) await dist(site, 'badpkg', '0.1', { 'badpkg/__init__.py': 'raise ImportError("libfoo.so.1: cannot open shared object file")\n' });
  if (o.withNoFree) await dist(site, 'nofree', '3.0', { 'nofree/__init__.py': 'import sys\nsys._megapak_enable_gil("nofree._ext")\n' });
  // torch's cuDNN API as torch 2.10 has it: version() an int (major*10000+minor*100+patch for cuDNN 9),
  // torch._C._cudnn.getCompileVersion()/getRuntimeVersion() tuples.
  const [cmaj, cmin, cpat] = (o.compile ?? '9.15.1').split('.').map(Number);
  const runtime = o.runtime === undefined ? 92000 : o.runtime;
  const rt = runtime === null ? '(0, 0, 0)' : `(${Math.floor(runtime / 10000)}, ${Math.floor((runtime % 10000) / 100)}, ${runtime % 100})`;
  await dist(site, 'torch', '2.10.0+cu130', {
    'torch/__init__.py': `from . import backends, _C, version\n__version__ = "2.10.0+cu130"\n`,
    'torch/version.py': 'cuda = "13.0"\n',
    'torch/_C/__init__.py': 'from . import _cudnn\n',
    'torch/_C/_cudnn.py': `def getCompileVersion():\n    return (${cmaj}, ${cmin}, ${cpat})\ndef getRuntimeVersion():\n    return ${rt}\n`,
    'torch/backends/__init__.py': 'from . import cudnn\n',
    'torch/backends/cudnn/__init__.py': `def version():\n    return ${runtime === null ? 'None' : runtime}\n`,
  });
  // triton's libcuda_dirs as third_party/nvidia/backend/driver.py has it: the variable first, then ldconfig.
  await dist(site, 'triton', '3.6.0', {
    'triton/__init__.py': '__version__ = "3.6.0"\n',
    'triton/backends/__init__.py': '',
    'triton/backends/nvidia/__init__.py': '',
    'triton/backends/nvidia/driver.py':
      'import os, subprocess\ndef libcuda_dirs():\n    p = os.getenv("TRITON_LIBCUDA_PATH")\n    if p:\n        return [p]\n    libs = subprocess.check_output(["/nonexistent/sbin/ldconfig", "-p"]).decode()\n    return []\n',
  });
  return site;
}

const smoke = (site: string, env: Record<string, string> = { TRITON_LIBCUDA_PATH: '/usr/lib/x86_64-linux-gnu' }, extra: string[] = []) =>
  run('python3', [SCRIPT, '--path', site, '--require-free-threading', ...extra], { env: { PYTHONPATH: site, PYTHONNOUSERSITE: '1', ...env } });

describe('scripts/image-smoke.py', () => {
  it('passes when every module imports, the GIL stays off, cuDNN satisfies torch and triton needs no ldconfig; prints versions', async () => {
    const site = await fixture();
    const r = await smoke(site);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain('torch: torch=2.10.0+cu130, cuda=13.0, cudnn=92000, cudnnCompile=9.15.1, cudnnRuntime=9.20.0');
    expect(r.stdout).toContain("triton: triton=3.6.0, TRITON_LIBCUDA_PATH=/usr/lib/x86_64-linux-gnu, libcudaDirs=['/usr/lib/x86_64-linux-gnu']");
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
    const { readFile } = await import('node:fs/promises');
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
