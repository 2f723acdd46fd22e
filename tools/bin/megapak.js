#!/usr/bin/env node
// Runs the bundled CLI (dist/megapak.mjs, made by `pnpm -F @megapak/tools bundle` in setup;
// its npm dependencies are bundled in too, since loading zod's many modules alone took ~0.15 s)
// when it is newer than every source file: it starts in a fraction of the time tsx needs,
// which counts when Turborepo starts one process per layer. Otherwise the TypeScript runs
// through tsx's loader in this process, so signals reach the CLI's own cleanup either way.
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const bundle = join(root, 'dist', 'megapak.mjs');

function newestSource(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestSource(p) : statSync(p).mtimeMs);
  }
  return newest;
}

if (existsSync(bundle) && statSync(bundle).mtimeMs >= newestSource(join(root, 'src'))) {
  await import(bundle);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
