// A "fresh CI runner" on this machine: a stack whose store paths are its own (a salt in the
// busybox derivation every package is built from), a file:// Nix binary cache holding them,
// and those paths deleted from the local store. The Nix store is shared with other work on
// this machine, so only salted paths are ever deleted, and the guard below checks that.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO, run } from './cli.ts';
import { copyFixtureStack, FIXTURE_STACK, readRecords } from './fixture.ts';
import type { Registry } from './registry.ts';

const NIX = ['--extra-experimental-features', 'nix-command'];

/** A copy of `source` (the fixture stack by default) whose every store path is unique to `salt`. */
export async function saltedStack(source = FIXTURE_STACK, salt = `t${randomBytes(6).toString('hex')}`): Promise<{ dir: string; salt: string }> {
  const dir = await copyFixtureStack(source);
  const file = join(dir, 'nix', 'pkgs.nix');
  const text = await readFile(file, 'utf8');
  const salted = text.replace(/(busybox = derivation \{\s*name = "busybox";)/, `$1 megapakSalt = "${salt}";`);
  if (salted === text) throw new Error(`${file}: no busybox derivation to salt`);
  await writeFile(file, salted);
  return { dir, salt };
}

/** NIX_CONFIG for a runner whose only substituter is the file:// cache in `dir` (unsigned). */
export const onlySubstituter = (dir: string) => ({ NIX_CONFIG: `substituters = file://${dir}\nrequire-sigs = false` });

/** Every store path a built stack ships (its layers' records), in layer order. */
export async function shippedPaths(stackDir: string): Promise<string[]> {
  return (await readRecords(stackDir)).flatMap((r) => r.paths.map((p) => p.path));
}

/** What scripts/nix-cache-push.sh (the image workflow's step) copies into a file:// cache. */
export async function pushToFileCache(stackDir: string, cacheDir: string): Promise<string> {
  const r = await run('bash', [join(REPO, 'scripts', 'nix-cache-push.sh'), `file://${cacheDir}?compression=none`, stackDir], { env: { NIX_CONFIG: 'substituters =' } });
  if (r.code !== 0) throw new Error(`nix-cache-push.sh: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The salted busybox among `paths`: its derivation carries the salt. */
async function saltedBusybox(paths: string[], salt: string): Promise<string> {
  for (const p of paths.filter((x) => x.endsWith('-busybox'))) {
    const drv = (await run('nix-store', ['--query', '--deriver', p])).stdout.trim();
    if (existsSync(drv) && (await readFile(drv, 'utf8')).includes(`"megapakSalt","${salt}"`)) return p;
  }
  throw new Error(`no busybox built with salt ${salt} among the paths to delete: refusing to delete anything`);
}

/**
 * `nix-store --delete` the paths, after checking that each one's closure holds the busybox
 * built with `salt` (so it is this test's own path, never one that other work shares); that
 * busybox is looked for among `busyboxAmong` (when it is kept, the closure it is in).
 */
export async function deleteSaltedPaths(paths: string[], salt: string, busyboxAmong = paths): Promise<void> {
  const busybox = await saltedBusybox(busyboxAmong, salt);
  for (const p of paths) {
    const closure = await run('nix-store', ['--query', '--requisites', p]);
    if (closure.code !== 0 || !closure.stdout.split('\n').includes(busybox)) throw new Error(`${p} is not built from ${busybox}: refusing to delete anything`);
  }
  const r = await run('nix-store', ['--delete', ...paths]);
  if (r.code !== 0) throw new Error(`nix-store --delete: ${r.stderr}`);
  const left = paths.filter((p) => existsSync(p));
  if (left.length) throw new Error(`still in the store after nix-store --delete: ${left.join(', ')}`);
}

/** For each present path: was it built here (`ultimate`) or substituted? Nix 2.8 and 2.19+ shapes. */
export async function pathOrigins(paths: string[]): Promise<Map<string, 'built' | 'substituted'>> {
  const r = await run('nix', [...NIX, 'path-info', '--json', ...paths]);
  if (r.code !== 0) throw new Error(`nix path-info: ${r.stderr}`);
  const json = JSON.parse(r.stdout) as unknown;
  const entries: [string, { ultimate?: boolean }][] = Array.isArray(json)
    ? (json as { path: string; ultimate?: boolean }[]).map((e) => [e.path, e])
    : Object.entries(json as Record<string, { ultimate?: boolean }>);
  return new Map(entries.map(([p, e]) => [p, e.ultimate ? 'built' : 'substituted']));
}

export interface Request {
  method: string;
  path: string;
}

/** The registry's access log from `mark` (a length of `reg.log()`) on, as method + path. */
export function requestsSince(reg: Registry, mark: number): Request[] {
  return [
    ...reg
      .log()
      .slice(mark)
      .matchAll(/"(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP\/[\d.]+"/g),
  ].map((m) => ({ method: m[1]!, path: m[2]! }));
}

/** Requests that upload or mount a blob (start, chunk or finish of an upload session). */
export const blobUploads = (reqs: Request[]) => reqs.filter((r) => r.path.includes('/blobs/uploads/') && r.method !== 'GET');
/** The digests whose upload finished (the PUT that closes a session names the digest). */
export const uploadedDigests = (reqs: Request[]) =>
  reqs.filter((r) => r.method === 'PUT' && r.path.includes('/blobs/uploads/')).map((r) => /digest=(sha256(?::|%3A)[0-9a-f]{64})/.exec(r.path)![1]!.replace('%3A', ':'));
