// The rebuild-cascade bench: test/fixtures/cascade at MEGAPAK_CASCADE_SCALE (default 1: 12
// layers, 36 store paths, about 340 MB), built as v1, then with its lowest package's version
// bumped (every store path renamed, most file bytes the same) as v2. For each format, podman
// 4.3 with partial pulls (overlay, as root) pulls v1 then v2 from docker-registry on loopback
// through a proxy that counts the blob bytes served; the v2 row is what an update costs.
// Podman's own `push --compression-format zstd:chunked` of the same two images is the anchor.
// Then v3: one package added to layer 6 (`nix/extra.nix`), nothing renamed: the other update
// users see, pulled over v2. Pulls go through the 20 MB/s-per-connection proxy of the main
// bench (a CDN's per-stream cap), so the update times are what a puller waits, not loopback's.
// Times are wall-clock on a shared 2-core machine: bytes are the result, times only a hint.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { megapakOk } from '../test/helpers/cli.ts';
import { startCountingProxy } from '../test/helpers/counting-proxy.ts';
import { startPodman } from '../test/helpers/docker.ts';
import { copyFixtureStack, readRecords, tempDir } from '../test/helpers/fixture.ts';
import { startOverlayPodman } from '../test/helpers/podman-partial.ts';
import { startRegistry } from '../test/helpers/registry.ts';
import { startThrottle } from './throttle.ts';
import { REPO } from '../test/helpers/cli.ts';
import { recordBlobs } from '../tools/src/model/vocabulary.ts';

const SCALE = process.env.MEGAPAK_CASCADE_SCALE ?? '1';
const RATE_MBPS = Number(process.env.MEGAPAK_BENCH_PULL_MBPS ?? 20);
const env = (cache: string) => ({ MEGAPAK_CACHE_DIR: cache, MEGAPAK_CASCADE_SCALE: SCALE });

interface Row {
  format: string;
  layerBytes: number;
  v1Bytes: number;
  updateBytes: number;
  partialDownloadBytes?: number;
  updateSeconds: number;
  /** v3 over v2: one package added to layer 6. */
  addedBytes: number;
  addedSeconds: number;
  buildSeconds?: number;
}

