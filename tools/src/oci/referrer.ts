// OCI 1.1 referrers: an artifact manifest (an image manifest with `artifactType`, an empty
// config and the document as its one layer) whose `subject` is the image manifest; and its
// place in an OCI image layout (beside the image manifest in an image index that index.json names).
import { z } from 'zod';
import { writeFileAtomic } from '../util/atomic.ts';
import { MegapakError } from '../util/errors.ts';
import { readJsonFile } from '../util/json-file.ts';
import { INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, sha256Digest, type Descriptor } from './image.ts';
import { layoutBlobPath, readLayoutIndex, REF_NAME, writeLayoutIndex, type LayoutEntry } from './oci-layout.ts';

/** The image spec's empty descriptor content, the config of an artifact that has none. */
export const EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
export const EMPTY_CONFIG = Buffer.from('{}');

export interface Artifact {
  artifactType: string;
  data: Buffer;
  /** The document's file name (`org.opencontainers.image.title`). */
  title: string;
  created: string;
}

export interface ReferrerParts {
  artifactType: string;
  manifest: Buffer;
  /** The artifact manifest's descriptor as a referrers list holds it: artifactType and annotations copied. */
  descriptor: Descriptor & { artifactType: string };
  /** Blobs the manifest names: the empty config and the document. */
  blobs: { descriptor: Descriptor; data: Buffer }[];
}

/** Pure: the artifact manifest attaching `artifact` to the image manifest `subject`. */
export function composeReferrer(subject: Descriptor, artifact: Artifact): ReferrerParts {
  const config = { mediaType: EMPTY_MEDIA_TYPE, digest: sha256Digest(EMPTY_CONFIG), size: EMPTY_CONFIG.length };
  const layer = {
    mediaType: artifact.artifactType,
    digest: sha256Digest(artifact.data),
    size: artifact.data.length,
    annotations: { 'org.opencontainers.image.title': artifact.title },
  };
  const annotations = { 'org.opencontainers.image.created': artifact.created };
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST_MEDIA_TYPE,
      artifactType: artifact.artifactType,
      config,
      layers: [layer],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations,
    }),
  );
  return {
    artifactType: artifact.artifactType,
    manifest,
    descriptor: { mediaType: MANIFEST_MEDIA_TYPE, digest: sha256Digest(manifest), size: manifest.length, artifactType: artifact.artifactType, annotations },
    blobs: [
      { descriptor: config, data: EMPTY_CONFIG },
      { descriptor: layer, data: artifact.data },
    ],
  };
}

const nestedSchema = z.object({ manifests: z.array(z.object({ digest: z.string(), artifactType: z.string().optional() }).passthrough()).default([]) });

/**
 * Add referrers of the image manifest `subject` to an OCI image layout that holds it. The
 * layout's index.json keeps one entry per tag, so `skopeo inspect oci:DIR` and `podman pull
 * oci:DIR` need no tag: the image's entry becomes an image index (still carrying the tag) that
 * lists the image manifest with its platform, which those tools pick, and the referrers beside it.
 * A referrer of the same artifactType is replaced, so a rebuild never leaves two SBOMs of a kind.
 * Blobs first, index.json last.
 */
export async function writeReferrersToLayout(dir: string, subject: Descriptor, referrers: ReferrerParts[]): Promise<void> {
  const blobPath = (d: string) => layoutBlobPath(dir, d);
  for (const r of referrers) {
    for (const b of r.blobs) await writeFileAtomic(blobPath(b.descriptor.digest), b.data);
    await writeFileAtomic(blobPath(r.descriptor.digest), r.manifest);
  }
  const entries = await readLayoutIndex(dir);
  const nestedOf = async (e: LayoutEntry) => (e.mediaType === INDEX_MEDIA_TYPE ? (await readJsonFile(blobPath(e.digest), nestedSchema)).manifests : undefined);
  let at = -1;
  let members: z.infer<typeof nestedSchema>['manifests'] = [];
  for (const [i, e] of entries.entries()) {
    const nested = await nestedOf(e);
    if (e.digest === subject.digest) [at, members] = [i, [e]];
    else if (nested?.some((m) => m.digest === subject.digest && !m.artifactType)) [at, members] = [i, nested];
    if (at >= 0) break;
  }
  if (at < 0) throw new MegapakError(`${dir}: the OCI layout does not hold the image ${subject.digest} the referrers are for`);
  const { annotations, ...image } = members.find((m) => m.digest === subject.digest)! as LayoutEntry;
  const imageAnnotations = Object.fromEntries(Object.entries(annotations ?? {}).filter(([k]) => k !== REF_NAME)); // a tag counts only in index.json
  const replaced = new Set(referrers.map((r) => r.artifactType));
  const others = members.filter((m) => m.artifactType && !replaced.has(m.artifactType));
  const nested = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: INDEX_MEDIA_TYPE,
      manifests: [{ ...image, ...(Object.keys(imageAnnotations).length ? { annotations: imageAnnotations } : {}) }, ...others, ...referrers.map((r) => r.descriptor)],
    }),
  );
  await writeFileAtomic(blobPath(sha256Digest(nested)), nested);
  const tag = entries[at]!.annotations?.[REF_NAME];
  entries[at] = { mediaType: INDEX_MEDIA_TYPE, digest: sha256Digest(nested), size: nested.length, ...(tag ? { annotations: { [REF_NAME]: tag } } : {}) };
  await writeLayoutIndex(dir, entries);
}
