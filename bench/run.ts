// `pnpm bench`: megapak beside GNU tar, compressors, Turborepo and skopeo on two synthetic
// stacks — bench/stack-many (shaped like the real image: ~170k entries, mostly small files)
// and bench/stack (a few huge files) — each measured several times in one run on this
// machine. Writes bench/results.json and bench/results.md (results-split.* with MEGAPAK_BENCH_ONLY=split).
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO } from '../test/helpers/cli.ts';
import { copyFixtureStack, readRecords } from '../test/helpers/fixture.ts';
import { startRegistry, type Registry } from '../test/helpers/registry.ts';
import { TURBO, commitAll, makeFixtureWorkspace } from '../test/helpers/workspace.ts';
import { measure, repeat, stat, type Row, type Sample, type Stat } from './measure.ts';
import { tocRows } from './toc.ts';
import { splitRows } from './split.ts';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const WORK = join(HERE, 'work');
const RUNS = Number(process.env.MEGAPAK_BENCH_RUNS ?? 3);
// MEGAPAK_BENCH_ONLY=split or =toc: only those rows, into results-split.* or results-toc.*, for a quick look.
const ONLY = process.env.MEGAPAK_BENCH_ONLY;
const OUT = ONLY === 'split' || ONLY === 'toc' ? `results-${ONLY}` : 'results';
const MEGAPAK = join(REPO, 'tools', 'bin', 'megapak.js');
const baseEnv = { NIX_CONFIG: process.env.NIX_CONFIG ?? 'substituters =', TURBO_TELEMETRY_DISABLED: '1' };

const megapak = (args: string[], env: NodeJS.ProcessEnv, cwd?: string) => measure(process.execPath, [MEGAPAK, ...args], { env: { ...baseEnv, ...env }, cwd });
const bash = (script: string) => measure('bash', ['-c', script]);
const log = (s: string) => process.stderr.write(`bench: ${s}\n`);
/** Before a timed cold run: what earlier runs wrote goes to disk now, not during this run. */
const settle = async () => void (await measure('sync', []));

async function freshDir(name: string): Promise<string> {
  const d = join(WORK, name);
  await rm(d, { recursive: true, force: true });
  await mkdir(d, { recursive: true });
  return d;
}

/**
 * One shell script that tars every layer's delta, compresses, writes and hashes it. With
 * `diffId`, it also hashes the uncompressed tar, as megapak must for the image config.
 */
function gnuTarScript(layers: string[][], compressor: string, outDir: string, diffId = false): string {
  return [
    'set -euo pipefail',
    ...layers.map((paths, i) => {
      const rel = paths.map((p) => p.slice(1)).join(' ');
      const hashTar = diffId ? ' | tee >(sha256sum >/dev/null)' : '';
      return `tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1 --format=pax -C / -cf - ${rel}${hashTar} ${compressor} | tee ${outDir}/layer-${i}.tar | sha256sum >/dev/null`;
    }),
  ].join('\n');
}

interface StackInfo {
  label: string;
  paths: number;
  entries: number;
  narBytes: number;
}

type Prepared = Awaited<ReturnType<typeof prepareStack>>;

/** Build a copy of `source` once (Nix builds it the first time; the store keeps it) and describe it. */
async function prepareStack(source: string, label: string): Promise<{ stack: string; layers: string[][]; info: StackInfo }> {
  const stack = await copyFixtureStack(source);
  log(`${label}: building with Nix (cached in the store after the first run): ${stack}`);
  const prep = await megapak(['build', '--stack', stack, '--compression', 'none', '--oci', join(await freshDir('prep'), 'oci')], {
    MEGAPAK_CACHE_DIR: await freshDir('prep-cache'),
  });
  log(prep.stdout.trim().split('\n').slice(-3).join(' | '));
  const records = await readRecords(stack);
  const layers = records.map((r) => r.paths.map((p) => p.path));
  // Every entry under the store paths, plus `nix/` and `nix/store/`.
  const entries = Number((await bash(`find ${layers.flat().join(' ')} | wc -l`)).stdout.trim()) + 2;
  const info = { label, paths: layers.flat().length, entries, narBytes: records.reduce((s, r) => s + r.narSize, 0) };
  log(`${label}: ${info.paths} store paths, ${info.entries} tar entries, ${(info.narBytes / 1e9).toFixed(2)} GB (NAR)`);
  return { stack, layers, info };
}

