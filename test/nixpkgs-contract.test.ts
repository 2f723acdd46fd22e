// What nixpkgs' own expressions read from the packages the megapak overlay replaces (torch,
// torchvision, torchaudio, triton, cupy), recorded in nix/nixpkgs-contract.json with file, commit
// and line: the real overlay, evaluated through the stand-in, must provide each on its replacement,
// and the stand-in's dependents read them as nixpkgs' do, so a layer stops evaluating without one.
// Also: the megapak overlay changes the free-threaded 3.14 set only (nothing of python3.pkgs or
// meson), layer 02's cuDNN is checked against the torch wheel's, and cupy builds without cuDNN.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers/cli.ts';
import { copyRealStack, evalJson, evalLayer, standInExpr } from './helpers/real-stack.ts';

type Read = { dependent: string; package: string; attribute: string; repo: string; file: string; commit: string; line: number; text: string; required: boolean };
const CONTRACT = join(REPO, 'nix', 'nixpkgs-contract.json');
const readContract = async (file = CONTRACT) => JSON.parse(await readFile(file, 'utf8')) as { replaced: string[]; reads: Read[] };

/** Edit a file of a copied stack; fails when `from` is not there, so a stale edit cannot pass unnoticed. */
async function replaceIn(file: string, from: string, to: string) {
  const text = await readFile(file, 'utf8');
  if (!text.includes(from)) throw new Error(`${file} no longer contains: ${from}`);
  await writeFile(file, text.replace(from, to));
}

