import pLimit from 'p-limit';
import type { ImageParts } from '../oci/image.ts';
import { blobLabel } from '../model/vocabulary.ts';
import { MegapakError } from '../util/errors.ts';
import { formatBytes } from '../util/bytes.ts';
import { DigestRejectedError, RegistryClient, type BlobSource } from './client.ts';
import type { Credentials } from './credentials.ts';
import { RegistryHttp } from './http.ts';
import { MountSources } from './mount-sources.ts';
import type { BlobOutcome, PushProgress } from './push-progress.ts';
import { formatRef, type ImageRef } from './reference.ts';

export interface PushOptions {
  plainHttp: boolean;
  /** Tags to write besides the reference's own. */
  tags: string[];
  concurrency: number;
  retries: number;
  backoffMs: number;
  /** See RegistryHttpOptions.idleTimeoutMs. */
  idleTimeoutMs?: number;
  /** Bytes per upload request (MEGAPAK_PUSH_CHUNK_MB); unset: a blob goes in one streamed PATCH. */
  chunkSize?: number;
  /** From findCredentials (read by the CLI); none means anonymous. */
  credentials?: Credentials;
  cacheDir: string;
  /**
   * A layer blob's file, made (from the Nix store) when the blob store lacks it. Asked only for
   * blobs the registry lacks, after every blob was asked about, and one at a time.
   */
  blobFile: (digest: string, rehash?: boolean) => Promise<string>;
  /** One line for the user (a blob re-checked after the registry rejected it). */
  log?: (line: string) => void;
  progress: PushProgress;
}

export interface PushSummary {
  ref: string;
  manifestDigest: string;
  tags: string[];
  counts: Record<BlobOutcome, { blobs: number; bytes: number }>;
}

interface BlobJob {
  label: string;
  digest: string;
  size: number;
  /** `rehash`: the registry rejected the bytes: re-check the blob in full, evict and re-make it if damaged. */
  source: (rehash?: boolean) => Promise<BlobSource>;
}

/**
 * Push an image, registry first: HEAD every blob before making any, so a blob the registry has
 * is never made again and its store paths are never read; then make the missing blobs one at
 * a time, each mounted (when another repository of the registry has it) or uploaded as soon as
 * it is made (bounded in parallel) while the next is made; and PUT the manifest only once every
 * blob is confirmed (a blob that cannot be made leaves no manifest behind).
 */
