import { existsSync } from 'node:fs';
import { substitutePaths } from '../nix/realise.ts';
import { MegapakError } from '../util/errors.ts';
import type { Progress } from '../util/progress.ts';

/**
 * Make sure every one of `paths` is in this machine's Nix store before a blob is streamed from
 * them (a record restored from a remote cache on a fresh machine names paths built elsewhere):
 * substitute the absent ones from the binary caches, then, for what no cache has, build the
 * layer's roots here. A path that neither brings stops with one line naming it.
 */
export async function realiseAbsent(what: string, paths: string[], opts: { progress: Progress; buildRoots?: () => Promise<unknown> }): Promise<void> {
  const absent = paths.filter((p) => !existsSync(p));
  if (!absent.length) return;
  opts.progress.step(what, `${absent.length} store path(s) of the blob are not in this machine's Nix store; realising them (nix-store --realise from the binary caches)`);
  let left = await substitutePaths(absent);
  let buildFailure = '';
  if (left.length && opts.buildRoots) {
    opts.progress.step(what, `${left.length} store path(s) are in no binary cache; building the layer's roots here`);
    try {
      await opts.buildRoots();
    } catch (err) {
      // Nix's own output is many lines; the last one says why.
      buildFailure = ((err as Error).message.trim().split('\n').pop() ?? '').trim();
    }
    left = left.filter((p) => !existsSync(p));
  }
  if (left.length) {
    const because = !opts.buildRoots
      ? "nor in this machine's Nix store"
      : buildFailure
        ? `and building the layer failed (${buildFailure})`
        : 'and building the layer did not make it';
    const more = left.length > 1 ? ` (${left.length - 1} more path(s) likewise)` : '';
    throw new MegapakError(`${what}: store path ${left[0]} is in no binary cache ${because}${more}`);
  }
  opts.progress.step(what, `realised ${absent.length} store path(s)`);
}
