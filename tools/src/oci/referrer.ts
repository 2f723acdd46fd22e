// OCI 1.1 referrers: an artifact manifest (an image manifest with `artifactType`, an empty
// config and the document as its one layer) whose `subject` is the image manifest; and its
// place in an OCI image layout (a descriptor in index.json, stale ones of replaced images dropped).
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import { readJsonFile } from '../util/json-file.ts';
import { INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, sha256Digest, type Descriptor } from './image.ts';
import { layoutBlobPath } from './oci-layout.ts';

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

const indexSchema = z.object({
  manifests: z.array(z.object({ mediaType: z.string(), digest: z.string(), size: z.number(), artifactType: z.string().optional() }).passthrough()).default([]),
});
const subjectSchema = z.object({ subject: z.object({ digest: z.string() }).optional() }).passthrough();

/**
 * Add referrers to an OCI image layout that already holds their subject: blobs and manifests
 * first, index.json last. A referrer whose subject is no longer in the index (the image it
 * described was replaced by a rebuild) is dropped from the index.
 */
export async function writeReferrersToLayout(dir: string, referrers: ReferrerParts[]): Promise<void> {
  const blobPath = (d: string) => layoutBlobPath(dir, d);
  for (const r of referrers) {
    for (const b of r.blobs) await writeFileAtomic(blobPath(b.descriptor.digest), b.data);
    await writeFileAtomic(blobPath(r.descriptor.digest), r.manifest);
  }
  const indexPath = join(dir, 'index.json');
  const index = existsSync(indexPath) ? await readJsonFile(indexPath, indexSchema) : { manifests: [] };
  const images = new Set(index.manifests.filter((m) => !m.artifactType).map((m) => m.digest));
  const adding = new Set(referrers.map((r) => r.descriptor.digest));
  const kept = [];
  for (const m of index.manifests) {
    if (adding.has(m.digest)) continue;
    if (m.artifactType) {
      const subject = existsSync(blobPath(m.digest)) ? subjectSchema.safeParse(JSON.parse(await readFile(blobPath(m.digest), 'utf8'))).data?.subject?.digest : undefined;
      if (!subject || !images.has(subject)) continue;
    }
    kept.push(m);
  }
  await writeJsonAtomic(indexPath, { schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests: [...kept, ...referrers.map((r) => r.descriptor)] });
}