export async function pushImage(image: ImageParts, ref: ImageRef, opts: PushOptions): Promise<PushSummary> {
  const http = new RegistryHttp({
    registry: ref.registry,
    apiHost: ref.apiHost,
    plainHttp: opts.plainHttp,
    credentials: opts.credentials,
    retries: opts.retries,
    backoffMs: opts.backoffMs,
    idleTimeoutMs: opts.idleTimeoutMs,
  });
  if (ref.digest && ref.digest !== image.manifestDescriptor.digest)
    throw new MegapakError(`${formatRef(ref)} names digest ${ref.digest}, but the built image is ${image.manifestDescriptor.digest}`, 'usage');
  const client = new RegistryClient(ref, http, { chunkSize: opts.chunkSize });
  await client.ping();
  const mounts = await MountSources.load(opts.cacheDir, ref.registry);
  const jobs: BlobJob[] = [
    ...image.layers.map(({ layer, descriptor }) => ({
      label: `${blobLabel(layer.name, layer.part)} ${descriptor.digest.slice(7, 19)}`,
      digest: descriptor.digest,
      size: descriptor.size,
      source: async (rehash?: boolean) => ({ file: await opts.blobFile(descriptor.digest, rehash) }),
    })),
    {
      label: `config ${image.configDescriptor.digest.slice(7, 19)}`,
      digest: image.configDescriptor.digest,
      size: image.configDescriptor.size,
      source: async () => ({ data: image.config }),
    },
  ];
  const counts: PushSummary['counts'] = { uploaded: { blobs: 0, bytes: 0 }, skipped: { blobs: 0, bytes: 0 }, mounted: { blobs: 0, bytes: 0 } };

  const settle = (job: BlobJob, outcome: BlobOutcome, started: number) => {
    counts[outcome].blobs++;
    counts[outcome].bytes += job.size;
    opts.progress.done(job.label, outcome, job.size, (performance.now() - started) / 1000);
  };
  const limit = pLimit(opts.concurrency);
  // Settle every request before deciding: none is left running behind an error.
  const check = <T>(what: BlobJob[], results: PromiseSettledResult<T>[]): T[] => {
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed < 0) return results.map((r) => (r as PromiseFulfilledResult<T>).value);
    opts.progress.stop();
    const reason = (results[failed] as PromiseRejectedResult).reason;
    const msg = reason instanceof Error ? reason.message : String(reason);
    throw new MegapakError(
      `push to ${formatRef(ref)} failed at ${what[failed]!.label}: ${msg.replace(/; no manifest was pushed$/, '')}; no manifest was pushed; run the push again to upload what is still missing`,
      reason instanceof MegapakError ? reason.kind : 'failed',
    );
  };
  const settled = async <T>(what: BlobJob[], work: (j: BlobJob) => Promise<T>): Promise<T[]> => check(what, await Promise.allSettled(what.map((j) => limit(() => work(j)))));

  // 1. Which blobs the registry lacks.
  const sizes = await settled(jobs, async (job) => {
    const existing = await client.blobSize(job.digest);
    if (existing !== undefined && existing !== job.size && existing >= 0)
      throw new MegapakError(`${ref.registry} holds ${job.digest} with ${existing} bytes, ours has ${job.size}; no manifest was pushed`);
    return existing;
  });
  const missing = jobs.filter((_, i) => sizes[i] === undefined);

  // 2. Make what is missing, one blob at a time (each streams the store and fills the CPU), and
  //    upload each as soon as it is made, so uploading overlaps making the next. A blob that
  //    cannot be made stops the making; uploads under way finish (the next push skips them)
  //    and no manifest is pushed.
  opts.progress.begin(jobs.reduce((s, j) => s + j.size, 0));
  for (const job of jobs.filter((_, i) => sizes[i] !== undefined)) settle(job, 'skipped', performance.now());
  const upload = async (job: BlobJob, source: BlobSource) => {
    const started = performance.now();
    const session = await client.startUpload(job.digest, mounts.sourceFor(job.digest, ref.repository));
    if (session.mounted) return settle(job, 'mounted', started);
    opts.progress.start(job.label, job.size);
    let sent = 0;
    const onBytes = (n: number) => ((sent += n), opts.progress.bytes(job.label, n));
    try {
      await client.upload(session.location, job.digest, job.size, source, onBytes, opts);
    } catch (err) {
      // The bytes we sent are not the digest's: bit rot or a write that left the blob's stamp
      // intact. Re-hash the blob (a damaged one is evicted and made again) and retry once.
      if (!(err instanceof DigestRejectedError)) throw err;
      opts.log?.(`${job.label}: ${err.message.split(';')[0]}; re-checking the blob and retrying once`);
      opts.progress.bytes(job.label, -sent);
      const again = await client.startUpload(job.digest);
      if (again.mounted) return settle(job, 'mounted', started);
      await client.upload(again.location, job.digest, job.size, await job.source(true), (n) => opts.progress.bytes(job.label, n), opts);
    }
    settle(job, 'uploaded', started);
  };
  const made: BlobJob[] = [];
  const uploads: Promise<void>[] = [];
  let unmade: unknown;
  for (const job of missing) {
    try {
      const source = await job.source();
      made.push(job);
      const u = limit(() => upload(job, source));
      u.catch(() => {}); // settled below
      uploads.push(u);
    } catch (err) {
      unmade = err;
      break;
    }
  }
  if (unmade !== undefined) {
    await Promise.allSettled(uploads);
    opts.progress.stop();
    if (unmade instanceof MegapakError) throw new MegapakError(`${unmade.message}; no manifest was pushed`, unmade.kind);
    throw unmade;
  }
  check(made, await Promise.allSettled(uploads));
  opts.progress.stop();
  const tags = [...new Set([ref.digest ? image.manifestDescriptor.digest : ref.tag!, ...opts.tags])];
  for (const t of tags) await client.putManifest(t, image.manifest, image.manifestDescriptor.mediaType, image.manifestDescriptor.digest);
  await mounts.record(
    jobs.map((j) => j.digest),
    ref.repository,
  );
  return { ref: formatRef(ref), manifestDigest: image.manifestDescriptor.digest, tags, counts };
}

export function summaryLine(s: PushSummary): string {
  const part = (k: BlobOutcome) => `${s.counts[k].blobs} ${k} (${formatBytes(s.counts[k].bytes)})`;
  return `pushed ${s.ref} ${s.manifestDigest} [${s.tags.join(', ')}]: ${part('uploaded')}, ${part('skipped')}, ${part('mounted')}`;
}
