import { existsSync } from 'node:fs';
import { copyFile, link, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { makeDir, withTempFile, writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import type { BlobChecks } from '../layer/blob-check.ts';
import { readJsonFile } from '../util/json-file.ts';
import { INDEX_MEDIA_TYPE, type Descriptor, type ImageParts } from './image.ts';

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
  // A copy gets its own stamp. A new hard link (and the rename) changed the change time of
  // the store's inode, which was checked just before: stamp it again, or the next use of the
  // blob would re-hash it in full.
  await checks?.record(copied ? dest : src, digest);
}

const indexSchema = z.object({
  manifests: z.array(z.object({ mediaType: z.string(), digest: z.string(), size: z.number(), annotations: z.record(z.string(), z.string()).optional() }).passthrough()).default([]),
});

/**
 * Write the image into an OCI image layout. Blobs land first (each atomically); index.json is
 * replaced last, so a reader never sees a manifest whose blobs are missing. Other images in an
 * existing layout are kept; one with the same tag is replaced.
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
  const indexPath = join(dir, 'index.json');
  let manifests: Descriptor[] = [];
  if (existsSync(indexPath)) {
    const old = await readJsonFile(indexPath, indexSchema);
    manifests = old.manifests.filter((m) => m.annotations?.['org.opencontainers.image.ref.name'] !== image.ref.tag);
  }
  manifests.push(image.manifestDescriptor);
  await writeJsonAtomic(indexPath, { schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests });
}
