#!/usr/bin/env node
import { Command, Option } from 'commander';
import { resolve } from 'node:path';
import { BlobStore } from '../layer/blob-store.ts';
import { COMPRESSIONS, ZSTD_PULLERS, isZstd } from '../model/compression.ts';
import { requireNixTools } from '../nix/nix.ts';
import { composeImage } from '../oci/image.ts';
import { dockerLoad, requireDockerDaemon } from '../oci/docker-load.ts';
import { writeImageOutputs } from '../oci/image-outputs.ts';
import { assembleImage, buildAllLayers, ensureRecordPart, imageSpecOf } from '../pipeline/build-stack.ts';
import { recordBlobs } from '../model/vocabulary.ts';
import { buildLayer } from '../pipeline/build-layer.ts';
import { removeRecord, requireRecord } from '../pipeline/layer-record.ts';
import { findCredentials } from '../registry/credentials.ts';
import { checkPushAccess } from '../registry/preflight.ts';
import { parseImageRef } from '../registry/reference.ts';
import { pushImage, summaryLine } from '../registry/push.ts';
import { pushProgressFor } from '../registry/push-progress.ts';
import { renderHtml } from '../report/html.ts';
import { layerTable, reportText } from '../report/text.ts';
import { why } from '../report/why.ts';
import { findLayerAt } from '../stack/stack.ts';
import { writeFileAtomic } from '../util/atomic.ts';
import { MegapakError } from '../util/errors.ts';
import { progressFor } from '../util/progress.ts';
import { cacheTotal } from '../cache/listing.ts';
import { scanCache } from '../cache/scan.ts';
import { formatBytes } from '../util/bytes.ts';
import { runProgram } from './boundary.ts';
import { registerCacheCommand } from './cache.ts';
import { registerDiffCommand } from './diff.ts';
import { registerPlanCommand } from './plan.ts';
import { attachSbomToLayout, pushSbom, registerSbomCommand } from './sbom.ts';
import { allRecords, builtImage, builtRecords, reportFor, setup } from './common.ts';
import { collect, positiveInt } from './options.ts';
import { cacheDir, compressionAsked, compressionFrom, gzipWorkersFrom, pushTuning } from './settings.ts';
import { MAX_GZIP_WORKERS } from '../util/parallel-gzip.ts';
import toolsPackage from '../../package.json' with { type: 'json' };

const stackOption = (dflt = 'the repository root') => new Option('--stack <dir>', `the stack folder: nix/pkgs.nix and layers/NN-name/layer.nix (default: ${dflt})`);
const compressionOption = () => new Option('--compression <kind>', 'layer blob compression (default: $MEGAPAK_COMPRESSION, else gzip)').choices(COMPRESSIONS);
const workersOption = () =>
  new Option(
    '--gzip-workers <n>',
    `threads that compress a gzip, eStargz or zstd:chunked blob (default: $MEGAPAK_GZIP_WORKERS, else the cores available, at most ${MAX_GZIP_WORKERS}); the bytes are the same for any number`,
  );
const ociOption = () => new Option('--oci <dir>', 'write an OCI image layout here (default: <stack>/out/oci)');
const dockerArchiveOption = () => new Option('--docker-archive <file>', 'also write a `docker load` archive');
const noSbomOption = () => new Option('--no-sbom', 'do not attach the SBOM (CycloneDX and SPDX, see megapak sbom) to the image as OCI referrers');
const noBuildOption = () =>
  new Option(
    '--no-build',
    'never build: stop with one line naming the layers whose dist/layer.json is missing or stale (by default they are rebuilt; records are checked against the sources with one evaluation of the stack)',
  );

/** `build` and `image`: the OCI layout (--oci, default <stack>/out/oci) and, if asked, a docker archive; returns the layout's folder. */
async function writeOutputs(
  image: ReturnType<typeof composeImage>,
  env: { stack: { dir: string }; blobs: BlobStore },
  o: { oci?: string; dockerArchive?: string },
): Promise<string> {
  const oci = resolve(o.oci ?? resolve(env.stack.dir, 'out', 'oci'));
  await writeImageOutputs(image, (d) => env.blobs.blobPath(d), { oci, dockerArchive: o.dockerArchive && resolve(o.dockerArchive) }, env.blobs.checks);
  return oci;
}