/** Cold builds (none, gzip, zstd) beside GNU tar piped into the same compressor, and a no-change rebuild. */
async function coldAndWarm(stack: string, layers: string[][], label: string, opts: { fairZstd: boolean }): Promise<Row[]> {
  const rows: Row[] = [];
  // Issue 24's goals for the many-file stack (shaped like the real image): ≤ 0.6 × tar uncompressed, ≤ 0.8 × with zstd.
  const many = label === 'many-file';
  const compressors: [string, string, string, number][] = [
    ['none', '', 'GNU tar | tee | sha256sum', many ? 0.6 : 1.0],
    ['gzip', '| gzip -6', 'GNU tar | gzip -6 | tee | sha256sum', 0.6],
    ['zstd', '| zstd -3 -T0 -q -c', 'GNU tar | zstd -3 -T0 | tee | sha256sum', many ? 0.8 : 1.1],
  ];
  let coldGzip: Stat | undefined;
  // Both sides start from the same page cache: every input read once through a pipe (GNU tar
  // skips reading when it sees /dev/null), then megapak and the reference alternate run by run.
  await bash(`tar -cf - ${layers.flat().join(' ')} | cat >/dev/null`);
  for (const [c, pipe, refName, limit] of compressors) {
    log(`${label}: cold build, ${c}`);
    const ours: Sample[] = [];
    const ref: Sample[] = [];
    for (let i = 0; i < RUNS; i++) {
      const out = await freshDir(`cold-${c}`);
      await settle();
      ours.push(await megapak(['build', '--stack', stack, '--compression', c, '--oci', join(out, 'oci')], { MEGAPAK_CACHE_DIR: join(out, 'cache') }));
      const tarOut = await freshDir(`tar-${c}`);
      await settle();
      ref.push(await bash(gnuTarScript(layers, pipe, tarOut)));
    }
    await rm(join(WORK, `tar-${c}`), { recursive: true, force: true });
    const o = stat(ours);
    const r = stat(ref);
    if (c === 'gzip') coldGzip = o;
    rows.push({
      stack: label,
      what: `cold build, 12 layers, ${c}`,
      ours: o,
      reference: { name: refName, stat: r },
      goal: `≤ ${limit} × reference`,
      met: o.median <= limit * r.median,
    });
    if (c === 'zstd' && opts.fairZstd) {
      // The same pipeline doing megapak's work too: a diffID over the uncompressed tar.
      const fair = stat(
        await repeat(RUNS, async () => {
          const tarOut = await freshDir(`tar-${c}`);
          await settle();
          return bash(gnuTarScript(layers, pipe, tarOut, true));
        }),
      );
      rows.push({
        stack: label,
        what: `  (same, reference also hashing the tar for the diffID)`,
        ours: o,
        reference: { name: `${refName} + tee >(sha256sum)`, stat: fair },
        goal: `≤ ${limit} × reference`,
        met: o.median <= limit * fair.median,
      });
    }
    if (c === 'gzip') {
      // Warm: the same stack, blob store and outputs again, nothing changed (the megapak bin, SBOM attached).
      // Alternated with the same build right after `rm -rf` of a second layout of the image, whose
      // blobs were hard links into the blob store (issue 24: an unlink must not cost a re-hash).
      const out = join(WORK, 'cold-gzip');
      const env = { MEGAPAK_CACHE_DIR: join(out, 'cache') };
      const noChange = (oci: string) => megapak(['build', '--stack', stack, '--compression', 'gzip', '--oci', oci], env);
      const steady: Sample[] = [];
      const afterRm: Sample[] = [];
      for (let i = 0; i < RUNS; i++) {
        steady.push(await noChange(join(out, 'oci')));
        await noChange(join(out, 'second-oci'));
        await rm(join(out, 'second-oci'), { recursive: true, force: true });
        afterRm.push(await noChange(join(out, 'oci')));
      }
      const warm = stat(steady);
      const limit = many ? 0.5 : 1;
      rows.push({
        stack: label,
        what: 'no-change build (megapak build, 12 layers, SBOM attached)',
        ours: warm,
        reference: { name: 'cold build, gzip', stat: coldGzip! },
        goal: `≤ ${limit} s and ≤ 0.08 × cold`,
        met: warm.median <= limit && warm.median <= 0.08 * coldGzip!.median,
      });
      const rehashed = afterRm.map((s) => /, (\d+) blobs re-hashed/.exec(s.stdout)?.[1] ?? '?').join('/');
      const after = stat(afterRm);
      rows.push({
        stack: label,
        what: `no-change build right after rm -rf of a second layout (blobs re-hashed per run: ${rehashed})`,
        ours: after,
        reference: { name: 'no-change build', stat: warm },
        goal: '≤ 1.3 × reference + 0.2 s',
        met: after.median <= 1.3 * warm.median + 0.2,
      });
    }
  }
  await rm(join(WORK, 'cold-none'), { recursive: true, force: true });
  await rm(join(WORK, 'cold-zstd'), { recursive: true, force: true });
  return rows;
}

