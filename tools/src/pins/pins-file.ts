import { z } from 'zod';
import { writeJsonAtomic } from '../util/atomic.ts';
import { UsageError } from '../util/errors.ts';
import { readJsonFile } from '../util/json-file.ts';

// A source pinned by commit (github, git) and its NAR hash.
const sourcePin = z.looseObject({
  type: z.enum(['github', 'git']),
  owner: z.string().optional(),
  repo: z.string().optional(),
  url: z.string().optional(),
  /** What to follow: a tag, branch or HEAD. */
  ref: z.string(),
  rev: z.string().nullable(),
  hash: z.string().nullable(),
  submodules: z.boolean().optional(),
  /** Overrides for mirrors and tests; `{rev}` is replaced. */
  gitUrl: z.string().optional(),
  archiveUrl: z.string().optional(),
});
// A file pinned by URL and the SRI hash of its bytes (fetchurl's flat hash): `wheel` for a
// Python wheel, `url` for any other file. `evidence` says where the hash came from.
const filePin = z.looseObject({
  type: z.enum(['url', 'wheel']),
  url: z.string(),
  hash: z.string().nullable(),
  evidence: z.string().optional(),
  /** Older url pins carry a version label here. */
  ref: z.string().optional(),
  rev: z.string().nullable().optional(),
});
// Loose objects: fields this tool does not know (the Nix side's own) are kept when it writes.
const pin = z.union([sourcePin, filePin]);
export type Pin = z.infer<typeof pin>;
export type SourcePin = z.infer<typeof sourcePin>;
export type FilePin = z.infer<typeof filePin>;
export const isFilePin = (p: Pin): p is FilePin => p.type === 'url' || p.type === 'wheel';
/** A pin still to fill: no hash, or (a source) no commit. */
export const isOpen = (p: Pin) => !p.hash || (!isFilePin(p) && !p.rev);
const file = z.looseObject({ comment: z.string().optional(), pins: z.record(z.string(), pin) });
export type PinsFile = z.infer<typeof file>;

export const readPins = (path: string): Promise<PinsFile> => readJsonFile(path, file);

export const writePins = (path: string, pins: PinsFile) => writeJsonAtomic(path, pins);

export function gitUrlOf(name: string, p: SourcePin): string {
  if (p.gitUrl) return p.gitUrl;
  if (p.type === 'git' && p.url) return p.url;
  if (p.type === 'github' && p.owner && p.repo) return `https://github.com/${p.owner}/${p.repo}.git`;
  throw new UsageError(`pin '${name}' names no git URL`);
}

export function archiveUrlOf(p: SourcePin, rev: string): string {
  if (p.archiveUrl) return p.archiveUrl.replaceAll('{rev}', rev);
  return `https://github.com/${p.owner}/${p.repo}/archive/${rev}.tar.gz`;
}

/** Pure: which commit `ref` names in `git ls-remote` output (a tag's peeled commit first). */
export function revFromLsRemote(output: string, ref: string): string | undefined {
  const rows = output
    .trim()
    .split('\n')
    .map((l) => l.split('\t') as [string, string])
    .filter((r) => r.length === 2);
  const want = ref === 'HEAD' ? ['HEAD'] : [`refs/tags/${ref}^{}`, `refs/tags/${ref}`, `refs/heads/${ref}`, ref];
  for (const w of want) {
    const hit = rows.find(([, name]) => name === w);
    if (hit) return hit[0];
  }
  return /^[0-9a-f]{40}$/.test(ref) ? ref : undefined;
}

/** A store-path-safe name for a file URL (its last segment, %-decoded: `torch-2.10.0+cu130-….whl`). */
export function fileNameOf(url: string): string {
  const last = url.split(/[?#]/)[0]!.split('/').filter(Boolean).pop() ?? 'file';
  let name = last;
  try {
    name = decodeURIComponent(last);
  } catch {
    // not %-encoded after all: keep it as it is
  }
  return name.replace(/[^A-Za-z0-9+\-._?=]/g, '-').replace(/^\.+/, '') || 'file';
}
