// A pin's rev and NAR hash from a local git mirror, without network: for air-gapped machines
// and for sources fetched by other means. The tree is made exactly as Nix's fetcher makes it:
//  - `github` pins (fetchFromGitHub = GitHub's archive) from `git archive`, which applies the
//    same .gitattributes rules as GitHub's archive (export-ignore, export-subst);
//  - `git` pins (fetchgit / nix-prefetch-git = a checkout) from a checkout of the commit, with
//    each submodule checked out at its recorded commit from its own mirror (`submodules`).
// The hash is `nix hash path` of that tree: the NAR hash Nix checks the fetched source against.
// A zx module like update.ts: a sequence of git, tar and nix invocations.
import { $ } from 'zx';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MegapakError, UsageError } from '../util/errors.ts';
import type { SourcePin } from './pins-file.ts';

$.verbose = false;
$.quiet = true;

/** Git as the Nix sandbox runs it: no user or system configuration (autocrlf, filters, …). */
const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const git = (args: string[]) => $({ env: gitEnv, nothrow: true })`git ${args}`;

const lastLine = (s: string) => s.trim().split('\n').pop() ?? '';

/** The commit `ref` names in the mirror: a full hash, HEAD, a tag, a branch or a remote branch. */
export async function localRev(name: string, dir: string, ref: string): Promise<string> {
  const candidates = /^[0-9a-f]{40}$/.test(ref) || ref === 'HEAD' ? [ref] : [`refs/tags/${ref}`, `refs/heads/${ref}`, `refs/remotes/origin/${ref}`, ref];
  for (const c of candidates) {
    const r = await git(['-C', dir, 'rev-parse', '--verify', '--quiet', `${c}^{commit}`]);
    if (r.exitCode === 0) return r.stdout.trim();
  }
  throw new MegapakError(`pin '${name}': ${dir} has no commit for ref '${ref}'`);
}

/** Writes the tree of `rev` to `out`: a `git archive` (GitHub semantics) or a checkout. */
async function writeTree(name: string, dir: string, rev: string, out: string, mode: 'archive' | 'checkout', scratch: string) {
  await mkdir(out, { recursive: true });
  if (mode === 'archive') {
    // Through a file, so a failing `git archive` (say a mirror without some blob) is seen.
    const tar = join(scratch, 'src.tar');
    const a = await git(['-C', dir, 'archive', '--format=tar', '-o', tar, rev]);
    if (a.exitCode !== 0) throw new MegapakError(`pin '${name}': git archive ${rev} in ${dir} failed: ${lastLine(a.stderr)}`);
    const x = await $({ nothrow: true })`tar -xf ${tar} -C ${out}`;
    if (x.exitCode !== 0) throw new MegapakError(`pin '${name}': unpacking git archive ${rev} failed: ${lastLine(x.stderr)}`);
    await rm(tar);
    return;
  }
  const gitDir = (await git(['-C', dir, 'rev-parse', '--absolute-git-dir'])).stdout.trim();
  const env = { ...gitEnv, GIT_INDEX_FILE: join(scratch, `index-${rev}`) };
  for (const args of [
    ['read-tree', rev],
    ['checkout-index', '--all'],
  ]) {
    const r = await $({ env, nothrow: true })`git --git-dir=${gitDir} --work-tree=${out} ${args}`;
    if (r.exitCode !== 0) throw new MegapakError(`pin '${name}': checkout of ${rev} from ${dir} failed: ${lastLine(r.stderr)}`);
  }
  await rm(env.GIT_INDEX_FILE, { force: true });
}

/** Gitlinks (submodules) of a commit: path and recorded commit. */
async function gitlinks(dir: string, rev: string): Promise<{ path: string; commit: string }[]> {
  const r = await git(['-C', dir, 'ls-tree', '-r', '-z', rev]);
  return r.stdout
    .split('\0')
    .filter((l) => l.startsWith('160000 commit '))
    .map((l) => {
      const [meta, path] = l.split('\t') as [string, string];
      return { path, commit: meta.split(' ')[2]! };
    });
}

/** Checks out every submodule of `rev` (recursively) into `out` from the mirrors in `submodules`. */
async function writeSubmodules(name: string, dir: string, rev: string, out: string, submodules: Record<string, string>, prefix: string, scratch: string) {
  for (const link of await gitlinks(dir, rev)) {
    const full = prefix + link.path;
    const mirror = submodules[full];
    if (!mirror) throw new MegapakError(`pin '${name}': submodule ${full} (commit ${link.commit}) has no mirror: pass --submodule ${full}=DIR`);
    const have = await git(['-C', mirror, 'cat-file', '-e', `${link.commit}^{commit}`]);
    if (have.exitCode !== 0) throw new MegapakError(`pin '${name}': submodule ${full}: ${mirror} has no commit ${link.commit}`);
    await writeTree(name, mirror, link.commit, join(out, link.path), 'checkout', scratch);
    await writeSubmodules(name, mirror, link.commit, join(out, link.path), submodules, `${full}/`, scratch);
  }
}

/**
 * The pin's commit and NAR hash from a local mirror. Also says when GitHub's archive may differ
 * from `git archive` (export-subst placeholders, expanded with GitHub's own abbreviations).
 */
export async function pinFromGit(name: string, p: SourcePin, dir: string, submodules: Record<string, string>): Promise<{ rev: string; hash: string; notes: string[] }> {
  if ((await git(['-C', dir, 'rev-parse', '--git-dir'])).exitCode !== 0) throw new UsageError(`--from-git ${dir} is not a git repository`);
  const rev = await localRev(name, dir, p.ref);
  const scratch = await mkdtemp(join(tmpdir(), 'megapak-pin-'));
  try {
    const tree = join(scratch, 'source');
    const mode = p.type === 'github' ? 'archive' : 'checkout';
    await writeTree(name, dir, rev, tree, mode, scratch);
    if (p.type === 'git' && p.submodules) await writeSubmodules(name, dir, rev, tree, submodules, '', scratch);
    const h = await $({ nothrow: true })`nix --extra-experimental-features nix-command hash path --type sha256 ${tree}`;
    if (h.exitCode !== 0) throw new MegapakError(`pin '${name}': nix hash path failed: ${lastLine(h.stderr)}`);
    const notes: string[] = [];
    if (mode === 'archive') {
      const subst = await git(['-C', dir, 'grep', '-q', 'export-subst', rev, '--', '.gitattributes', '**/.gitattributes']);
      if (subst.exitCode === 0) notes.push(`${name}: .gitattributes uses export-subst; GitHub's archive may expand it differently from git archive`);
    }
    return { rev, hash: h.stdout.trim(), notes };
  } finally {
    // The tree is read-only only if a source made it so; make it removable either way.
    await $({ nothrow: true })`chmod -R u+w ${scratch}`;
    await rm(scratch, { recursive: true, force: true });
  }
}