/** Markdown table cell: a `|` inside a cell would end it. */
const cell = (s: string) => s.replace(/\|/g, '\\|');

/** The rows of the cold, warm, Turborepo and push measurements. */
async function mainRows(big: Prepared, many: Prepared): Promise<Row[]> {
  const rows: Row[] = [];
  rows.push(...(await coldAndWarm(many.stack, many.layers, 'many-file', { fairZstd: true })));
  await rm(join(WORK, 'cold-gzip'), { recursive: true, force: true });
  rows.push(...(await coldAndWarm(big.stack, big.layers, 'big-file', { fairZstd: true })));
  const stack = big.stack;
  const label = 'big-file';

  // 3. Turborepo: no-change build and a one-layer change (gzip, the default).
  log('turborepo workspace');
  const ws = await makeFixtureWorkspace(join(HERE, 'stack'));
  const wsCache = await freshDir('ws-cache');
  const turbo = () => measure(TURBO, ['run', 'build', '--output-logs=errors-only'], { cwd: ws, env: { ...baseEnv, MEGAPAK_CACHE_DIR: wsCache } });
  await turbo();
  const noChange = stat(await repeat(RUNS, () => turbo()));
  rows.push({ stack: label, what: 'no-change build (turbo, 12 layers + image)', ours: noChange, goal: '≤ 3 s', met: noChange.median <= 3 });
  const l09 = join(ws, 'layers', '09-pak5');
  const l09Cold = stat(await repeat(RUNS, async () => megapak(['layer'], { MEGAPAK_CACHE_DIR: await freshDir(`l09-cold`) }, l09)));
  const change = stat(
    await repeat(RUNS, async (i) => {
      await writeFile(
        join(l09, 'layer.nix'),
        `{ pkgs }: pkgs.layers.l09 ++ [ (pkgs.blob "python3.14-bench-change-${Date.now()}-${i}" { mib = 0.5; files = 8; deps = [ pkgs.python ]; }) ]\n`,
      );
      await commitAll(ws, `change layer 09 (${i})`);
      return turbo();
    }),
  );
  rows.push({
    stack: label,
    what: 'one-layer change (layer 09, turbo)',
    ours: change,
    reference: { name: 'layer 09 cold build alone', stat: l09Cold },
    goal: '≤ layer 09 cold + 3 s',
    met: change.median <= l09Cold.median + 3,
  });

  // 4. Push to a loopback registry beside skopeo copy of the same OCI layout.
  log('push');
  const oci = join(WORK, 'cold-gzip', 'oci');
  const gzipCache = join(WORK, 'cold-gzip', 'cache');
  const pushSamples: Sample[] = [];
  const skopeoSamples: Sample[] = [];
  const repushSamples: Sample[] = [];
  for (let i = 0; i < RUNS; i++) {
    for (const who of ['megapak', 'skopeo'] as const) {
      const reg: Registry = await startRegistry({ storage: join(await freshDir(`registry-${who}`), 'data') });
      try {
        if (who === 'megapak') {
          const env = { MEGAPAK_CACHE_DIR: gzipCache, MEGAPAK_COMPRESSION: 'gzip' };
          await rm(join(gzipCache, 'registries'), { recursive: true, force: true });
          pushSamples.push(await megapak(['push', '--stack', stack, '--plain-http', `${reg.host}/bench/ours:bench`], env));
          repushSamples.push(await megapak(['push', '--stack', stack, '--plain-http', `${reg.host}/bench/ours:bench`], env));
        } else {
          skopeoSamples.push(await measure('skopeo', ['copy', '-q', '--dest-tls-verify=false', `oci:${oci}:bench`, `docker://${reg.host}/bench/skopeo:bench`]));
        }
      } finally {
        await reg.stop();
      }
    }
  }
  const push = stat(pushSamples);
  const sk = stat(skopeoSamples);
  rows.push({
    stack: label,
    what: 'push, fresh registry (gzip)',
    ours: push,
    reference: { name: 'skopeo copy of the same layout', stat: sk },
    goal: '≤ 1.0 × skopeo',
    met: push.median <= sk.median,
  });
  const repush = stat(repushSamples);
  rows.push({ stack: label, what: 're-push, nothing changed', ours: repush, goal: '≤ 2 s', met: repush.median <= 2 });

  return rows;
}

