// Attach artifacts (SBOMs) to a pushed image as OCI 1.1 referrers: blobs, then each artifact
// manifest with `subject`; a registry that processed the subject says so with `OCI-Subject`
// (the referrers API), otherwise the client keeps the referrers list itself in an image index
// tagged `<alg>-<hex>` (the distribution spec's referrers tag schema).
import { z } from 'zod';
import { INDEX_MEDIA_TYPE, sha256Digest, type Descriptor } from '../oci/image.ts';
import type { ReferrerParts } from '../oci/referrer.ts';
import { MegapakError } from '../util/errors.ts';
import { RegistryClient } from './client.ts';
import type { Credentials } from './credentials.ts';
import { responseError, RegistryHttp } from './http.ts';
import type { ImageRef } from './reference.ts';

export interface ReferrerPushOptions {
  plainHttp: boolean;
  credentials?: Credentials;
  retries: number;
  backoffMs: number;
  /** See RegistryHttpOptions.idleTimeoutMs (MEGAPAK_REGISTRY_IDLE_S, as for the image push). */
  idleTimeoutMs?: number;
}

export interface ReferrerPushResult {
  /** How the registry learned of them: its referrers API, or the tag megapak maintained. */
  via: 'referrers API' | `referrers tag ${string}`;
  manifests: string[];
}

/** The referrers tag schema: algorithm truncated to 32, `-`, encoded part truncated to 64, other characters as `-`. */
export function referrersTag(digest: string): string {
  const [alg, enc] = digest.split(':') as [string, string];
  return `${alg.slice(0, 32)}-${enc.slice(0, 64)}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

const indexSchema = z.object({
  mediaType: z.string().optional(),
  manifests: z.array(z.object({ digest: z.string(), artifactType: z.string().optional() }).passthrough()),
});
type ReferrersList = z.infer<typeof indexSchema>;

/** The repository of `ref` through the distribution API, with the push scope. */
function connect(ref: ImageRef, opts: ReferrerPushOptions): { http: RegistryHttp; client: RegistryClient; scopes: string[] } {
  const { plainHttp, credentials, retries, backoffMs, idleTimeoutMs } = opts;
  const http = new RegistryHttp({ registry: ref.registry, apiHost: ref.apiHost, plainHttp, credentials, retries, backoffMs, idleTimeoutMs });
  return { http, client: new RegistryClient(ref, http), scopes: [`repository:${ref.repository}:pull,push`] };
}

/** An image index from `url` (the referrers API or the referrers tag); undefined on 404. */
async function readIndex(ref: ImageRef, http: RegistryHttp, scopes: string[], url: string, what: string): Promise<ReferrersList | undefined> {
  const res = await http.request({ method: 'GET', url, headers: { accept: INDEX_MEDIA_TYPE }, scopes });
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (res.status !== 200) throw await responseError(`reading ${what}`, res);
  const parsed = indexSchema.safeParse(await res.json().catch(() => null));
  if (!parsed.success || (parsed.data.mediaType ?? INDEX_MEDIA_TYPE) !== INDEX_MEDIA_TYPE)
    throw new MegapakError(`${ref.registry}/${ref.repository}: ${what} holds something other than an image index; the referrers list was not updated`);
  return parsed.data;
}

/** What already refers to `subject`: the referrers API's list, else (404) the referrers tag's, else none. */
export async function listReferrers(ref: ImageRef, subject: Descriptor, opts: ReferrerPushOptions): Promise<ReferrersList['manifests']> {
  const { http, scopes } = connect(ref, opts);
  const api = await readIndex(ref, http, scopes, `/v2/${ref.repository}/referrers/${subject.digest}`, 'the referrers API');
  const tag = referrersTag(subject.digest);
  return (api ?? (await readIndex(ref, http, scopes, `/v2/${ref.repository}/manifests/${tag}`, `the referrers tag ${tag}`)))?.manifests ?? [];
}

/** Push `referrers` of the image manifest `subject` to the repository of `ref` (the image is already there). */
export async function pushReferrers(ref: ImageRef, subject: Descriptor, referrers: ReferrerParts[], opts: ReferrerPushOptions): Promise<ReferrerPushResult> {
  const { http, client, scopes } = connect(ref, opts);
  let viaApi = true;
  for (const r of referrers) {
    for (const b of r.blobs) {
      if ((await client.blobSize(b.descriptor.digest)) !== undefined) continue;
      const session = await client.startUpload(b.descriptor.digest);
      if (!session.mounted) await client.upload(session.location, b.descriptor.digest, b.descriptor.size, { data: b.data }, () => {}, opts);
    }
    const headers = await client.putManifest(r.descriptor.digest, r.manifest, r.descriptor.mediaType, r.descriptor.digest);
    if (headers.get('oci-subject') !== subject.digest) viaApi = false;
  }
  const manifests = referrers.map((r) => r.descriptor.digest);
  if (viaApi) return { via: 'referrers API', manifests };

  // No OCI-Subject: pull the referrers list from its tag (404: start empty), add ours, push it back.
  const tag = referrersTag(subject.digest);
  const list = (await readIndex(ref, http, scopes, `/v2/${ref.repository}/manifests/${tag}`, `the referrers tag ${tag}`)) ?? { manifests: [] };
  const have = new Set(list.manifests.map((m) => m.digest));
  const missing = referrers.filter((r) => !have.has(r.descriptor.digest));
  if (missing.length) {
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests: [...list.manifests, ...missing.map((r) => r.descriptor)] }));
    await client.putManifest(tag, index, INDEX_MEDIA_TYPE, sha256Digest(index));
  }
  return { via: `referrers tag ${tag}`, manifests };
}