describe('the nixpkgs contract of the replaced packages', () => {
  it('records each read with a nixpkgs file, a full commit and a line whose text names the attribute', async () => {
    const { replaced, reads } = await readContract();
    expect(replaced).toEqual(['torch', 'torchvision', 'torchaudio', 'triton', 'cupy']);
    expect(reads.length).toBeGreaterThan(10);
    for (const r of reads) {
      expect(replaced, JSON.stringify(r)).toContain(r.package);
      expect(r.file).toMatch(/^pkgs\/development\/python-modules\/[^/]+\/default\.nix$/);
      expect(r.commit).toMatch(/^[0-9a-f]{40}$/);
      expect(r.line).toBeGreaterThan(0);
      expect(['NixOS/nixpkgs', 'Swarsel/nixpkgs']).toContain(r.repo);
      expect(r.text, JSON.stringify(r)).toContain(r.attribute);
    }
    // flash-attn and bitsandbytes are in the image and read torch's passthru.
    const required = reads.filter((r) => r.required);
    expect(new Set(required.map((r) => `${r.dependent}:${r.attribute}`))).toEqual(
      new Set([
        'flash-attn:cudaCapabilities',
        'flash-attn:cudaPackages',
        'flash-attn:cudaSupport',
        'flash-attn:stdenv',
        'bitsandbytes:cudaCapabilities',
        'bitsandbytes:cudaPackages',
        'bitsandbytes:cudaSupport',
        'bitsandbytes:rocmSupport',
      ]),
    );
  });

  it('every required read is provided by the replacement, in both modes, with values consistent with the stack', async () => {
    const { reads } = await readContract();
    const wanted = [...new Set(reads.filter((r) => r.required).map((r) => `${r.package}.${r.attribute}`))];
    for (const settings of ['{ }', '{ fromSource = true; }']) {
      const r = await evalJson(
        `let pkgs = ${standInExpr({ settings })}; ps = pkgs.megapak.python3Packages; in builtins.listToAttrs (map (w: let p = builtins.filter builtins.isString (builtins.split "[.]" w); in { name = w; value = (ps.\${builtins.elemAt p 0}) ? \${builtins.elemAt p 1}; }) [ ${wanted.map((w) => JSON.stringify(w)).join(' ')} ])`,
      );
      expect(r.code, r.stderr).toBe(0);
      // From source the stand-in's torch is nixpkgs' (index) expression: it models no passthru, so
      // only the wheel mode is held to the contract here; nixpkgs' own torch sets them (6b516b42).
      if (settings === '{ }') for (const w of wanted) expect(r.value[w], `${w} (${settings})`).toBe(true);
    }
    const v = await evalJson(
      `let pkgs = ${standInExpr()}; t = pkgs.megapak.torch; in { cuda = t.cudaSupport; rocm = t.rocmSupport; caps = t.cudaCapabilities; same = t.cudaPackages == pkgs.megapak.cudaPackages; stdenv = t.stdenv.name; cudnn = t.cudnnVersion; }`,
    );
    expect(v.code, v.stderr).toBe(0);
    const wheel = JSON.parse(await readFile(join(REPO, 'nix', 'torch-wheel.json'), 'utf8'));
    expect(v.value).toEqual({ cuda: true, rocm: false, caps: wheel.cudaCapabilities, same: true, stdenv: 'cuda-backendStdenv', cudnn: wheel.cudnn });
  });

  it('layers 09 and 11 stop evaluating when the torch wheel lacks what flash-attn and bitsandbytes read', async () => {
    const { dir, standIn, index } = await copyRealStack();
    await replaceIn(join(dir, 'nix', 'wheels.nix'), '      cudaSupport = true;\n', '');
    for (const [layer, dep] of [
      ['11-attention', 'flash-attn'],
      ['09-pak5', 'bitsandbytes'],
    ] as const) {
      const r = await evalLayer(join(dir, 'layers', layer, 'layer.nix'), true, standIn, index);
      expect(r.code, layer).toBe(1);
      expect(r.stderr).toMatch(
        new RegExp(
          `stand-in: ${dep} reads torch\\.cudaSupport \\(pkgs/development/python-modules/${dep}/default\\.nix at [0-9a-f]{40}, line \\d+\\), which this set's torch lacks`,
        ),
      );
    }
    // The real stack's own layers evaluate (the contract is met).
    for (const layer of ['11-attention', '09-pak5']) {
      const ok = await evalLayer(join(REPO, 'layers', layer, 'layer.nix'));
      expect(ok.code, ok.stderr).toBe(0);
    }
  });

  it('the overlay leaves python3.pkgs and meson alone: same derivations with and without it', async () => {
    const probe = (p: string) =>
      `let p = ${p}; in { meson = p.meson.drvPath; numpy = p.python3.pkgs.numpy.drvPath; app = (p.python3.pkgs.buildPythonApplication { pname = "x"; version = "1"; }).drvPath; pillow = p.python3.pkgs.pillow.drvPath; }`;
    // Without the overlay: the stand-in's base set (its own `final` minus nix/overlay.nix).
    const noOverlay = await evalJson(probe(`import ${join(REPO, 'test', 'fixtures', 'stand-in', 'pkgs.nix')} { overlay = false; }`));
    expect(noOverlay.code, noOverlay.stderr).toBe(0);
    const withIt = await evalJson(probe(standInExpr()));
    expect(withIt.code, withIt.stderr).toBe(0);
    expect(withIt.value).toEqual(noOverlay.value);
    // The free-threaded set does change (checks off, torch 2.10): the comparison can tell.
    const ft = await evalJson(
      `let a = ${standInExpr()}; b = import ${join(REPO, 'test', 'fixtures', 'stand-in', 'pkgs.nix')} { overlay = false; }; f = p: (p.python314FreeThreading.pkgs.buildPythonPackage { pname = "x"; version = "1"; }).drvPath; in { a = f a; b = f b; }`,
    );
    expect(ft.code, ft.stderr).toBe(0);
    expect(ft.value.a).not.toBe(ft.value.b);
    // The wrapper as a global pythonPackagesExtensions entry (as it was) would change meson: caught.
    const { dir, standIn, index } = await copyRealStack();
    await replaceIn(
      join(dir, 'nix', 'overlay.nix'),
      '{\n  cudaPackages = cudaPackages;',
      '{\n  cudaPackages = cudaPackages;\n  pythonPackagesExtensions = prev.pythonPackagesExtensions ++ [ (import ./checks.nix { inherit (settings) pythonChecks; }) ];',
    );
    const global = await evalJson(`(${standInExpr({ standIn, index })}).meson.drvPath`);
    expect(global.code, global.stderr).toBe(0);
    expect(global.value).not.toBe(noOverlay.value.meson);
  });

  it("layer 02's cuDNN is at least the torch wheel's in minor; an older one stops evaluation with one line", async () => {
    const ok = await evalJson(`${standInExpr()}.cudaPackages.cudnn.version`);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.value).toBe('9.20.0.48');
    // The pin's own 9.13.0.50 (the index) is replaced; a set that already has ≥ 9.15 keeps its own.
    const { dir, standIn, index } = await copyRealStack();
    const idx = JSON.parse(await readFile(index, 'utf8'));
    idx.cudaPackages.versions.cudnn = '9.22.0.52';
    await writeFile(index, JSON.stringify(idx));
    const own = await evalJson(`${standInExpr({ standIn, index })}.cudaPackages.cudnn.version`);
    expect(own.value).toBe('9.22.0.52');
    // A wheel built against a newer cuDNN than layer 02 can give: stops, naming both versions.
    const wheelFile = join(dir, 'nix', 'torch-wheel.json');
    await writeFile(wheelFile, JSON.stringify({ ...JSON.parse(await readFile(wheelFile, 'utf8')), cudnn: '9.25.0.1' }));
    const r = await evalLayer(join(dir, 'layers', '02-cuda', 'layer.nix'), true, standIn, index);
    expect(r.code).toBe(1);
    expect(r.stderr.split('\n').find((l) => l.includes('megapak:'))).toBe(
      "error: megapak: layer 02's cuDNN is 9.22.0.52, older than the 9.25.0.1 the torch wheel was built against (nix/torch-wheel.json); torch would refuse it at run time",
    );
  });

  it('cupy is built against the CUDA 13.0 set without its cuDNN; torch gets nvrtc in its runpath', async () => {
    const r = await evalJson(
      `let pkgs = ${standInExpr()}; in { inputs = map (d: d.name) pkgs.megapak.cupy.buildInputs; runpaths = pkgs.megapak.torch.extraRunpaths; nvrtc = "\${pkgs.cudaPackages.cuda_nvrtc}/lib"; phase = pkgs.megapak.torch.postPatchelfPhase; }`,
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.value.inputs).toEqual([]);
    expect(r.value.runpaths).toEqual([r.value.nvrtc]);
    expect(r.value.phase).toContain('patchelf "$elf" --add-rpath "$extra"');
    // Without the filter the set's cuDNN would be there: the check can fail.
    const { dir, standIn, index } = await copyRealStack();
    await replaceIn(join(dir, 'nix', 'overlay.nix'), 'buildInputs = builtins.filter (d: !(isCudnn d)) (old.buildInputs or [ ]);', 'buildInputs = old.buildInputs or [ ];');
    const withCudnn = await evalJson(`map (d: d.name) (${standInExpr({ standIn, index })}).megapak.cupy.buildInputs`);
    expect(withCudnn.value).toEqual(['cuda-cudnn-9.20.0.48']);
  });
  it("from source, nixpkgs' torch is not refused for CUDA 13 (2.9.1's limit), while its other broken conditions still count", async () => {
    const src = await evalLayer(join(REPO, 'layers', '06-torch', 'layer.nix'), true, undefined, undefined, '{ fromSource = true; }');
    expect(src.code, src.stderr).toBe(0);
    const { dir, standIn, index } = await copyRealStack();
    await replaceIn(join(dir, 'nix', 'torch.nix'), '// cuda13Allowed args', '');
    const refused = await evalLayer(join(dir, 'layers', '06-torch', 'layer.nix'), true, standIn, index, '{ fromSource = true; }');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('Package ‘torch’ in the stand-in is marked as broken (Unsupported CUDA version), refusing to evaluate.');
    // Another condition (as nixpkgs' "CUDA and ROCm are mutually exclusive") still makes it broken.
    const idx = JSON.parse(await readFile(index, 'utf8'));
    idx.python.torch.brokenConditions['CUDA and ROCm are mutually exclusive'] = true;
    await writeFile(index, JSON.stringify(idx));
    const other = await evalLayer(join(REPO, 'layers', '06-torch', 'layer.nix'), true, undefined, index, '{ fromSource = true; }');
    expect(other.code).toBe(1);
    expect(other.stderr).toContain('marked as broken (CUDA and ROCm are mutually exclusive)');
  });
});