const program = new Command('megapak')
  .description('Build a container image as Nix-closure layers in which every store path ships exactly once.')
  .version(toolsPackage.version, '-V, --version', "print megapak's version (the @megapak/tools package's)")
  // Usage errors are one line, like every other error; `--help` has the rest.
  .configureOutput({ outputError: (str, write) => write(`megapak: ${str.replace(/^error: /, '')}`) })
  .exitOverride()
  .addHelpText(
    'after',
    `
Environment:
  MEGAPAK_CACHE_DIR    the blob store (default: ~/.cache/megapak)
  MEGAPAK_COMPRESSION  default for --compression; gzip pulls everywhere, zstd only with
                       Docker ≥ 23 / containerd ≥ 1.5 and podman (Docker 20.10 and older
                       fail with "archive/tar: invalid tar header"); zstd:chunked and
                       estargz: see Compression below
  MEGAPAK_GZIP_WORKERS default for --gzip-workers
  NIX_CONFIG           passed to Nix, e.g. 'substituters =' on a machine without network

Exit codes: 0 done; 1 a build, push or check failed (the message names the layer, path or
registry; a full disk names the path, the bytes needed and free; MEGAPAK_DEBUG=1 shows the
stack of an unexpected error); 2 bad usage, a folder that is not a stack, a malformed JSON
file (named), or a missing tool; 130 / 143 interrupted (SIGINT / SIGTERM), temp files of the
work removed.`,
  );

program
  .command('build')
  .description('build every layer in order and write the image (an OCI layout by default); no Turborepo needed')
  .addOption(stackOption())
  .addOption(ociOption())
  .addOption(dockerArchiveOption())
  .addOption(compressionOption())
  .addOption(workersOption())
  .addOption(noSbomOption())
  .action(async (o: { stack?: string; oci?: string; dockerArchive?: string; compression?: string; gzipWorkers?: string; sbom: boolean }) => {
    const compression = compressionFrom(o.compression);
    const env = await setup(o.stack, o.gzipWorkers);
    requireNixTools();
    const started = performance.now();
    const { records, streamed, config, meta } = await buildAllLayers(env.stack, { ...env, compression });
    const image = composeImage(await assembleImage(env.stack, records, env, config));
    const oci = await writeOutputs(image, env, o);
    console.log(layerTable(records, new Set(streamed)));
    console.log(`image ${image.ref.name}:${image.ref.tag} ${image.manifestDescriptor.digest}`);
    console.log(`oci layout: ${oci}${o.dockerArchive ? `\ndocker archive: ${resolve(o.dockerArchive)}` : ''}`);
    if (o.sbom) await attachSbomToLayout(oci, env.stack, records, image, meta);
    // Re-hashes are the blob store's stat check failing (blob-check.ts): said, so a slow no-change build explains itself.
    const { hashed } = env.blobs.checks;
    console.log(
      `${records.length} layers, ${streamed.length} streamed, ${hashed.files} blobs re-hashed (${formatBytes(hashed.bytes)}), in ${((performance.now() - started) / 1000).toFixed(1)} s`,
    );
  });

program
  .command('layer')
  .description("build the layer whose folder is the working directory into its dist/layer.json (each layer package's `build`)")
  .addOption(stackOption('two folders up from the layer'))
  .addOption(compressionOption())
  .addOption(workersOption())
  .action(async (o: { stack?: string; compression?: string; gzipWorkers?: string }) => {
    const compression = compressionFrom(o.compression);
    const workers = gzipWorkersFrom(o.gzipWorkers);
    const { stack, layer } = await findLayerAt(process.cwd(), o.stack);
    requireNixTools();
    const started = performance.now();
    const lower = await Promise.all(stack.layers.filter((l) => l.index < layer.index).map((l) => requireRecord(l, layer.name))).catch(async (err) => {
      await removeRecord(layer); // built on lower layers that are gone: must not be read above
      throw err;
    });
    const r = await buildLayer(stack, layer, lower, { compression, workers, blobs: new BlobStore(cacheDir()), progress: progressFor() });
    console.log(layerTable([r.record], new Set(r.streamed ? [layer.name] : [])));
    console.log(`${layer.name} done in ${((performance.now() - started) / 1000).toFixed(2)} s${r.streamed ? '' : ' (no tar streamed)'}`);
  });

