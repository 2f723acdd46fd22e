import { Option, type Command } from 'commander';
import { basename } from 'node:path';
import ms from 'ms';
import { applyGc } from '../cache/gc.ts';
import { planGc } from '../cache/gc-plan.ts';
import { listCache } from '../cache/listing.ts';
import { blobReferences } from '../cache/references.ts';
import { scanCache } from '../cache/scan.ts';
import { BlobStore } from '../layer/blob-store.ts';
import { MegapakError, UsageError } from '../util/errors.ts';
import { columns } from '../report/text.ts';
import { formatBytes } from '../util/bytes.ts';
import { REPO_ROOT } from '../util/repo-root.ts';
import { collect, positiveInt } from './options.ts';
import { cacheDir } from './settings.ts';

const stacksOf = (dirs: string[]) => (dirs.length ? dirs : [REPO_ROOT]);
const stackOption = () =>
  new Option('--stack <dir>', 'a stack whose dist/layer.json records count as references (repeatable)').argParser(collect).default([], 'the repository root');

function age(iso: string, now = Date.now()): string {
  const d = now - Date.parse(iso);
  return d < 60_000 ? 'just now' : `${ms(d)} ago`;
}

function parseAge(v: string): number {
  const n = /^\d+$/.test(v) ? Number(v) * 1000 : ms(v as ms.StringValue);
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new UsageError(`--min-age takes a duration such as 30m, 1h or 2d, not '${v}'`);
  return n;
}

/** `megapak cache ls` and `megapak cache gc`: see and reclaim the blob store. */
export function registerCacheCommand(program: Command): void {
  const cache = program.command('cache').description('see the blob store ($MEGAPAK_CACHE_DIR), check its bytes, and remove blobs no layer record needs');

  cache
    .command('ls')
    .description('every blob: size, when last written or used, and which layer records refer to it')
    .addOption(stackOption())
    .option('--json', 'print the listing as JSON')
    .action(async (o: { stack: string[]; json?: boolean }) => {
      const root = cacheDir();
      const listing = listCache(await scanCache(root), await blobReferences(stacksOf(o.stack)));
      if (o.json) return console.log(JSON.stringify(listing, null, 2));
      const rows: (string | number)[][] = [['digest', 'size', 'last used', 'compression', 'referenced by']];
      for (const b of listing.blobs)
        rows.push([
          b.digest.slice(0, 19),
          formatBytes(b.size),
          age(b.lastUsed),
          b.compression ?? '-',
          b.referencedBy.map((r) => `${r.layer}@${r.version} (${basename(r.stack)})`).join(', ') || '-',
        ]);
      console.log(columns(rows));
      const t = listing.total;
      console.log(
        `\n${root}: ${t.blobs} blobs, ${formatBytes(t.bytes)}; referenced: ${t.referencedBlobs} (${formatBytes(t.referencedBytes)}); ` +
          `unreferenced: ${t.blobs - t.referencedBlobs} (${formatBytes(t.bytes - t.referencedBytes)})` +
          (listing.temps.length ? `; ${listing.temps.length} temp files (${formatBytes(t.tempBytes)}) being written or left by an interrupted build` : ''),
      );
    });

  cache
    .command('gc')
    .description('remove blobs that no current dist/layer.json of the given stacks refers to')
    .option('--keep-last <n>', 'keep the N most recently used unreferenced blobs (e.g. the previous versions)', (v) => positiveInt('--keep-last', v, true))
    .option('--all-unreferenced', 'remove every unreferenced blob old enough (same as --keep-last 0)')
    .addOption(
      new Option('--min-age <duration>', 'never remove what was written or used more recently (a running build may be about to record it)')
        .argParser(parseAge)
        .default(3600_000, '1h'),
    )
    .option('--dry-run', 'say what would be removed; remove nothing')
    .addOption(stackOption())
    .addHelpText(
      'after',
      `
Safe beside a running build: a build touches every blob it reuses and writes new ones just
before recording them, so nothing used within --min-age (default 1h) is removed; a blob is
moved aside and checked again before it is deleted, and a build that looks for it meanwhile
makes it again. Temp files of blobs being written are removed only when idle for --min-age.
Check records (checks/) of files that are gone, such as deleted layout copies, are removed too.
Blobs that other stacks sharing this cache need count only if those stacks are given too.`,
    )
    .action(async (o: { keepLast?: number; allUnreferenced?: boolean; minAge: number; dryRun?: boolean; stack: string[] }) => {
      if ((o.keepLast === undefined) === !o.allUnreferenced) throw new UsageError('cache gc: give exactly one of --keep-last N and --all-unreferenced');
      const root = cacheDir();
      const scan = await scanCache(root);
      const refs = await blobReferences(stacksOf(o.stack));
      const plan = planGc(scan.blobs, scan.temps, new Set(refs.keys()), { keepLast: o.keepLast ?? 0, minAgeMs: o.minAge, now: Date.now() });
      const doomed = plan.blobs.filter((b) => b.remove);
      const doomedTemps = plan.temps.filter((t) => t.remove);
      const kept = (reason: string) => plan.blobs.filter((b) => !b.remove && b.reason === reason).length;
      const keptLine = `kept ${plan.blobs.length - doomed.length}: ${kept('referenced')} referenced, ${kept('kept-last')} by --keep-last, ${kept('recent')} used within --min-age; ${plan.temps.length - doomedTemps.length} temp files in use`;
      if (o.dryRun) {
        for (const b of doomed) console.log(`would remove ${b.digest} ${formatBytes(b.size)} (last used ${age(new Date(b.mtimeMs).toISOString())})`);
        for (const t of doomedTemps) console.log(`would remove ${t.path} ${formatBytes(t.size)} (left by an interrupted build)`);
        console.log(`dry run: would remove ${doomed.length} blobs, ${formatBytes(doomed.reduce((s, b) => s + b.size, 0))}, and ${doomedTemps.length} temp files; ${keptLine}`);
        return;
      }
      const r = await applyGc(root, plan, scan.index, o.minAge);
      console.log(
        `removed ${r.removed} blobs, ${formatBytes(r.removedBytes)}, and ${r.tempsRemoved} temp files; ${keptLine}` +
          (r.reprieved.length ? `; ${r.reprieved.length} put back (a build used them meanwhile)` : '') +
          (r.checksRemoved ? `; ${r.checksRemoved} check records of files gone` : ''),
      );
    });

  cache
    .command('verify')
    .description('re-hash every blob (like nix-store --verify --check-contents); name each damaged one and exit 1 if any')
    .option('--repair', 'evict the damaged blobs (the next build, image or push makes them again from the Nix store)')
    .action(async (o: { repair?: boolean }) => {
      const store = new BlobStore(cacheDir());
      const { blobs } = await scanCache(store.root);
      const damaged: string[] = [];
      for (const b of blobs) {
        const r = await store.checks.check(b.path, b.digest, undefined, true);
        if (r.state !== 'damaged') continue;
        damaged.push(b.digest);
        if (o.repair) await store.evict(b.digest);
        console.log(`damaged ${b.digest}: ${b.path} holds ${r.actual}${o.repair ? '; evicted' : ''}`);
      }
      const bytes = formatBytes(blobs.reduce((s, b) => s + b.size, 0));
      if (!damaged.length) return console.log(`${store.root}: ${blobs.length} blobs (${bytes}) verified, none damaged`);
      throw new MegapakError(
        `${store.root}: ${damaged.length} of ${blobs.length} blobs damaged` +
          (o.repair ? ', evicted (made again by the next build, image or push)' : '; run megapak cache verify --repair to evict them'),
      );
    });
}
