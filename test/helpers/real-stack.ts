// Evaluating the real stack (the repository root) against the stand-in package set
// (test/fixtures/stand-in), and private copies of it to break on purpose.
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO, run } from './cli.ts';
import { tempDir } from './fixture.ts';

export const STAND_IN = join(REPO, 'test', 'fixtures', 'stand-in', 'pkgs.nix');
export const INDEX = join(REPO, 'nix', 'nixpkgs-index.json');

/** The stand-in as a Nix expression; `settings` overrides nix/settings.json (a Nix attrset). */
export const standInExpr = (o: { fakePins?: boolean; standIn?: string; index?: string; settings?: string } = {}) =>
  `(import ${o.standIn ?? STAND_IN} { fakePins = ${o.fakePins ?? true}; index = ${o.index ?? INDEX}; settings = ${o.settings ?? '{ }'}; })`;

/** Evaluate a layer.nix against the stand-in; its roots' types and names, or Nix's error. */
export async function evalLayer(layerFile: string, fakePins = true, standIn = STAND_IN, index = INDEX, settings = '{ }') {
  const expr = `let pkgs = ${standInExpr({ fakePins, standIn, index, settings })}; roots = import ${layerFile} { inherit pkgs; }; in map (r: { type = r.type or "not a derivation"; name = r.name; }) roots`;
  const r = await run('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr]);
  return { code: r.code, stderr: r.stderr, roots: r.code === 0 ? (JSON.parse(r.stdout) as { type: string; name: string }[]) : [] };
}

export const evalJson = async (expr: string) => {
  const r = await run('nix-instantiate', ['--eval', '--strict', '--json', '-E', expr]);
  return { ...r, value: r.code === 0 ? JSON.parse(r.stdout) : undefined };
};

/** A private copy of the real stack's nix/, layers/ and stand-in, to break on purpose. */
export async function copyRealStack() {
  const dir = await tempDir('real-stack');
  await cp(join(REPO, 'nix'), join(dir, 'nix'), { recursive: true });
  await cp(join(REPO, 'layers'), join(dir, 'layers'), { recursive: true, filter: (s) => !s.includes('node_modules') && !s.endsWith('dist') });
  await cp(join(REPO, 'test', 'fixtures', 'stand-in'), join(dir, 'test', 'fixtures', 'stand-in'), { recursive: true });
  return { dir, standIn: join(dir, 'test', 'fixtures', 'stand-in', 'pkgs.nix'), index: join(dir, 'nix', 'nixpkgs-index.json') };
}

export const readIndex = async (file = INDEX) => JSON.parse(await readFile(file, 'utf8'));