program
  .command('image')
  .description("assemble the image from the layers' dist/layer.json, checked against the sources first (stale layers are rebuilt; the `image` task)")
  .addOption(stackOption())
  .addOption(ociOption())
  .addOption(dockerArchiveOption())
  .addOption(
    new Option('--compression <kind>', 'records made with another compression count as stale and are rebuilt with this one (default: $MEGAPAK_COMPRESSION; unset: any)').choices(
      COMPRESSIONS,
    ),
  )
  .addOption(workersOption())
  .addOption(noBuildOption())
  .addOption(noSbomOption())
  .action(async (o: { stack?: string; oci?: string; dockerArchive?: string; compression?: string; gzipWorkers?: string; build: boolean; sbom: boolean }) => {
    const compression = compressionFrom(o.compression);
    const env = await setup(o.stack, o.gzipWorkers);
    requireNixTools();
    // Records of any compression do unless one was asked for (the `image` task has MEGAPAK_COMPRESSION).
    const { records, config, meta } = await builtRecords(env.stack, { ...env, compression, noBuild: !o.build, anyCompression: !compressionAsked(o.compression) });
    const image = composeImage(await assembleImage(env.stack, records, env, config));
    const oci = await writeOutputs(image, env, o);
    if (o.sbom) await attachSbomToLayout(oci, env.stack, records, image, meta);
    console.log(`image ${image.ref.name}:${image.ref.tag} ${image.manifestDescriptor.digest}\noci layout: ${oci}`);
  });

program
  .command('push')
  .description('push the image to an OCI registry without any daemon, making only the blobs it lacks (stale or missing layer records are rebuilt first)')
  .argument('<ref>', 'where to push, e.g. ghcr.io/org/comfyui:cu130 or 127.0.0.1:5000/x:y')
  .addOption(stackOption())
  .option('--plain-http', 'talk HTTP, not HTTPS (a registry on loopback)')
  .option('--tag <tag>', 'also tag the manifest with this (repeatable)', collect, [])
  .addOption(compressionOption())
  .addOption(workersOption())
  .option('--concurrency <n>', 'blobs uploaded at once', (v) => positiveInt('--concurrency', v), 3)
  .option('--retries <n>', 'retries per request on 5xx and dropped connections', (v) => positiveInt('--retries', v, true), 5)
  .addOption(noSbomOption())
  .addOption(noBuildOption())
  .addHelpText(
    'after',
    `
Registry first: every blob is asked about (HEAD) before any is made; a blob the registry has
is never made again and its store paths are never read. A blob that must be made from store
paths this machine lacks has them realised first (nix-store --realise from the binary caches
Nix is configured with, else the layer's roots are built here); it is checked against the
digest its dist/layer.json records.

Credentials: MEGAPAK_REGISTRY_USER + MEGAPAK_REGISTRY_PASSWORD; else $DOCKER_CONFIG/config.json
(~/.docker/config.json) in Docker's order: credHelpers[registry], credsStore (each runs
docker-credential-NAME get), auths; else GITHUB_TOKEN for ghcr.io; otherwise anonymous. Basic
and bearer-token registries both work (identity tokens too). Credentials never appear in output.
Compression: gzip pulls everywhere; zstd layers pull with Docker ≥ 23 / containerd ≥ 1.5
and podman, while Docker 20.10 and older fail with "archive/tar: invalid tar header" (a
zstd push prints one note saying so). zstd:chunked (containers/storage's format) and estargz
(stargz-snapshotter's) carry a table of contents of the layer's files: podman and CRI-O with
partial pulls fetch only the files and chunks they lack (after a Nix rebuild cascade, a few
percent of the image); every other client pulls them as plain zstd and gzip respectively
(so estargz pulls in Docker 20.10 too; zstd:chunked as zstd does). See docs/compression.md.
MEGAPAK_PUSH_CHUNK_MB caps one upload request (default: a blob in one streamed PATCH);
MEGAPAK_RETRY_BACKOFF_MS is the first retry delay (default 500, doubling); MEGAPAK_REGISTRY_IDLE_S
drops and retries a request that moves no byte for that long (default 60).
Before any build, the registry is pinged and an upload session opened and cancelled: a wrong
host, port or password fails in seconds. Records are checked against the sources first (one
evaluation of the stack); stale layers are rebuilt, or --no-build names them and stops.
A blob the registry rejects as not matching its digest is re-hashed (evicted and made again
if damaged) and uploaded once more.
SBOM: after the image manifest, its CycloneDX and SPDX SBOMs go up as OCI 1.1 referrers (artifact
manifests whose subject is the image manifest): through the registry's referrers API where it
has one, else in the referrers tag (sha256-<hex>) the distribution spec describes. A registry
that refuses them leaves the image pushed and prints one warning line with its answer.`,
  )
  .action(
    async (
      refText: string,
      o: { stack?: string; plainHttp?: boolean; tag: string[]; compression?: string; gzipWorkers?: string; concurrency: number; retries: number; build: boolean; sbom: boolean },
    ) => {
      const ref = parseImageRef(refText);
      for (const t of o.tag) parseImageRef(`${ref.registry}/${ref.repository}:${t}`);
      const compression = compressionFrom(o.compression);
      const env = await setup(o.stack, o.gzipWorkers);
      requireNixTools();
      const credentials = await findCredentials(ref.registry, process.env);
      await checkPushAccess(ref, { plainHttp: !!o.plainHttp, credentials, retries: o.retries, ...pushTuning() });
      // Registry first: the spec needs only the records; a blob is made (its store paths realised
      // if need be) only when the registry lacks it.
      const { records, config, meta } = await builtRecords(env.stack, { ...env, compression, registryFirst: true, noBuild: !o.build });
      const image = composeImage(await imageSpecOf(env.stack, records, config));
      const byDigest = new Map(records.flatMap((r) => (r.empty ? [] : recordBlobs(r).map((b) => [b.digest, { r, b }] as const))));
      if (image.layers.some((l) => isZstd(l.layer.blob.compression))) console.error(`note: ${ZSTD_PULLERS}`);
      const summary = await pushImage(image, ref, {
        plainHttp: !!o.plainHttp,
        tags: o.tag,
        concurrency: o.concurrency,
        retries: o.retries,
        ...pushTuning(),
        credentials,
        cacheDir: env.blobs.root,
        blobFile: (d, rehash) => ensureRecordPart(env.stack, byDigest.get(d)!.r, byDigest.get(d)!.b, { ...env, rehash }),
        log: (l) => env.progress.log(l),
        progress: pushProgressFor(),
      });
      console.log(summaryLine(summary));
      if (o.sbom) await pushSbom(ref, env.stack, records, image, { plainHttp: !!o.plainHttp, credentials, retries: o.retries, ...pushTuning(), meta });
    },
  );

