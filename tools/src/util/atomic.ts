import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { trackTemp, untrackTemp } from './temp-files.ts';

/** A temp name beside `target`, so the final rename stays on one file system (atomic). */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * The one way megapak writes a file that others read: `write` fills a temp file beside the
 * target, which is renamed into place only when it succeeded; on failure (or Ctrl-C, through
 * the CLI's handler) the temp file is removed, so readers see the old file or the new one,
 * never a part. `target` may depend on the result (a blob is named by its digest), and may
 * be undefined to keep nothing.
 */
export async function withTempFile<T>(target: string | ((result: T) => string | undefined), write: (tmp: string) => Promise<T>, near?: string): Promise<T> {
  const dir = typeof target === 'string' ? dirname(target) : near;
  if (!dir) throw new Error('withTempFile: a target computed from the result needs `near`');
  await mkdir(dir, { recursive: true });
  const tmp = tempPathFor(typeof target === 'string' ? target : join(dir, 'incoming'));
  trackTemp(tmp);
  try {
    const result = await write(tmp);
    const dest = typeof target === 'string' ? target : target(result);
    if (dest !== undefined) await rename(tmp, dest);
    return result;
  } finally {
    await rm(tmp, { force: true });
    untrackTemp(tmp);
  }
}

/** Write a whole file atomically. */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  await withTempFile(target, (tmp) => writeFile(tmp, data));
}

export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n');
}