/** podman pulls v1, v2, v3 in turn; the bytes the registry served for each, and how long v2 and v3 took. */
async function pullAll(host: string, repo: string, partial: boolean): Promise<{ v1: number; v2: number; seconds: number; v3: number; v3Seconds: number }> {
  const proxy = await startCountingProxy(host);
  const [h, port] = proxy.host.split(':');
  const slow = await startThrottle({ host: h!, port: Number(port) }, RATE_MBPS * 1e6);
  const podman = await startOverlayPodman(partial);
  try {
    const ok = async (args: string[]) => {
      const r = await podman.podman(args, 1_800_000);
      if (r.code !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr}`);
    };
    const pull = async (tag: string) => {
      proxy.reset();
      const t = performance.now();
      await ok(['pull', '-q', '--tls-verify=false', `${slow.host}/${repo}:${tag}`]);
      return { bytes: proxy.blobBytes(), seconds: (performance.now() - t) / 1000 };
    };
    const v1 = await pull('v1');
    const v2 = await pull('v2');
    const v3 = await pull('v3');
    return { v1: v1.bytes, v2: v2.bytes, seconds: v2.seconds, v3: v3.bytes, v3Seconds: v3.seconds };
  } finally {
    await podman.stop();
    await slow.stop();
    await proxy.stop();
  }
}

const reg = await startRegistry({ storage: join(await tempDir('cascade-bench-registry'), 'data') });
const podmansReg = await startRegistry({ storage: join(await tempDir('cascade-bench-registry-podman'), 'data') });
const rows: Row[] = [];
try {
  for (const format of ['gzip', 'zstd', 'zstd:chunked', 'estargz']) {
    const stack = await copyFixtureStack(join(REPO, 'test', 'fixtures', 'cascade'));
    const cache = await tempDir('cascade-bench-cache');
    const repo = `cascade-${format.replace(':', '-')}`;
    const t = performance.now();
    await megapakOk(['push', '--stack', stack, '--plain-http', '--compression', format, '--no-sbom', `${reg.host}/${repo}:v1`], { env: env(cache) });
    const buildSeconds = (performance.now() - t) / 1000;
    await writeFile(join(stack, 'nix', 'version.nix'), '"2"\n');
    await megapakOk(['push', '--stack', stack, '--plain-http', '--compression', format, '--no-sbom', `${reg.host}/${repo}:v2`], { env: env(cache) });
    const layerBytes = (await readRecords(stack)).flatMap((r) => recordBlobs(r)).reduce((s, b) => s + b.size, 0);
    const diff = JSON.parse((await megapakOk(['diff', '--plain-http', '--json', `${reg.host}/${repo}:v1`, `${reg.host}/${repo}:v2`], { env: env(cache) })).stdout);
    await writeFile(join(stack, 'nix', 'extra.nix'), 'true\n');
    await megapakOk(['push', '--stack', stack, '--plain-http', '--compression', format, '--no-sbom', `${reg.host}/${repo}:v3`], { env: env(cache) });
    const p = await pullAll(reg.host, repo, true);
    rows.push({
      format,
      layerBytes,
      v1Bytes: p.v1,
      updateBytes: p.v2,
      partialDownloadBytes: diff.partialDownloadBytes,
      updateSeconds: p.seconds,
      addedBytes: p.v3,
      addedSeconds: p.v3Seconds,
      buildSeconds,
    });
    console.error(JSON.stringify(rows.at(-1)));
    if (format === 'zstd:chunked') {
      const off = await pullAll(reg.host, repo, false);
      rows.push({
        format: 'zstd:chunked, partial pulls off',
        layerBytes,
        v1Bytes: off.v1,
        updateBytes: off.v2,
        updateSeconds: off.seconds,
        addedBytes: off.v3,
        addedSeconds: off.v3Seconds,
      });
      // Podman's own writer, into a registry that has not seen these layers (so it compresses, not reuses).
      const vfs = await startPodman();
      try {
        for (const tag of ['v1', 'v2', 'v3']) {
          for (const args of [
            ['pull', '-q', '--tls-verify=false', `${reg.host}/${repo}:${tag}`],
            ['push', '-q', '--tls-verify=false', '--compression-format', 'zstd:chunked', `${reg.host}/${repo}:${tag}`, `${podmansReg.host}/podman:${tag}`],
          ]) {
            const r = await vfs.podman(args, 1_800_000);
            if (r.code !== 0) throw new Error(`podman ${args.join(' ')}: ${r.stderr}`);
          }
        }
      } finally {
        await vfs.stop();
      }
      const own = await pullAll(podmansReg.host, 'podman', true);
      const m = await (await fetch(`${podmansReg.url}/v2/podman/manifests/v2`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).json();
      rows.push({
        format: "podman's own zstd:chunked",
        layerBytes: m.layers.reduce((s: number, l: { size: number }) => s + l.size, 0),
        v1Bytes: own.v1,
        updateBytes: own.v2,
        updateSeconds: own.seconds,
        addedBytes: own.v3,
        addedSeconds: own.v3Seconds,
      });
    }
  }
} finally {
  await reg.stop();
  await podmansReg.stop();
}
const mb = (n: number) => (n / 1e6).toFixed(2);
const lines = [
  `cascade bench (MEGAPAK_CASCADE_SCALE=${SCALE}), podman ${'4.3'} with partial pulls, through ${RATE_MBPS} MB/s per connection to docker-registry on loopback; bytes are blob bytes the registry served`,
  '',
  '| format | layer MB | first pull MB | cascade update MB | update / layers | diff partialDownloadBytes MB | cascade update s | one package added MB | one package added s | first build+push s |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map(
    (r) =>
      `| ${r.format} | ${mb(r.layerBytes)} | ${mb(r.v1Bytes)} | ${mb(r.updateBytes)} | 1/${(r.layerBytes / r.updateBytes).toFixed(0)} | ${r.partialDownloadBytes === undefined ? '-' : mb(r.partialDownloadBytes)} | ${r.updateSeconds.toFixed(1)} | ${mb(r.addedBytes)} | ${r.addedSeconds.toFixed(1)} | ${r.buildSeconds?.toFixed(1) ?? '-'} |`,
  ),
];
await writeFile(join(REPO, 'bench', 'results-cascade.md'), `${lines.join('\n')}\n`);
await writeFile(join(REPO, 'bench', 'results-cascade.json'), `${JSON.stringify({ scale: SCALE, rows }, null, 2)}\n`);
console.log(lines.join('\n'));
