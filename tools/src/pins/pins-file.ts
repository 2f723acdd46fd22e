import { z } from 'zod';
import { writeJsonAtomic } from '../util/atomic.ts';
import { UsageError } from '../util/errors.ts';
import { readJsonFile } from '../util/json-file.ts';

const pin = z.object({
  type: z.enum(['github', 'git', 'url']),
  owner: z.string().optional(),
  repo: z.string().optional(),
  url: z.string().optional(),
  /** What to follow: a tag, branch or HEAD (git), or a version label (url). */
  ref: z.string(),
  rev: z.string().nullable(),
  hash: z.string().nullable(),
  submodules: z.boolean().optional(),
  /** Overrides for mirrors and tests; `{rev}` is replaced. */
  gitUrl: z.string().optional(),
  archiveUrl: z.string().optional(),
});
export type Pin = z.infer<typeof pin>;
const file = z.object({ comment: z.string().optional(), pins: z.record(z.string(), pin) });
export type PinsFile = z.infer<typeof file>;

export const readPins = (path: string): Promise<PinsFile> => readJsonFile(path, file);

export const writePins = (path: string, pins: PinsFile) => writeJsonAtomic(path, pins);

export function gitUrlOf(name: string, p: Pin): string {
  if (p.gitUrl) return p.gitUrl;
  if (p.type === 'git' && p.url) return p.url;
  if (p.type === 'github' && p.owner && p.repo) return `https://github.com/${p.owner}/${p.repo}.git`;
  throw new UsageError(`pin '${name}' names no git URL`);
}

export function archiveUrlOf(p: Pin, rev: string): string {
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
