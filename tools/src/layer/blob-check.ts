import { createHash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, readdir, rm, stat, writeFile, rename } from 'node:fs/promises';
import { join, resolve } from 'node:path';

/** sha256 of a file's bytes, streamed; `count` is told each chunk's length. */
async function hashFile(file: string, count: (bytes: number) => void): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file, { highWaterMark: 4 << 20 })) {
    h.update(chunk as Buffer);
    count((chunk as Buffer).length);
  }
  return `sha256:${h.digest('hex')}`;
}

/** What a file looked like when its bytes were last known to hash to `digest`. */
interface Stamp {
  /** The file stamped (absolute): `cache gc` drops the stamps of files that are gone. */
  file?: string;
  digest: string;
  size: string;
  dev: string;
  ino: string;
  mtimeNs: string;
  ctimeNs: string;
  nlink: string;
}

export type CheckResult = { state: 'ok' } | { state: 'absent' } | { state: 'damaged'; actual: string };

/**
 * The blob store's check of what it hands out. When a blob file is written (or found intact),
 * its size, device, inode, modification time, change time and link count are stamped beside
 * the store (`checks/`). A later use compares them with one stat; when they differ the file is
 * hashed in full.
 *
 * What counts as "unchanged" (git's index is the model: stat data instead of contents):
 * - size, device, inode and mtime must match: a write through any name (a layout's hard link,
 *   dd, a bad copy in place) moves mtime; an editor's save or a copy over the name is a new inode.
 * - ctime must match too, unless the link count changed. ctime is what catches a write whose
 *   mtime was set back afterwards (`touch -d`, `cp -p`/rsync -t in place), since no one can set
 *   ctime. But unlinking any other name of the inode moves ctime as well — `rm -rf` of an old
 *   layout whose blobs are hard links into the store, a layout replaced, `cache gc` — and
 *   re-hashing every shared blob after each of those cost seconds per GB. When the link count
 *   differs from the stamp's, ctime cannot tell an unlink from a write, so the check falls back
 *   to mtime (git's `core.trustctime=false`) and stamps the blob again. The one write this
 *   lets by is a deliberate one: mtime set back to the nanosecond and a link added or removed
 *   before the next use (the registry's digest check still stops it at push).
 * Not chosen: read-only blobs (the Nix store's 0444 files, containerd's read-only content
 * store). Their guarantee comes from a daemon that owns the store; here the user, often root
 * in CI, owns it and can write a 0444 file anyway, `rm -r` of a layout would ask about every
 * file, and the chmod itself would move ctime. Silent bit rot changes no stat data at all: the
 * registry's digest check catches that one at push, and `megapak cache verify` re-hashes everything.
 */
export class BlobChecks {
  /** What full hashes cost so far (blobs and bytes): a build says so, and tests count it. */
  readonly hashed = { files: 0, bytes: 0 };

  constructor(readonly dir: string) {}

  private stampPath(file: string): string {
    return join(this.dir, `${createHash('sha256').update(resolve(file)).digest('hex').slice(0, 40)}.json`);
  }

  private static async statOf(file: string): Promise<Omit<Stamp, 'digest'> | undefined> {
    try {
      const st = await stat(file, { bigint: true });
      return {
        size: String(st.size),
        dev: String(st.dev),
        ino: String(st.ino),
        mtimeNs: String(st.mtimeNs),
        ctimeNs: String(st.ctimeNs),
        nlink: String(st.nlink),
      };
    } catch {
      return undefined;
    }
  }

  /** Record that `file` now holds the bytes of `digest` (the caller just wrote or hashed it; `seen`: the stat that vouched for it). */
  async record(file: string, digest: string, seen?: Omit<Stamp, 'digest'>): Promise<void> {
    const st = seen ?? (await BlobChecks.statOf(file));
    if (!st) return;
    const p = this.stampPath(file);
    await mkdir(this.dir, { recursive: true });
    // Temp + rename: a reader never sees half a stamp (it would only cost a re-hash).
    const tmp = `${p}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify({ file: resolve(file), digest, ...st } satisfies Stamp));
    await rename(tmp, p);
  }

  async forget(file: string): Promise<void> {
    await rm(this.stampPath(file), { force: true });
  }

  /**
   * Remove the stamps of files that are gone: layout copies on other file systems leave one
   * each, which nothing else removes. A stamp from before stamps named their file is removed
   * too unless it is one of `known` files' (the store's blobs; any other costs one re-hash of
   * its file), and a temp stamp left by a killed process once older than `minAgeMs`. Losing a
   * stamp is never wrong, only a re-hash. Returns how many went.
   */
  async prune(minAgeMs: number, known: string[] = []): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const knownStamps = new Set(known.map((f) => this.stampPath(f)));
    let removed = 0;
    for (const name of names) {
      const p = join(this.dir, name);
      let gone: boolean;
      if (name.endsWith('.tmp'))
        gone = await stat(p).then(
          (st) => Date.now() - st.mtimeMs >= minAgeMs,
          () => false,
        );
      else if (name.endsWith('.json')) {
        const stamp = await readFile(p, 'utf8').then(
          (t) => JSON.parse(t) as Stamp,
          () => undefined,
        );
        gone = !!stamp && (stamp.file ? !existsSync(stamp.file) : !knownStamps.has(p));
      } else continue;
      if (!gone) continue;
      await rm(p, { force: true });
      removed++;
    }
    return removed;
  }

  /** The stat check alone: true when the file is unchanged since it was stamped as `digest`. */
  async unchanged(file: string, digest: string, size?: number): Promise<boolean> {
    const st = await BlobChecks.statOf(file);
    if (!st || (size !== undefined && st.size !== String(size))) return false;
    return this.matchesStamp(file, digest, st);
  }

  /** Whether `file`'s stamp says `digest` for the file as `st` found it (see the class comment); a match after a link change is stamped again. */
  private async matchesStamp(file: string, digest: string, st: Omit<Stamp, 'digest'>): Promise<boolean> {
    const stamp = await readFile(this.stampPath(file), 'utf8').then(
      (t) => JSON.parse(t) as Stamp,
      () => undefined,
    );
    // A stamp from an older megapak has no mtime or link count: it does not match (one re-hash).
    if (!stamp || stamp.digest !== digest || stamp.size !== st.size || stamp.dev !== st.dev || stamp.ino !== st.ino || stamp.mtimeNs !== st.mtimeNs) return false;
    if (stamp.ctimeNs === st.ctimeNs) return true;
    if (stamp.nlink === undefined || stamp.nlink === st.nlink) return false;
    await this.record(file, digest, st);
    return true;
  }

  /** Cheap check, then a full hash when it fails (`full`: hash regardless); a file found intact is stamped. */
  async check(file: string, digest: string, size?: number, full = false): Promise<CheckResult> {
    const st = await BlobChecks.statOf(file);
    if (!st) return { state: 'absent' };
    if (size !== undefined && st.size !== String(size)) return { state: 'damaged', actual: `${st.size} bytes, not ${size}` };
    // The stat just taken serves the stamp comparison too (this runs on every blob-store hit).
    if (!full && (await this.matchesStamp(file, digest, st))) return { state: 'ok' };
    this.hashed.files++;
    const actual = await hashFile(file, (n) => (this.hashed.bytes += n)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (actual === undefined) return { state: 'absent' };
    if (actual !== digest) return { state: 'damaged', actual };
    await this.record(file, digest);
    return { state: 'ok' };
  }
}
