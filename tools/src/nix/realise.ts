import { existsSync } from 'node:fs';
import { execCapture } from '../util/exec.ts';

/**
 * `nix-store --realise` output paths that this machine's store lacks: Nix substitutes them
 * from the configured binary caches (`substituters`). An output path alone names no
 * derivation, so nothing is built; `--keep-going` fetches every path it can. Returns the
 * paths still absent.
 */
export async function substitutePaths(paths: string[]): Promise<string[]> {
  if (!paths.length) return [];
  await execCapture('nix-store', ['--realise', '--keep-going', ...paths]);
  return paths.filter((p) => !existsSync(p));
}
