// The seven heavy CUDA packages of the real stack: PyTorch, torchvision and torchaudio from pinned
// cp314t CUDA 13.0 wheels by default, from source with `fromSource` (nix/settings.json); their CUDA
// libraries from layer 02 only; bad pins stop with one line naming the package. Evaluated against
// the stand-in package set (no nixpkgs here); the wrong-hash case builds a real fixed-output fetch.
import { readdirSync } from 'node:fs';
import { chmod, cp, mkdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, run } from './helpers/cli.ts';
import { tempDir } from './helpers/fixture.ts';
import { copyRealStack, evalJson, evalLayer, readIndex, standInExpr } from './helpers/real-stack.ts';

const LAYER = (root: string, l: string) => join(root, 'layers', l, 'layer.nix');
const FROM_SOURCE = '{ fromSource = true; }';
const TORCH_WHEEL = 'torch-2.10.0+cu130-cp314-cp314t-manylinux_2_28_x86_64.whl';

/** Edit a file of a copied stack; fails when `from` is not there, so a stale edit cannot pass unnoticed. */
async function replaceIn(file: string, from: string, to: string) {
  const text = await readFile(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} no longer contains: ${from}`);
  await writeFile(file, text.replace(from, to));
}

/** nix-instantiate a layer's roots (writes their .drv files); the .drv paths. */
async function instantiate(root: string, layer: string, settings: string, o: { standIn?: string; index?: string } = {}) {
  const r = await run('nix-instantiate', ['-E', `import ${LAYER(root, layer)} { pkgs = ${standInExpr({ ...o, settings })}; }`]);
  expect(r.code, `${layer} ${settings}: ${r.stderr}`).toBe(0);
  return r.stdout.trim().split('\n');
}

/** Every derivation a set of .drv files depends on (what building them would build). */
async function drvClosure(drvs: string[]) {
  const r = await run('nix-store', ['-qR', ...drvs]);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim().split('\n');
}

/**
 * The CUDA inputs of every wheel of layers 06, 08 and 11 (and of their Python dependencies) that do
 * not come from layer 02: each wheel's build inputs must be roots of layer 02 (same derivation) or
 * zlib, and none of its Python dependencies may be one of
 * NVIDIA's pip wheels. Empty when every CUDA library ships from layer 02.
 */
async function cudaFromElsewhere(o: { standIn?: string; index?: string; root?: string } = {}) {
  const root = o.root ?? REPO;
  const expr = `let
    pkgs = ${standInExpr(o)};
    layer = l: import (${join(root, 'layers')} + "/\${l}/layer.nix") { inherit pkgs; };
    l02 = map (d: d.drvPath) (layer "02-cuda");
    roots = layer "06-torch" ++ layer "08-cupy" ++ layer "11-attention";
    isWheel = p: (p.megapak.kind or null) == "wheel";
    # The wheels among the roots and among their Python dependencies (triton is torch's).
    wheels = builtins.filter isWheel (roots ++ builtins.concatMap (r: r.dependencies or [ ]) roots);
    # Libraries that are not CUDA's and may come from anywhere: what nixpkgs' triton-bin links.
    systemLibs = [ "zlib" ];
    named = builtins.listToAttrs (map (w: { name = w.name; value = w; }) wheels);
  in map (w: {
    name = w.name;
    cudaLibs = map (d: d.name) w.megapak.cudaLibs;
    outside = map (d: d.name) (builtins.filter (d: !(builtins.elem d.drvPath l02) && !(builtins.elem d.name systemLibs)) w.buildInputs);
    pipCuda = map (d: d.name) (builtins.filter (d: builtins.match ".*-nvidia-(cu|nccl|nvshmem|nvjitlink|nvtx|cufile).*" d.name != null) w.dependencies);
  }) (builtins.attrValues named)`;
  const r = await evalJson(expr);
  expect(r.code, r.stderr).toBe(0);
  return r.value as { name: string; cudaLibs: string[]; outside: string[]; pipCuda: string[] }[];
}

describe('the heavy CUDA packages: wheels or source', () => {
  it('both modes evaluate (all twelve layers, nix/config.nix, the flake), and the switch changes what is built', async () => {
    const { dir } = await copyRealStack();
    await cp(join(REPO, 'flake.nix'), join(dir, 'flake.nix'));
    const layers = readdirSync(join(REPO, 'layers'))
      .filter((d) => /^\d\d-/.test(d))
      .sort();
    expect(layers).toHaveLength(12);
    const drvs: Record<string, Record<string, string[]>> = {};
    for (const settings of ['{ }', FROM_SOURCE]) {
      drvs[settings] = {};
      for (const l of layers) drvs[settings]![l] = await instantiate(REPO, l, settings);
      const config = await evalJson(`import ${join(REPO, 'nix', 'config.nix')} { pkgs = ${standInExpr({ settings })}; }`);
      expect(config.code, config.stderr).toBe(0);
      expect(config.value.Entrypoint[0]).toMatch(/-comfyui-entrypoint\/bin\/comfyui-entrypoint$/);
    }
    // The flake reads nix/settings.json: once as committed (wheels), once switched to source.
    const flakeLayer06 = async () => {
      const r = await evalJson(
        `let o = (import ${join(dir, 'flake.nix')}).outputs { self = { }; nixpkgs = ${join(dir, 'test', 'fixtures', 'stand-in', 'nixpkgs')}; }; in { names = builtins.attrNames o.packages.x86_64-linux; torch = (builtins.head (import ${LAYER(dir, '06-torch')} { pkgs = import ${join(dir, 'nix', 'pkgs.nix')} { nixpkgs = ${join(dir, 'test', 'fixtures', 'stand-in', 'nixpkgs')}; }; })).name; }`,
      );
      expect(r.code, r.stderr).toBe(0);
      expect(r.value.names).toHaveLength(14);
      return r.value.torch as string;
    };
    expect(await flakeLayer06()).toBe('python3.14t-torch-2.10.0');
    const settingsFile = join(dir, 'nix', 'settings.json');
    await writeFile(settingsFile, JSON.stringify({ ...JSON.parse(await readFile(settingsFile, 'utf8')), fromSource: true }));
    expect(await flakeLayer06()).toBe('python3.14t-torch');

    const wheels = drvs['{ }']!;
    const source = drvs[FROM_SOURCE]!;
    // Layers 01-05 do not depend on the switch; layer 06 is other derivations in each mode.
    for (const l of layers.slice(0, 5)) expect(wheels[l], l).toEqual(source[l]);
    expect(wheels['06-torch']!.filter((d) => source['06-torch']!.includes(d))).toEqual([]);
    // What building layer 06 would build: the wheel's fixed-output fetch, or the pytorch source pin.
    const wheelClosure = await drvClosure(wheels['06-torch']!);
    const sourceClosure = await drvClosure(source['06-torch']!);
    expect(wheelClosure.filter((d) => d.endsWith(`-${TORCH_WHEEL}.drv`))).toHaveLength(1);
    expect(sourceClosure.filter((d) => d.endsWith('.whl.drv'))).toEqual([]);
    expect(sourceClosure.filter((d) => d.endsWith('-source-pytorch.drv'))).toHaveLength(1);
    expect(wheelClosure.filter((d) => d.endsWith('-source-pytorch.drv'))).toEqual([]);
    // Everything that depends on torch follows it: layer 07's transformers and friends differ too.
    expect(wheels['07-pak3']).not.toEqual(source['07-pak3']);
  });

  it("every wheel's CUDA libraries are layer 02's roots, and the check fails when one would come from elsewhere", async () => {
    const ok = await cudaFromElsewhere();
    expect(ok.map((w) => w.name)).toEqual([
      'python3.14t-cuda-bindings-13.0.3',
      'python3.14t-torch-2.10.0',
      'python3.14t-torchaudio-2.10.0',
      'python3.14t-torchvision-0.25.0',
      'python3.14t-triton-3.6.0',
    ]);
    const torch = ok[1]!;
    expect(torch.cudaLibs).toEqual(expect.arrayContaining(['cuda-cudnn-9.20.0.48', 'cuda-nccl', 'cuda-libcusparse_lt', 'cuda-libcufile', 'cuda-libnvshmem', 'cuda-libcublas']));
    for (const w of ok) {
      expect(w.outside, w.name).toEqual([]);
      expect(w.pipCuda, w.name).toEqual([]);
    }

    // A cuDNN fetched beside the wheel instead of layer 02's: found.
    const a = await copyRealStack();
    await replaceIn(
      join(a.dir, 'nix', 'wheels.nix'),
      'buildInputs = cudaLibs ++ systemLibs;',
      'buildInputs = cudaLibs ++ systemLibs ++ [ (fetchurl { url = "https://developer.download.nvidia.com/compute/cudnn/redist/cudnn/linux-x86_64/cudnn-linux-x86_64-9.13.0.50_cuda13-archive.tar.xz"; hash = "sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; }) ];',
    );
    const own = await cudaFromElsewhere({ standIn: a.standIn, index: a.index, root: a.dir });
    expect(own[1]!.outside).toEqual(['cudnn-linux-x86_64-9.13.0.50_cuda13-archive.tar.xz']);

    // Layer 02 no longer rooting NCCL: the wheel's NCCL would ship in layer 06.
    const b = await copyRealStack();
    const l02 = LAYER(b.dir, '02-cuda');
    await replaceIn(l02, 'builtins.filter (l: l != cudnn)', 'builtins.filter (l: l != cudnn && l.name != "cuda-nccl")');
    const missing = await cudaFromElsewhere({ standIn: b.standIn, index: b.index, root: b.dir });
    expect(missing[1]!.outside).toEqual(['cuda-nccl']);

    // NVIDIA's pip wheel as a Python dependency instead of the library: found.
    const c = await copyRealStack();
    const idx = await readIndex(c.index);
    idx.python['nvidia-cudnn-cu13'] = { file: null, commit: null, version: null };
    await writeFile(c.index, JSON.stringify(idx));
    await replaceIn(join(c.dir, 'nix', 'wheels.nix'), 'deps = with pyfinal; [ cuda-bindings', 'deps = with pyfinal; [ pyfinal."nvidia-cudnn-cu13" cuda-bindings');
    const pip = await cudaFromElsewhere({ standIn: c.standIn, index: c.index, root: c.dir });
    expect(pip[1]!.pipCuda).toEqual(['python3.14t-nvidia-cudnn-cu13']);
  });

  it("the torch wheel's installed METADATA drops the nvidia-* requirements and loosens the pins of cuda-bindings and setuptools", async () => {
    const script = await evalJson(`${standInExpr()}.megapak.python3Packages.torch.postInstall`);
    expect(script.code, script.stderr).toBe(0);
    const out = await tempDir('torch-out');
    const distInfo = join(out, 'lib', 'python3.14t', 'site-packages', 'torch-2.10.0+cu130.dist-info');
    await mkdir(distInfo, { recursive: true });
    // Requirement lines as PyTorch's cu130 builds declare them (PYTORCH_EXTRA_INSTALL_REQUIREMENTS).
    const linux = '; platform_system == "Linux"';
    await writeFile(
      join(distInfo, 'METADATA'),
      [
        'Name: torch',
        'Version: 2.10.0+cu130',
        'Requires-Dist: filelock',
        'Requires-Dist: setuptools<82; python_version >= "3.12"',
        `Requires-Dist: nvidia-cuda-nvrtc==13.0.88${linux}`,
        `Requires-Dist: nvidia-cudnn-cu13==9.13.0.50${linux}`,
        `Requires-Dist: nvidia-cusparse==12.6.3.3${linux}`,
        `Requires-Dist: nvidia-cusparselt-cu13==0.8.0${linux}`,
        `Requires-Dist: nvidia-nccl-cu13==2.27.7${linux}`,
        `Requires-Dist: nvidia-nvshmem-cu13==3.4.5${linux}`,
        `Requires-Dist: cuda-bindings==13.0.3${linux}`,
        'Requires-Dist: nvidia-ml-py',
        `Requires-Dist: triton==3.6.0${linux}`,
        '',
      ].join('\n'),
    );
    const r = await run('bash', ['-euo', 'pipefail', '-c', script.value], { env: { out } });
    expect(r.code, r.stderr).toBe(0);
    expect((await readFile(join(distInfo, 'METADATA'), 'utf8')).split('\n')).toEqual([
      'Name: torch',
      'Version: 2.10.0+cu130',
      'Requires-Dist: filelock',
      'Requires-Dist: setuptools ; python_version >= "3.12"',
      `Requires-Dist: cuda-bindings ${linux}`,
      'Requires-Dist: nvidia-ml-py',
      `Requires-Dist: triton==3.6.0${linux}`,
      '',
    ]);
  });

  it("triton's wheel uses layer 02's ptxas, cuobjdump, nvdisasm and CUPTI instead of the copies it bundles", async () => {
    const r = await evalJson(
      `let pkgs = ${standInExpr()}; in { fixup = pkgs.megapak.python3Packages.triton.postFixup; toolkit = "\${pkgs.cudaPackages.cudatoolkit}"; cupti = "\${pkgs.cudaPackages.cuda_cupti}"; }`,
    );
    expect(r.code, r.stderr).toBe(0);
    const out = await tempDir('triton-out');
    const nvidia = join(out, 'lib', 'python3.14t', 'site-packages', 'triton', 'backends', 'nvidia');
    await mkdir(join(nvidia, 'bin'), { recursive: true });
    await mkdir(join(nvidia, 'lib', 'cupti'), { recursive: true });
    for (const tool of ['ptxas', 'cuobjdump']) await writeFile(join(nvidia, 'bin', tool), 'bundled');
    await writeFile(join(nvidia, 'lib', 'cupti', 'libcupti.so.13'), 'bundled');
    // addAutoPatchelfSearchPath is the hook's; the fixup must work without it for triton.
    const s = await run('bash', ['-euo', 'pipefail', '-c', r.value.fixup], { env: { out } });
    expect(s.code, s.stderr).toBe(0);
    expect(await readlink(join(nvidia, 'bin', 'ptxas'))).toBe(`${r.value.toolkit}/bin/ptxas`);
    expect(await readlink(join(nvidia, 'bin', 'cuobjdump'))).toBe(`${r.value.toolkit}/bin/cuobjdump`);
    // A tool the wheel does not bundle is not invented.
    await expect(readlink(join(nvidia, 'bin', 'nvdisasm'))).rejects.toThrow(/ENOENT/);
    expect(await readlink(join(nvidia, 'lib', 'cupti'))).toBe(`${r.value.cupti}/lib`);
  });

  it('a wheel for the wrong Python tag stops evaluation with one line naming the package', async () => {
    for (const [tag, said] of [
      ['cp314-cp314', 'cp314-cp314'],
      ['cp313-cp313', 'cp313-cp313'],
      ['cp313-cp313t', 'cp313-cp313t'],
    ] as const) {
      const { dir, standIn, index } = await copyRealStack();
      const pinsFile = join(dir, 'nix', 'pins.json');
      const pins = JSON.parse(await readFile(pinsFile, 'utf8'));
      pins.pins['torch-wheel'].url = pins.pins['torch-wheel'].url.replace('cp314-cp314t', tag);
      await writeFile(pinsFile, JSON.stringify(pins));
      const r = await evalLayer(LAYER(dir, '06-torch'), true, standIn, index);
      expect(r.code, tag).toBe(1);
      const line = r.stderr.split('\n').find((l) => l.includes('megapak:'));
      expect(line).toBe(
        `error: megapak: torch (wheel pin 'torch-wheel' in nix/pins.json): torch-2.10.0+cu130-${tag}-manylinux_2_28_x86_64.whl is for ${said}, but the stack's Python 3.14 is free-threaded: it needs a cp314-cp314t wheel`,
      );
      // The same pin from source is not used at all.
      const src = await evalLayer(LAYER(dir, '06-torch'), true, standIn, index, FROM_SOURCE);
      expect(src.code, src.stderr).toBe(0);
    }
  });

  it("a CUDA library a wheel needs that layer 02's set lacks stops evaluation with one line", async () => {
    const { dir, standIn, index } = await copyRealStack();
    const idx = await readIndex(index);
    idx.cudaPackages.members = idx.cudaPackages.members.filter((m: string) => m !== 'libnvshmem');
    await writeFile(index, JSON.stringify(idx));
    const r = await evalLayer(LAYER(dir, '06-torch'), true, standIn, index);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').find((l) => l.includes('megapak:'))).toBe(
      "error: megapak: torch (wheel) needs the CUDA library 'libnvshmem' (for nvidia-nvshmem-cu13), which layer 02's CUDA 13.0 set (cudaPackages_13_0) does not have: pin NVIDIA's redistributable of it in nix/pins.json and build it in nix/cuda.nix, so that it ships in layer 02",
    );
    const l02 = await evalLayer(LAYER(dir, '02-cuda'), true, standIn, index);
    expect(l02.code).toBe(1);
    expect(l02.stderr).toContain("megapak: layer 02 needs the CUDA library 'libnvshmem'");
  });

  it('a wheel whose bytes do not match its pin fails its fixed-output fetch, naming the wheel; the right hash builds', async () => {
    const { dir, standIn, index } = await copyRealStack();
    const files = await tempDir('wheel-files');
    await chmod(files, 0o755); // Nix's build users read the file:// URL
    const wheel = join(files, TORCH_WHEEL);
    await writeFile(wheel, 'not really a wheel, but bytes with a hash\n');
    const good = (await run('nix', ['--extra-experimental-features', 'nix-command', 'hash', 'file', '--type', 'sha256', '--sri', wheel])).stdout.trim();
    expect(good).toMatch(/^sha256-/);
    const pinsFile = join(dir, 'nix', 'pins.json');
    const build = async (hash: string) => {
      const pins = JSON.parse(await readFile(pinsFile, 'utf8'));
      pins.pins['torch-wheel'] = { ...pins.pins['torch-wheel'], url: `file://${wheel}`, hash };
      await writeFile(pinsFile, JSON.stringify(pins));
      return run('nix-build', ['--no-out-link', '-E', `${standInExpr({ fakePins: false, standIn, index })}.megapak.torch.src`]);
    };
    const bad = await build('sha256-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=');
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(new RegExp(`hash mismatch in fixed-output derivation '/nix/store/[0-9a-z]{32}-${TORCH_WHEEL.replaceAll('.', '\\.').replaceAll('+', '\\+')}\\.drv'`));
    expect(bad.stderr).toContain(`got:    ${good}`);
    const ok = await build(good);
    expect(ok.code, ok.stderr).toBe(0);
    expect(await readFile(ok.stdout.trim(), 'utf8')).toBe('not really a wheel, but bytes with a hash\n');
  });

  it('the Python set builds without test suites unless pythonChecks is set', async () => {
    const doCheck = (settings: string, call: string) =>
      evalJson(`let ps = ${standInExpr({ settings })}.megapak.python3Packages; in (${call} { pname = "x"; version = "1"; doCheck = true; }).doCheck`);
    // Also through `.override`, which nixpkgs' torch uses (`buildPythonPackage.override { inherit stdenv; }`).
    for (const call of ['ps.buildPythonPackage', '(ps.buildPythonPackage.override { })']) {
      const off = await doCheck('{ }', call);
      expect(off.code, off.stderr).toBe(0);
      expect(off.value, call).toBe(false);
    }
    const on = await doCheck('{ pythonChecks = true; }', 'ps.buildPythonPackage');
    expect(on.code, on.stderr).toBe(0);
    expect(on.value).toBe(true);
    // A misspelt setting is an error, not a silent default.
    const typo = await evalJson(`${standInExpr({ settings: '{ fromsource = true; }' })}.megapak.torch.name`);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toContain("megapak: setting 'fromsource' (nix/settings.json or nix/pkgs.nix's settings) is not one of fromSource, pythonChecks with a true/false value");
    // The derivations themselves differ: the setting changes what is built.
    const drv = (settings: string) => evalJson(`(${standInExpr({ settings })}.megapak.python3Packages.buildPythonPackage { pname = "x"; version = "1"; }).drvPath`);
    expect((await drv('{ }')).value).not.toBe((await drv('{ pythonChecks = true; }')).value);
  });
});
