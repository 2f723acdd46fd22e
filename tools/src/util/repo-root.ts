import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root (the real stack, and the default `--stack`): where pnpm-workspace.yaml is. */
export const REPO_ROOT = (() => {
  for (let dir = import.meta.dirname; dir !== dirname(dir); dir = dirname(dir)) if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
  return process.cwd();
})();
