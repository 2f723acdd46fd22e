import { describe, expect, it } from 'vitest';
import type { ImageLayer } from '../model/vocabulary.ts';
import { composeImage, sha256Digest } from './image.ts';

const layer = (name: string, empty: boolean): ImageLayer => ({
  name,
  version: '1.3.0',
  pathCount: empty ? 0 : 1,
  narSize: empty ? 0 : 1,
  blob: empty
    ? null
    : {
        diffId: `sha256:${'1'.repeat(64)}`,
        diffSize: 1024,
        digest: `sha256:${'2'.repeat(64)}`,
        size: 100,
        mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
        compression: 'gzip',
      },
});

describe('composeImage', () => {
  it('marks an empty layer in history and ships no blob for it', () => {
    const img = composeImage({ meta: { name: 'x', tag: 't' }, layers: [layer('layer-01', false), layer('layer-02', true)] });
    const config = JSON.parse(img.config.toString());
    expect(config.rootfs.diff_ids).toHaveLength(1);
    expect(config.history).toEqual([expect.objectContaining({ created_by: 'layer-01@1.3.0' }), expect.objectContaining({ created_by: 'layer-02@1.3.0', empty_layer: true })]);
    expect(img.layers).toHaveLength(1);
    expect(img.configDescriptor.digest).toBe(sha256Digest(img.config));
    expect(JSON.parse(img.manifest.toString()).layers[0].annotations).toEqual({
      'io.megapak.layer.name': 'layer-01',
      'io.megapak.layer.version': '1.3.0',
    });
  });

  it('is deterministic, and `created` changes the digest only when set', () => {
    const layers = [layer('layer-01', false)];
    expect(composeImage({ meta: {}, layers }).manifestDescriptor.digest).toBe(composeImage({ meta: {}, layers }).manifestDescriptor.digest);
    expect(composeImage({ meta: { created: '2026-01-01T00:00:00Z' }, layers }).manifestDescriptor.digest).not.toBe(composeImage({ meta: {}, layers }).manifestDescriptor.digest);
  });
});