async function main(): Promise<void> {
  await mkdir(WORK, { recursive: true });
  const rows: Row[] = [];
  const big = await prepareStack(join(HERE, 'stack'), 'big-file');
  const many = await prepareStack(join(HERE, 'stack-many'), 'many-file');
  const context = { big: big.stack, many: many.stack, runs: RUNS, freshDir, megapak, log, settle };
  if (!ONLY) rows.push(...(await mainRows(big, many)));
  if (!ONLY || ONLY === 'toc') rows.push(...(await tocRows(context)));
  if (!ONLY || ONLY === 'split') rows.push(...(await splitRows(context)));

  const peak = Math.max(...rows.map((r) => r.ours.rssMB));
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB`;
  const stacks = [many.info, big.info];
  const results = { date: new Date().toISOString(), machine, runs: RUNS, stacks, rows, peakRssMB: peak };
  await writeFile(join(HERE, `${OUT}.json`), JSON.stringify(results, null, 2) + '\n');

  const fmt = (s: Stat, unit = 's') => (unit === 's' ? `${s.min.toFixed(2)} / ${s.median.toFixed(2)} s` : `${s.median.toFixed(1)} ${unit}`);
  const describe = (s: StackInfo) => `${s.label}: ${s.paths} store paths, ${s.entries.toLocaleString('en')} tar entries, ${(s.narBytes / 1e9).toFixed(2)} GB`;
  const table = [
    `megapak bench — ${results.date.slice(0, 10)}, ${machine}, ${RUNS} runs (min / median)`,
    '',
    ...stacks.map((s) => `- ${describe(s)}`),
    '',
    '| stack | measurement | megapak | peak RSS | reference | ratio | goal | met |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${[
          r.stack,
          r.what,
          fmt(r.ours, r.unit),
          r.ours.rssMB ? `${r.ours.rssMB.toFixed(0)} MB` : '',
          r.reference ? `${r.reference.name}: ${fmt(r.reference.stat, r.unit)}` : '',
          r.reference ? (r.ours.median / r.reference.stat.median).toFixed(2) : '',
          r.goal,
          r.met ? 'yes' : 'no',
        ]
          .map(cell)
          .join(' | ')} |`,
    ),
    '',
    `peak RSS of megapak in any run: ${peak.toFixed(0)} MB (goal ≤ 300 MB: ${peak <= 300 ? 'met' : 'missed'})`,
  ].join('\n');
  console.log(table);
  await writeFile(join(HERE, `${OUT}.md`), table + '\n');
}

await main();
