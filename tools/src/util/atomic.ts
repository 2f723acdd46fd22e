import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { annotateIoError } from './io-error.ts';
import { trackTemp, untrackTemp } from './temp-files.ts';

/** A temp name beside `target`, so the final rename stays on one file system (atomic). */
export function tempPathFor(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * mkdir -p whose failure is the real one: Node's recursive mkdir answers ENOENT where the
 * first missing folder cannot be made (a read-only file system, no permission).
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    let first = dir;
    while (!existsSync(dirname(first)) && dirname(first) !== first) first = dirname(first);
    await mkdir(first); // throws EROFS, EACCES, …
    throw err;
  }
}

/**
 * The one way megapak writes a file that others read: `write` fills a temp file beside the
 * target, which is renamed into place only when it succeeded; on failure (or Ctrl-C, through
 * the CLI's handler) the temp file is removed, so readers see the old file or the new one,
 * never a part. `target` may depend on the result (a blob is named by its digest), and may
 * be undefined to keep nothing. `need` (bytes the file will take, if known) goes into the one
 * line a full disk gets.
 */
export async function withTempFile<T>(target: string | ((result: T) => string | undefined), write: (tmp: string) => Promise<T>, near?: string, need?: number): Promise<T> {
  const dir = typeof target === 'string' ? dirname(target) : near;
  if (!dir) throw new Error('withTempFile: a target computed from the result needs `near`');
  const tmp = tempPathFor(typeof target === 'string' ? target : join(dir, 'incoming'));
  trackTemp(tmp);
  try {
    await makeDir(dir);
    const result = await write(tmp);
    const dest = typeof target === 'string' ? target : target(result);
    if (dest !== undefined) await rename(tmp, dest);
    return result;
  } catch (err) {
    // A stream's write error names no file: say which one, and how far it got.
    const written = await stat(tmp).then(
      (s) => s.size,
      () => undefined,
    );
    annotateIoError(err, typeof target === 'string' ? target : dir, { need, written });
    throw err;
  } finally {
    await rm(tmp, { force: true });
    untrackTemp(tmp);
  }
}

/** The file's bytes, or undefined when it can't be read (absent, say). */
const bytesOf = (p: string) => readFile(p).catch(() => undefined);

/**
 * Write a whole file atomically; a file that already holds exactly these bytes is left alone
 * (a no-change build rewrites every record and the OCI layout's small files otherwise).
 */
export async function writeFileAtomic(target: string, data: string | Uint8Array): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data) : data;
  if ((await bytesOf(target))?.equals(bytes)) return;
  await withTempFile(target, (tmp) => writeFile(tmp, bytes), undefined, bytes.length);
}

export async function writeJsonAtomic(target: string, value: unknown): Promise<void> {
  await writeFileAtomic(target, JSON.stringify(value, null, 2) + '\n');
}
