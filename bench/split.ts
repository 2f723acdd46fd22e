// The rows of issue 20: splitting a layer into parts (maxLayerSize) and what it buys a puller —
// cold pulls through a per-connection rate cap with docker and podman, split against unsplit;
// the bytes a one-package update pulls; what splitting costs a build; and a fresh runner's first
// push, which uploads each blob while the next is made.
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { copyFixtureStack, readRecords } from '../test/helpers/fixture.ts';
import { startRegistry, type Registry } from '../test/helpers/registry.ts';
import { startDocker } from '../test/helpers/docker.ts';
import { recordBlobs } from '../tools/src/model/vocabulary.ts';
import { figure, measure, repeat, stat, type Row, type Sample } from './measure.ts';
import { startThrottle } from './throttle.ts';

/** Per-connection rate of the pull proxy: what a CDN gives one stream. */
const RATE_MBPS = Number(process.env.MEGAPAK_BENCH_PULL_MBPS ?? 20);
const MAX_LAYER_SIZE = process.env.MEGAPAK_BENCH_MAX_LAYER_SIZE ?? '128MiB';
/**
 * Docker's `max-concurrent-downloads` for the second docker row (default 3). 2× faster than
 * unsplit needs the image's bytes in flight on at least 5 streams while the unsplit image waits
 * on its largest layer (40 % of it); 10 leaves room for a CDN's per-connection cap and is still
 * a handful of connections per pull. Above it, Docker's extraction (one layer at a time, in
 * order) bounds the pull, not the download.
 */
const DOCKER_DOWNLOADS = Number(process.env.MEGAPAK_BENCH_DOCKER_DOWNLOADS ?? 10);

export interface BenchContext {
  big: string;
  many: string;
  runs: number;
  freshDir: (name: string) => Promise<string>;
  megapak: (args: string[], env: NodeJS.ProcessEnv, cwd?: string) => Promise<Sample>;
  log: (s: string) => void;
  /** Before a timed cold run: written blobs flushed to disk, so no run pays for the previous one's writeback. */
  settle: () => Promise<void>;
}

async function withLimit(source: string, limit: string | undefined): Promise<string> {
  const stack = await copyFixtureStack(source);
  if (limit) {
    const file = join(stack, 'stack.json');
    await writeFile(file, JSON.stringify({ ...JSON.parse(await readFile(file, 'utf8')), maxLayerSize: limit }));
  }
  return stack;
}

const ociLayers = async (stack: string) => (await readRecords(stack)).reduce((n, r) => n + recordBlobs(r).length, 0);

/** Podman with overlay storage in a temp folder (vfs would copy every lower layer for each layer, which punishes many layers). */
async function podmanIn(dir: string) {
  const global = [`--root=${dir}/root`, `--runroot=${dir}/run`, `--tmpdir=${dir}/tmp`, '--storage-driver=overlay', '--cgroup-manager=cgroupfs', '--events-backend=file'];
  return (args: string[]) => measure('podman', [...global, ...args]);
}