program
  .command('load')
  .description('stream the image into `docker load` (needs a reachable Docker daemon)')
  .addOption(stackOption())
  .addOption(compressionOption())
  .addOption(workersOption())
  .addOption(noBuildOption())
  .action(async (o: { stack?: string; compression?: string; gzipWorkers?: string; build: boolean }) => {
    const compression = compressionFrom(o.compression);
    const env = await setup(o.stack, o.gzipWorkers);
    await requireDockerDaemon();
    requireNixTools();
    const image = composeImage(await builtImage(env.stack, { ...env, compression, noBuild: !o.build }));
    console.log(await dockerLoad(image, (d) => env.blobs.blobPath(d)));
  });

program
  .command('report')
  .description('per layer: store paths, bytes, blob sizes, digests, biggest paths, and the saving over a repeating layering')
  .addOption(stackOption())
  .option('--json', 'print the report as JSON (shape in docs/commands.md)')
  .option('--html <file>', 'write a self-contained HTML page with a treemap and the table')
  .option('--top <n>', 'biggest paths listed per layer', (v) => positiveInt('--top', v), 10)
  .action(async (o: { stack?: string; json?: boolean; html?: string; top: number }) => {
    const env = await setup(o.stack);
    const records = await allRecords(env.stack, 'report');
    const report = await reportFor(records, env.blobs, o.top);
    const cache = cacheTotal(await scanCache(env.blobs.root));
    if (o.html) {
      const file = resolve(o.html);
      const paths = records.flatMap((r, i) => r.paths.map((p) => ({ layer: i, path: p.path, narSize: p.narSize })));
      await writeFileAtomic(file, renderHtml(report, `${env.stack.meta.name}:${env.stack.meta.tag ?? 'latest'}`, paths));
      console.log(`report: ${file}`);
    } else if (o.json) console.log(JSON.stringify({ ...report, cache }, null, 2));
    else console.log(`${reportText(report)}\nblob store: ${cache.blobs} blobs, ${formatBytes(cache.bytes)} in ${cache.dir} (see megapak cache ls, reclaim with megapak cache gc)`);
    for (const r of records) for (const w of r.warnings) console.error(`warning: ${w}`);
  });

program
  .command('why')
  .description('which layer ships a store path and the chain of references that pulls it in (like nix why-depends)')
  .argument('<path-or-name>', 'a store path, or a package name such as libstdcxx or python3.14')
  .addOption(stackOption())
  .action(async (query: string, o: { stack?: string }) => {
    const env = await setup(o.stack);
    const answers = why(await allRecords(env.stack, 'why'), query);
    if (!answers.length) throw new MegapakError(`no store path in the image matches '${query}'`);
    for (const a of answers) {
      console.log(`${a.path}
  ships in ${a.layer}${a.part ? `, ${a.part}` : ''}; pulled in by ${a.rootLayer}:`);
      a.chain.forEach((p, i) => console.log(`  ${'  '.repeat(i)}${i ? '→ ' : ''}${p}`));
    }
  });

registerCacheCommand(program);
registerDiffCommand(program);
registerPlanCommand(program);
registerSbomCommand(program, stackOption);

await runProgram(program, 'megapak');
