import pLimit from 'p-limit';
import type { ImageParts } from '../oci/image.ts';
import { MegapakError } from '../util/errors.ts';
import { formatBytes } from '../util/bytes.ts';
import { RegistryClient, type BlobSource } from './client.ts';
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
  /** Bytes per upload request (MEGAPAK_PUSH_CHUNK_MB); unset: a blob goes in one streamed PATCH. */
  chunkSize?: number;
  /** From findCredentials (read by the CLI); none means anonymous. */
  credentials?: Credentials;
  cacheDir: string;
  blobPathOf: (digest: string) => string;
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
  src: BlobSource;
}

/**
 * Push an image: HEAD every blob, mount what another repository of the registry has, upload
 * the rest (bounded in parallel), and PUT the manifest only once every blob is confirmed.
 */
export async function pushImage(image: ImageParts, ref: ImageRef, opts: PushOptions): Promise<PushSummary> {
  const http = new RegistryHttp({
    registry: ref.registry,
    apiHost: ref.apiHost,
    plainHttp: opts.plainHttp,
    credentials: opts.credentials,
    retries: opts.retries,
    backoffMs: opts.backoffMs,
  });
  if (ref.digest && ref.digest !== image.manifestDescriptor.digest)
    throw new MegapakError(`${formatRef(ref)} names digest ${ref.digest}, but the built image is ${image.manifestDescriptor.digest}`, 'usage');
  const client = new RegistryClient(ref, http, opts.chunkSize);
  await client.ping();
  const mounts = await MountSources.load(opts.cacheDir, ref.registry);
  const jobs: BlobJob[] = [
    ...image.layers.map(({ layer, descriptor }) => ({
      label: `${layer.name} ${descriptor.digest.slice(7, 19)}`,
      digest: descriptor.digest,
      size: descriptor.size,
      src: { file: opts.blobPathOf(descriptor.digest) },
    })),
    { label: `config ${image.configDescriptor.digest.slice(7, 19)}`, digest: image.configDescriptor.digest, size: image.configDescriptor.size, src: { data: image.config } },
  ];
  const counts: PushSummary['counts'] = { uploaded: { blobs: 0, bytes: 0 }, skipped: { blobs: 0, bytes: 0 }, mounted: { blobs: 0, bytes: 0 } };

  const pushOne = async (job: BlobJob): Promise<void> => {
    const started = performance.now();
    let outcome: BlobOutcome;
    const existing = await client.blobSize(job.digest);
    if (existing !== undefined) {
      if (existing !== job.size && existing >= 0)
        throw new MegapakError(`${ref.registry} holds ${job.digest} with ${existing} bytes, ours has ${job.size}; no manifest was pushed`);
      outcome = 'skipped';
    } else {
      const session = await client.startUpload(job.digest, mounts.sourceFor(job.digest, ref.repository));
      if (session.mounted) outcome = 'mounted';
      else {
        opts.progress.start(job.label, job.size);
        await client.upload(session.location, job.digest, job.size, job.src, (n) => opts.progress.bytes(job.label, n), opts.retries, opts.backoffMs);
        outcome = 'uploaded';
      }
    }
    counts[outcome].blobs++;
    counts[outcome].bytes += job.size;
    opts.progress.done(job.label, outcome, job.size, (performance.now() - started) / 1000);
  };

  const limit = pLimit(opts.concurrency);
  // Settle every blob before deciding: no upload is left running behind an error.
  const results = await Promise.allSettled(jobs.map((j) => limit(() => pushOne(j))));
  opts.progress.stop();
  const failed = results.findIndex((r) => r.status === 'rejected');
  if (failed >= 0) {
    const reason = (results[failed] as PromiseRejectedResult).reason;
    const msg = reason instanceof Error ? reason.message : String(reason);
    throw new MegapakError(`push to ${formatRef(ref)} failed at ${jobs[failed]!.label}: ${msg}\nno manifest was pushed; run the push again to upload what is still missing`, reason instanceof MegapakError ? reason.kind : 'failed');
  }
  const tags = [...new Set([ref.digest ? image.manifestDescriptor.digest : ref.tag!, ...opts.tags])];
  for (const t of tags) await client.putManifest(t, image.manifest, image.manifestDescriptor.mediaType, image.manifestDescriptor.digest);
  await mounts.record(jobs.map((j) => j.digest), ref.repository);
  return { ref: formatRef(ref), manifestDigest: image.manifestDescriptor.digest, tags, counts };
}

export function summaryLine(s: PushSummary): string {
  const part = (k: BlobOutcome) => `${s.counts[k].blobs} ${k} (${formatBytes(s.counts[k].bytes)})`;
  return `pushed ${s.ref} ${s.manifestDigest} [${s.tags.join(', ')}]: ${part('uploaded')}, ${part('skipped')}, ${part('mounted')}`;
}