export async function splitRows(c: BenchContext): Promise<Row[]> {
  const rows: Row[] = [];
  const build = (stack: string, compression: string, cache: string, oci: string) =>
    c.megapak(['build', '--stack', stack, '--compression', compression, '--oci', oci], { MEGAPAK_CACHE_DIR: cache });

  // 1. What splitting costs a cold build: many-file, uncompressed (walking the store is what splitting adds).
  const manyWhole = await withLimit(c.many, undefined);
  const manySplit = await withLimit(c.many, MAX_LAYER_SIZE);
  c.log(`split: cold builds of the many-file stack, none, split (${MAX_LAYER_SIZE}) and not`);
  // Each run in a fresh folder; the last run's blob store stays for what follows.
  const lastCache = new Map<string, string>();
  const coldOnce = async (stack: string, name: string, compression: string) => {
    const d = await c.freshDir(name);
    lastCache.set(name, join(d, 'cache'));
    await c.settle();
    return build(stack, compression, join(d, 'cache'), join(d, 'oci'));
  };
  /** Split and unsplit alternated, run by run: both meet the same page cache and writeback. */
  const coldPair = async (split: string, whole: string, name: string, compression: string) => {
    const s: Sample[] = [];
    const w: Sample[] = [];
    for (let i = 0; i < c.runs; i++) {
      s.push(await coldOnce(split, `${name}-s`, compression));
      w.push(await coldOnce(whole, `${name}-w`, compression));
    }
    return [stat(s), stat(w)] as const;
  };
  const [manyS, manyW] = await coldPair(manySplit, manyWhole, 'split-many', 'none');
  rows.push({
    stack: 'many-file',
    what: `cold build, none, split at ${MAX_LAYER_SIZE} (${await ociLayers(manySplit)} OCI layers)`,
    ours: manyS,
    reference: { name: 'the same unsplit (12 layers)', stat: manyW },
    goal: '≤ 1.05 × reference',
    met: manyS.median <= 1.05 * manyW.median,
  });

  // 2. The big-file stack, gzip, split and not: build cost, then the pulls.
  const bigWhole = await withLimit(c.big, undefined);
  const bigSplit = await withLimit(c.big, MAX_LAYER_SIZE);
  c.log('split: cold builds of the big-file stack, gzip, split and not');
  const [bigS, bigW] = await coldPair(bigSplit, bigWhole, 'split-big', 'gzip');
  const parts = await ociLayers(bigSplit);
  rows.push({
    stack: 'big-file',
    what: `cold build, gzip, split at ${MAX_LAYER_SIZE} (${parts} OCI layers)`,
    ours: bigS,
    reference: { name: 'the same unsplit (12 layers)', stat: bigW },
    goal: '≤ 1.05 × reference',
    met: bigS.median <= 1.05 * bigW.median,
  });

  // The machine's Docker daemon, or one of our own when none answers (test/helpers/docker.ts).
  const daemon = await startDocker();
  const reg: Registry = await startRegistry({ storage: join(await c.freshDir('split-registry'), 'data') });
  const proxy = await startThrottle({ host: '127.0.0.1', port: Number(reg.host.split(':')[1]) }, RATE_MBPS * 1e6);
  try {
    const caches = { split: lastCache.get('split-big-s')!, whole: lastCache.get('split-big-w')! };
    for (const [name, stack] of [
      ['split', bigSplit],
      ['whole', bigWhole],
    ] as const) {
      await c.megapak(['push', '--stack', stack, '--plain-http', `${reg.host}/bench/${name}:old`], { MEGAPAK_CACHE_DIR: caches[name] });
      // One package added to layer 06 (torch), the update a user pulls.
      await writeFile(
        join(stack, 'layers', '06-torch', 'layer.nix'),
        '{ pkgs }: pkgs.layers.l06 ++ [ (pkgs.blob "python3.14-bench-update" { mib = 0.5; files = 8; deps = [ pkgs.python ]; }) ]\n',
      );
      await build(stack, 'gzip', caches[name], join(await c.freshDir(`split-oci-${name}-new`), 'oci'));
      await c.megapak(['push', '--stack', stack, '--plain-http', `${reg.host}/bench/${name}:new`], { MEGAPAK_CACHE_DIR: caches[name] });
    }

    // 3. Cold pulls through the rate cap; then the update over the old image, counting the bytes
    //    the proxy forwards. Docker 20.10 (graph drivers) keeps layers by chain, not blobs: it
    //    downloads again every layer above a changed one; podman rebuilds those from local layers
    //    with the same diffID and downloads only the blobs it lacks.
    type Pull = { seconds: Sample; updateBytes: number };
    const pulls: Record<string, Record<'docker' | 'podman', Pull>> = {};
    for (const name of ['whole', 'split'] as const) {
      const ref = (tag: string) => `${proxy.host}/bench/${name}:${tag}`;
      const pullTwice = async (pull: (r: string) => Promise<Sample>): Promise<Pull> => {
        const seconds = await pull(ref('old'));
        proxy.reset();
        await pull(ref('new'));
        return { seconds, updateBytes: proxy.bytes() };
      };
      c.log(`split: docker pull of the ${name} image through ${RATE_MBPS} MB/s per connection`);
      await daemon.docker(['rmi', '-f', ref('old'), ref('new')]);
      const docker = await pullTwice((r) => measure('docker', ['pull', r], { env: daemon.env }));
      await daemon.docker(['rmi', '-f', ref('old'), ref('new')]);
      c.log(`split: podman pull of the ${name} image`);
      const dir = await c.freshDir(`split-podman-${name}`);
      const podman = await podmanIn(dir);
      const pp = await pullTwice((r) => podman(['pull', '--tls-verify=false', r]));
      await podman(['rmi', '-a', '-f']).catch(() => {});
      await rm(dir, { recursive: true, force: true }).catch(() => {});
      pulls[name] = { docker, podman: pp };
    }
    // The same cold pulls with Docker allowed more streams (a daemon of our own so configured).
    c.log(`split: docker pulls with max-concurrent-downloads=${DOCKER_DOWNLOADS}`);
    const wide = await startDocker({ daemonArgs: [`--max-concurrent-downloads=${DOCKER_DOWNLOADS}`] });
    const widePull: Record<string, Sample> = {};
    try {
      for (const name of ['whole', 'split'] as const) {
        const ref = `${proxy.host}/bench/${name}:old`;
        widePull[name] = await measure('docker', ['pull', ref], { env: wide.env });
        await wide.docker(['rmi', '-f', ref]);
      }
    } finally {
      await wide.stop();
    }
    rows.push({
      stack: 'big-file',
      what: `cold pull, docker pull, max-concurrent-downloads=${DOCKER_DOWNLOADS}, ${RATE_MBPS} MB/s per connection, split (${parts} layers)`,
      ours: stat([widePull.split!]),
      reference: { name: `unsplit (12 layers), same setting`, stat: stat([widePull.whole!]) },
      goal: '≤ 0.5 × reference (split ≥ 2× faster)',
      met: widePull.split!.seconds <= 0.5 * widePull.whole!.seconds,
    });
    for (const tool of ['docker', 'podman'] as const)
      rows.push({
        stack: 'big-file',
        what: `cold pull, ${tool} pull${tool === 'docker' ? ' (default: 3 downloads at a time)' : ''}, ${RATE_MBPS} MB/s per connection, split (${parts} layers)`,
        ours: stat([pulls.split![tool].seconds]),
        reference: { name: 'unsplit (12 layers)', stat: stat([pulls.whole![tool].seconds]) },
        goal: '≤ 0.5 × reference (split ≥ 2× faster)',
        met: pulls.split![tool].seconds.seconds <= 0.5 * pulls.whole![tool].seconds.seconds,
      });
    const mb = (n: number) => n / 1e6;
    for (const tool of ['podman', 'docker'] as const)
      rows.push({
        stack: 'big-file',
        what: `bytes pulled, one package added to layer 06, ${tool} pull over the old image${tool === 'docker' ? ' (20.10: every layer above a change again)' : ''}`,
        ours: figure(mb(pulls.split![tool].updateBytes)),
        reference: { name: 'unsplit', stat: figure(mb(pulls.whole![tool].updateBytes)) },
        goal: '≤ 1/3 × reference',
        met: pulls.split![tool].updateBytes <= pulls.whole![tool].updateBytes / 3,
        unit: 'MB',
      });
  } finally {
    await proxy.stop();
    await reg.stop();
    await daemon.stop();
  }

  // 4. A fresh runner's first push (empty blob store, empty registry): making and uploading
  //    overlap. On the unsplit big-file stack (as updated above); its blobs are all in `made`.
  c.log('split: first push from an empty blob store');
  const made = lastCache.get('split-big-w')!;
  await rm(join(made, 'registries'), { recursive: true, force: true });
  const fresh = async (name: string) => startRegistry({ storage: join(await c.freshDir(name), 'data') });
  const once = async (what: 'make' | 'upload' | 'both'): Promise<Sample> => {
    const d = await c.freshDir(`first-push-${what}`);
    if (what === 'make') return c.megapak(['image', '--stack', bigWhole, '--oci', join(d, 'oci')], { MEGAPAK_CACHE_DIR: join(d, 'cache') });
    const r = await fresh(`first-push-registry-${what}`);
    try {
      const cache = what === 'upload' ? made : join(d, 'cache');
      return await c.megapak(['push', '--stack', bigWhole, '--plain-http', `${r.host}/bench/first:push`], { MEGAPAK_CACHE_DIR: cache, MEGAPAK_COMPRESSION: 'gzip' });
    } finally {
      await r.stop();
    }
  };
  const make = stat(await repeat(c.runs, () => once('make')));
  const upload = stat(await repeat(c.runs, () => once('upload')));
  const both = stat(await repeat(c.runs, () => once('both')));
  const longer =
    make.median >= upload.median ? { name: 'making every blob alone (megapak image, empty blob store)', stat: make } : { name: 'uploading alone (blobs made)', stat: upload };
  rows.push({
    stack: 'big-file',
    what: `first push, empty blob store and registry (making ${make.median.toFixed(2)} s, uploading ${upload.median.toFixed(2)} s alone)`,
    ours: both,
    reference: longer,
    goal: '≤ 1.2 × the longer alone',
    met: both.median <= 1.2 * longer.stat.median,
  });
  return rows;
}
