import { existsSync, statfsSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatBytes } from './bytes.ts';

// A failed read or write of the machine's files (a full disk, a read-only mount, missing
// permission, too many open files) as one line naming the path: Node's own error for a
// stream write names no path ("ENOSPC: no space left on device, write"), so the write sites
// (util/atomic.ts) attach the file they were writing and what it needed.

type IoErr = NodeJS.ErrnoException & { dest?: string; megapakPath?: string; megapakWhat?: string; megapakNeed?: number; megapakWritten?: number };

const WHAT: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  EMFILE: 'too many open files (EMFILE; raise the limit: ulimit -n)',
  ENFILE: 'too many open files on the system (ENFILE)',
  EIO: 'input/output error (the disk?)',
  EFBIG: "file too large (EFBIG: over the file system's or this process's limit, ulimit -f)",
};

export function isIoError(err: unknown): err is IoErr {
  return typeof (err as IoErr)?.code === 'string' && (err as IoErr).code! in WHAT;
}

/** Give an I/O error the path it happened at (when Node named none) and what the write needed. */
export function annotateIoError(err: unknown, path: string | undefined, o: { what?: string; need?: number; written?: number } = {}): void {
  if (!isIoError(err)) return;
  // The file being written, not a temp name that is gone by the time the line is read.
  if (path !== undefined) err.megapakPath ??= path;
  if (o.what !== undefined) err.megapakWhat ??= o.what;
  if (o.need !== undefined) err.megapakNeed ??= o.need;
  if (o.written !== undefined) err.megapakWritten ??= o.written;
}

/** Free bytes for an unprivileged writer on the file system holding `path` (or its nearest existing parent). */
function freeBytes(path: string): number | undefined {
  let p = path;
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  try {
    const s = statfsSync(p);
    return Number(s.bavail) * Number(s.bsize);
  } catch {
    return undefined;
  }
}

/** One line for an I/O error, or undefined when `err` is not one. */
export function ioErrorLine(err: unknown): string | undefined {
  // A worker thread (gzip, hashing) that could not start carries the errno only in its message.
  const e = err as Error & { code?: string };
  const workerErrno = e?.code === 'ERR_WORKER_INIT_FAILED' ? /\b(E[A-Z]+)\b/.exec(e.message ?? '')?.[1] : undefined;
  if (workerErrno && workerErrno in WHAT) return `${WHAT[workerErrno]}: starting a worker thread`;
  if (!isIoError(err)) return undefined;
  // copyfile, link, rename: the destination is where the room or the permission was lacking.
  const path = err.megapakPath ?? err.dest ?? err.path;
  const syscall = err.syscall?.split(' ')[0]; // 'spawn nix' names its program itself
  const where = path ? `${syscall ? `${syscall} ` : ''}${path}` : (syscall ?? 'a file');
  let line = `${err.megapakWhat ? `${err.megapakWhat}: ` : ''}${WHAT[err.code!]}: ${where}`;
  if ((err.code === 'ENOSPC' || err.code === 'EDQUOT' || err.code === 'EFBIG') && path) {
    const free = err.code === 'EFBIG' ? undefined : freeBytes(path);
    const facts = [
      err.megapakNeed !== undefined ? `needs about ${formatBytes(err.megapakNeed)}` : undefined,
      err.megapakWritten !== undefined ? `${formatBytes(err.megapakWritten)} written, then removed` : undefined,
      free !== undefined ? `${formatBytes(free)} free there` : undefined,
    ].filter(Boolean);
    if (facts.length) line += ` (${facts.join(', ')})`;
  }
  return line;
}
