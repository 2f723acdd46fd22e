import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { INDEX_MEDIA_TYPE, MANIFEST_MEDIA_TYPE, sha256Digest } from './image.ts';
import { layoutBlobPath, layoutImageManifest } from './oci-layout.ts';

const IMAGE = `sha256:${'a'.repeat(64)}`;
const SBOM = `sha256:${'b'.repeat(64)}`;
const OTHER = `sha256:${'c'.repeat(64)}`;
const tagged = (tag: string) => ({ annotations: { 'org.opencontainers.image.ref.name': tag } });

const made: string[] = [];
afterAll(() => Promise.all(made.map((d) => rm(d, { recursive: true, force: true }))));

/** A layout folder whose index.json lists `manifests`, with `blobs` written under their digests. */
async function layout(manifests: object[], blobs: Buffer[] = []): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'megapak-layout-'));
  made.push(dir);
  await mkdir(join(dir, 'blobs', 'sha256'), { recursive: true });
  for (const b of blobs) await writeFile(layoutBlobPath(dir, sha256Digest(b)), b);
  await writeFile(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests }));
  return dir;
}

const nested = (members: object[]) => Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: INDEX_MEDIA_TYPE, manifests: members }));

describe('the image manifest a layout names', () => {
  it('through the image index beside its referrers, by tag or without one', async () => {
    const index = nested([
      { mediaType: MANIFEST_MEDIA_TYPE, digest: IMAGE, size: 1, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: MANIFEST_MEDIA_TYPE, digest: SBOM, size: 1, artifactType: 'application/vnd.cyclonedx+json' },
    ]);
    const dir = await layout([{ mediaType: INDEX_MEDIA_TYPE, digest: sha256Digest(index), size: index.length, ...tagged('test') }], [index]);
    expect(await layoutImageManifest(dir)).toBe(IMAGE);
    expect(await layoutImageManifest(dir, 'test')).toBe(IMAGE);
    expect(await layoutImageManifest(dir, 'nope')).toBeUndefined();
  });

  it('after a skopeo 1.9 copy --all, which drops the referrers’ artifactType: the member with a platform', async () => {
    const index = nested([
      { mediaType: MANIFEST_MEDIA_TYPE, digest: SBOM, size: 1 },
      { mediaType: MANIFEST_MEDIA_TYPE, digest: IMAGE, size: 1, platform: { architecture: 'amd64', os: 'linux' } },
    ]);
    expect(await layoutImageManifest(await layout([{ mediaType: INDEX_MEDIA_TYPE, digest: sha256Digest(index), size: index.length, ...tagged('test') }], [index]))).toBe(IMAGE);
  });

  it('in the flat index.json of older megapak (SBOMs as entries of their own) and in a --no-sbom layout', async () => {
    const flat = await layout([
      { mediaType: MANIFEST_MEDIA_TYPE, digest: IMAGE, size: 1, ...tagged('test') },
      { mediaType: MANIFEST_MEDIA_TYPE, digest: SBOM, size: 1, artifactType: 'application/spdx+json' },
    ]);
    expect(await layoutImageManifest(flat)).toBe(IMAGE);
    const two = await layout([
      { mediaType: MANIFEST_MEDIA_TYPE, digest: IMAGE, size: 1, ...tagged('test') },
      { mediaType: MANIFEST_MEDIA_TYPE, digest: OTHER, size: 1, ...tagged('other') },
    ]);
    expect([await layoutImageManifest(two, 'test'), await layoutImageManifest(two, 'other'), await layoutImageManifest(two)]).toEqual([IMAGE, OTHER, OTHER]);
  });
});
