// The real stack (the repository root) cannot be built here (no nixpkgs, no network): every
// .nix file must parse, and every layer.nix must evaluate against a stand-in package set.
import { readdirSync } from 'node:fs';
import { mkdir, readFile, writeFile, cp } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, run } from './helpers/cli.ts';
import { tempDir } from './helpers/fixture.ts';

const STAND_IN = join(REPO, 'test', 'fixtures', 'stand-in', 'pkgs.nix');
const LAYERS = readdirSync(join(REPO, 'layers'))
  .filter((d) => /^\d\d-/.test(d))
  .sort();

function nixFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    if (['node_modules', '.git', 'dist', 'work'].includes(e.name)) return [];
    const p = join(dir, e.name);
    return e.isDirectory() ? nixFiles(p) : e.name.endsWith('.nix') ? [p] : [];
  });
}

/** Evaluate a layer.nix against the stand-in; its roots' types and names, or Nix's error. */
async function evalLayer(layerFile: string, fakePins = true, standIn = STAND_IN) {
  const expr = `let pkgs = import ${standIn} { fakePins = ${fakePins}; }; roots = import ${layerFile} { inherit pkgs; }; in map (r: { type = r.type or "not a derivation"; name = r.name; }) roots`;
  const r = await run('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr]);
  return { code: r.code, stderr: r.stderr, roots: r.code === 0 ? (JSON.parse(r.stdout) as { type: string; name: string }[]) : [] };
}

const listNames = async (file: string) =>
  (await readFile(file, 'utf8'))
    .split('\n')
    .map((l) => l.replace(/#.*/, '').trim())
    .filter(Boolean);

describe('the real stack', () => {
  it('every .nix file parses', async () => {
    const files = nixFiles(REPO);
    expect(files.length).toBeGreaterThan(20);
    for (const f of files) {
      const r = await run('nix-instantiate', ['--parse', f]);
      expect(r.code, `${f}: ${r.stderr}`).toBe(0);
    }
  });

  it('has twelve layers, each evaluating to a non-empty list of derivations', async () => {
    expect(LAYERS).toHaveLength(12);
    for (const l of LAYERS) {
      const r = await evalLayer(join(REPO, 'layers', l, 'layer.nix'));
      expect(r.code, `${l}: ${r.stderr}`).toBe(0);
      expect(r.roots.length, l).toBeGreaterThan(0);
      expect(
        r.roots.every((x) => x.type === 'derivation'),
        l,
      ).toBe(true);
    }
  });

  it('maps every name of the three lists, git sources included, one root per line', async () => {
    for (const [folder, list] of [
      ['07-pak3', 'pak3.txt'],
      ['09-pak5', 'pak5.txt'],
      ['10-pak7', 'pak7.txt'],
    ] as const) {
      const names = await listNames(join(REPO, 'layers', folder, list));
      const r = await evalLayer(join(REPO, 'layers', folder, 'layer.nix'));
      expect(r.code, r.stderr).toBe(0);
      expect(r.roots).toHaveLength(names.length);
    }
    const l10 = await evalLayer(join(REPO, 'layers', '10-pak7', 'layer.nix'));
    expect(l10.roots.map((x) => x.name)).toEqual(expect.arrayContaining(['python3.14t-clip-0-pinned', 'python3.14t-cozy-comfyui-0-pinned', 'python3.14t-img2texture-0-pinned']));
  });

  it('holds the required content of every layer (shared/megapak/README.md)', async () => {
    const names = async (l: string) => (await evalLayer(join(REPO, 'layers', l, 'layer.nix'))).roots.map((x) => x.name);
    expect(await names('01-base')).toEqual(expect.arrayContaining(['bashInteractive', 'coreutils', 'findutils', 'gnugrep', 'gnused', 'gnutar', 'gzip']));
    expect(await names('02-cuda')).toEqual(['cuda-cudatoolkit', 'cuda-cudnn']);
    expect(await names('03-build-tools')).toEqual(expect.arrayContaining(['gcc', 'cmake', 'ninja', 'git', 'ffmpeg-full', 'x264', 'x265']));
    expect(await names('04-python')).toEqual(['python3.14t']);
    expect(await names('05-gcc15')).toEqual(['gcc15']);
    expect(await names('06-torch')).toEqual(['python3.14t-torch', 'python3.14t-torchvision', 'python3.14t-torchaudio']);
    const l07 = await names('07-pak3');
    for (const p of [
      'accelerate',
      'diffusers',
      'transformers',
      'numpy',
      'scipy',
      'pandas',
      'scikit-learn',
      'opencv4',
      'kornia',
      'timm',
      'torchmetrics',
      'compel',
      'lark',
      'pyyaml',
      'omegaconf',
      'onnx',
      'joblib',
      'psutil',
      'tqdm',
      'nvidia-ml-py',
    ])
      expect(l07, p).toContain(`python3.14t-${p}`);
    expect(await names('08-cupy')).toEqual(['python3.14t-cupy']);
    const l09 = await names('09-pak5');
    for (const p of [
      'aiohttp',
      'requests',
      'albumentations',
      'av',
      'einops',
      'numba',
      'peft',
      'safetensors',
      'sentencepiece',
      'tokenizers',
      'loguru',
      'protobuf',
      'pydantic',
      'rich',
      'sqlalchemy',
      'shapely',
      'trimesh',
      'webcolors',
      'qrcode',
      'yarl',
      'tomli',
      'pycocotools',
    ])
      expect(l09, p).toContain(`python3.14t-${p}`);
    const l10 = await names('10-pak7');
    for (const p of ['dlib', 'facexlib', 'insightface']) expect(l10).toContain(`python3.14t-${p}`);
    for (const p of ['clip', 'cozy-comfyui', 'cozy-comfy', 'cstr', 'ffmpy', 'img2texture']) expect(l10).toContain(`python3.14t-${p}-0-pinned`);
    expect(await names('11-attention')).toEqual(['python3.14t-flash-attn', 'python3.14t-sageattention-2.2.0', 'python3.14t-nunchaku-1.0.2']);
    expect(await names('12-app')).toEqual(['aria2', 'vim', 'fish', 'comfyui-entrypoint', 'megapak-profile']);
  });

  it('nix/config.nix gives the entrypoint and the environment the image needs', async () => {
    const expr = `import ${join(REPO, 'nix', 'config.nix')} { pkgs = import ${STAND_IN} { }; }`;
    const r = await run('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr]);
    expect(r.code, r.stderr).toBe(0);
    const config = JSON.parse(r.stdout);
    expect(config.Entrypoint).toEqual([expect.stringMatching(/^\/nix\/store\/[0-9a-z]{32}-comfyui-entrypoint\/bin\/comfyui-entrypoint$/)]);
    const env = Object.fromEntries((config.Env as string[]).map((e) => e.split(/=(.*)/s).slice(0, 2)));
    expect(env.PATH).toMatch(/-megapak-profile\/bin$/);
    expect(env.CC).toMatch(/-gcc15\/bin\/gcc$/);
    expect(env.CXX).toMatch(/-gcc15\/bin\/g\+\+$/);
    expect(env.CUDA_HOME).toMatch(/-cuda-cudatoolkit$/);
    const stack = JSON.parse(await readFile(join(REPO, 'stack.json'), 'utf8'));
    expect(stack).toMatchObject({ name: 'comfyui-boot', tag: 'cu130-megapak-py314-nix', config: { WorkingDir: '/root', ExposedPorts: { '8188/tcp': {} } } });
    expect(stack.config.Env).toContain('CLI_ARGS=');
  });

  it('a pip name without a package stops evaluation, naming it and its list', async () => {
    const dir = await tempDir('real-stack');
    await cp(join(REPO, 'nix'), join(dir, 'nix'), { recursive: true });
    await cp(join(REPO, 'layers'), join(dir, 'layers'), { recursive: true, filter: (s) => !s.includes('node_modules') && !s.endsWith('dist') });
    await mkdir(join(dir, 'test', 'fixtures', 'stand-in'), { recursive: true });
    await cp(STAND_IN, join(dir, 'test', 'fixtures', 'stand-in', 'pkgs.nix'));
    const list = join(dir, 'layers', '09-pak5', 'pak5.txt');
    await writeFile(list, (await readFile(list, 'utf8')) + 'no-such-wheel>=1.0\n');
    const r = await evalLayer(join(dir, 'layers', '09-pak5', 'layer.nix'), true, join(dir, 'test', 'fixtures', 'stand-in', 'pkgs.nix'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`megapak: pip name 'no-such-wheel' in ${list} has no Nix package: add it to nix/pypi.nix`);
  });

  it('a pin without a hash stops evaluation and says to run `pnpm pins update`', async () => {
    const r = await evalLayer(join(REPO, 'layers', '11-attention', 'layer.nix'), false);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("megapak: pin 'nunchaku' in nix/pins.json has no rev yet (ref 'v1.0.2'); run `pnpm pins update nunchaku`");
  });

  // Only where a nixpkgs checkout is at hand (MEGAPAK_NIXPKGS): this machine has none and no
  // network, so here this reports as skipped, never as passed.
  it.skipIf(!process.env.MEGAPAK_NIXPKGS)('instantiates every layer against the real nixpkgs in MEGAPAK_NIXPKGS', async () => {
    for (const l of LAYERS) {
      const expr = `let pkgs = import ${process.env.MEGAPAK_NIXPKGS} { system = "x86_64-linux"; config = { allowUnfree = true; cudaSupport = true; }; overlays = [ (import ${join(REPO, 'nix', 'overlay.nix')}) ]; }; in map (r: r.drvPath) (import ${join(REPO, 'layers', l, 'layer.nix')} { inherit pkgs; })`;
      const r = await run('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr], { timeoutMs: 280_000 });
      expect(r.code, `${l}: ${r.stderr}`).toBe(0);
    }
  });
});
