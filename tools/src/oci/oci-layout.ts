import { existsSync } from 'node:fs';
import { copyFile, link, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { makeDir, withTempFile, writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import type { BlobChecks } from '../layer/blob-check.ts';
import { readJsonFile } from '../util/json-file.ts';
import { INDEX_MEDIA_TYPE, type ImageParts } from './image.ts';

/** Where an OCI image layout at `dir` keeps the blob `digest`. */
export const layoutBlobPath = (dir: string, digest: string) => join(dir, 'blobs', 'sha256', digest.replace(/^sha256:/, ''));

/**
 * Layouts share bytes with the blob store by hard link (free on one file system; a copy on
 * another, stamped like a store blob). A layout's blob is kept only when it is the very inode
 * of the store's blob, just checked, or a copy unchanged since it was stamped; anything else
 * (a file damaged in place after the store evicted its twin, an editor's rewrite, a stranger's
 * file) is replaced. So a damaged layout blob is never served again by a later build.
 */
async function layoutBlobIntact(dest: string, src: string, digest: string, size: number, checks?: BlobChecks): Promise<boolean> {
  const [d, s] = await Promise.all([stat(dest).catch(() => undefined), stat(src).catch(() => undefined)]);
  if (!d || d.size !== size) return false;
  if (s && d.ino === s.ino && d.dev === s.dev) return true;
  return !!checks && (await checks.unchanged(dest, digest, size));
}

/** Put a blob in place by hardlink (free on one file system) or copy, via temp + rename. */
async function placeBlob(src: string, dest: string, digest: string, size: number, checks?: BlobChecks): Promise<void> {
  let copied = false;
  await withTempFile(
    dest,
    (tmp) =>
      link(src, tmp).catch(async () => {
        copied = true;
        await copyFile(src, tmp);
      }),
    undefined,
    size,
  );
  // A copy gets its own stamp. A new hard link (and the rename) changed the change time and
  // link count of the store's inode, which was checked just before: stamp it again, so the
  // next use compares against what it is now.
  await checks?.record(copied ? dest : src, digest);
}

const descriptorSchema = z
  .object({
    mediaType: z.string(),
    digest: z.string(),
    size: z.number(),
    artifactType: z.string().optional(),
    annotations: z.record(z.string(), z.string()).optional(),
  })
  .passthrough();
export const layoutIndexSchema = z.object({ manifests: z.array(descriptorSchema).default([]) });
export type LayoutEntry = z.infer<typeof descriptorSchema>;

export const REF_NAME = 'org.opencontainers.image.ref.name';

/** The platform an image's config names, as a descriptor in an index carries it (tools pick by it). */
export const platformOf = (config: Buffer) => {
  const c = JSON.parse(config.toString()) as { architecture: string; os: string };
  return { architecture: c.architecture, os: c.os };
};

/** Write a layout's index.json, last and atomically: a reader never sees a descriptor whose blobs are missing. */
export const writeLayoutIndex = (dir: string, manifests: object[]) => writeJsonAtomic(join(dir, 'index.json'), { schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests });

/** The entries of a layout's index.json (none when it has no index.json yet). */
export async function readLayoutIndex(dir: string): Promise<LayoutEntry[]> {
  const indexPath = join(dir, 'index.json');
  return existsSync(indexPath) ? (await readJsonFile(indexPath, layoutIndexSchema)).manifests : [];
}

/**
 * Write the image into an OCI image layout. Blobs land first (each atomically); index.json is
 * replaced last, so a reader never sees a manifest whose blobs are missing. Other images in an
 * existing layout are kept; one with the same tag is replaced (with the referrers it had).
 */
export async function writeOciLayout(dir: string, image: ImageParts, blobPathOf: (digest: string) => string, checks?: BlobChecks): Promise<void> {
  await makeDir(join(dir, 'blobs', 'sha256'));
  for (const { descriptor } of image.layers) {
    const dest = layoutBlobPath(dir, descriptor.digest);
    const src = blobPathOf(descriptor.digest);
    if (!(await layoutBlobIntact(dest, src, descriptor.digest, descriptor.size, checks))) await placeBlob(src, dest, descriptor.digest, descriptor.size, checks);
  }
  await writeFileAtomic(layoutBlobPath(dir, image.configDescriptor.digest), image.config);
  await writeFileAtomic(layoutBlobPath(dir, image.manifestDescriptor.digest), image.manifest);
  await writeJsonAtomic(join(dir, 'oci-layout'), { imageLayoutVersion: '1.0.0' });
  const kept = (await readLayoutIndex(dir)).filter((m) => m.annotations?.[REF_NAME] !== image.ref.tag);
  await writeLayoutIndex(dir, [...kept, { ...image.manifestDescriptor, platform: platformOf(image.config) }]);
}

/**
 * The image manifest a layout's tag (or, with no tag, its last image) names: directly, or through
 * the image index that lists it beside its referrers. Undefined when there is none.
 */
export async function layoutImageManifest(dir: string, tag?: string): Promise<string | undefined> {
  // Artifacts (SBOM referrers that older megapak put straight into index.json) are not images.
  const images = (await readLayoutIndex(dir)).filter((m) => !m.artifactType);
  const pick = tag ? images.find((m) => m.annotations?.[REF_NAME] === tag) : images[images.length - 1];
  if (!pick || pick.mediaType !== INDEX_MEDIA_TYPE) return pick?.digest;
  // The image is the member with a platform (a copy by skopeo 1.9 drops the referrers' artifactType).
  const members = (await readJsonFile(layoutBlobPath(dir, pick.digest), layoutIndexSchema)).manifests.filter((m) => !m.artifactType && m.mediaType !== INDEX_MEDIA_TYPE);
  return (members.find((m) => 'platform' in m) ?? members[0])?.digest;
}
