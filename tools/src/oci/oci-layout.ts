import { existsSync } from 'node:fs';
import { copyFile, link, mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { withTempFile, writeFileAtomic, writeJsonAtomic } from '../util/atomic.ts';
import { readJsonFile } from '../util/json-file.ts';
import { INDEX_MEDIA_TYPE, type Descriptor, type ImageParts } from './image.ts';

const hex = (d: string) => d.replace(/^sha256:/, '');

async function present(p: string, size: number): Promise<boolean> {
  try {
    return (await stat(p)).size === size;
  } catch {
    return false;
  }
}

/** Put a blob in place by hardlink (free on one file system) or copy, via temp + rename. */
async function placeBlob(src: string, dest: string): Promise<void> {
  await withTempFile(dest, (tmp) => link(src, tmp).catch(() => copyFile(src, tmp)));
}

const indexSchema = z.object({
  manifests: z.array(z.object({ mediaType: z.string(), digest: z.string(), size: z.number(), annotations: z.record(z.string(), z.string()).optional() }).passthrough()).default([]),
});

/**
 * Write the image into an OCI image layout. Blobs land first (each atomically); index.json is
 * replaced last, so a reader never sees a manifest whose blobs are missing. Other images in an
 * existing layout are kept; one with the same tag is replaced.
 */
export async function writeOciLayout(dir: string, image: ImageParts, blobPathOf: (digest: string) => string): Promise<void> {
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  for (const { descriptor } of image.layers) {
    const dest = join(blobs, hex(descriptor.digest));
    if (!(await present(dest, descriptor.size))) await placeBlob(blobPathOf(descriptor.digest), dest);
  }
  await writeFileAtomic(join(blobs, hex(image.configDescriptor.digest)), image.config);
  await writeFileAtomic(join(blobs, hex(image.manifestDescriptor.digest)), image.manifest);
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
