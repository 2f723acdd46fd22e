import { describe, expect, it } from 'vitest';
import type { LayerRecord } from '../layer/layer-record.ts';
import { composeImage, sha256Digest } from './image.ts';

const record = (name: string, empty: boolean): LayerRecord => ({
  name,
  version: '1.3.0',
  index: 1,
  storeDir: '/nix/store',
  roots: [],
  paths: empty ? [] : [{ path: '/nix/store/x', narHash: 'sha256-x', narSize: 1, references: [] }],
  narSize: empty ? 0 : 1,
  contentKey: 'sha256:00',
  empty,
  compression: 'gzip',
  mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
  diffId: empty ? null : `sha256:${'1'.repeat(64)}`,
  diffSize: empty ? null : 1024,
  digest: empty ? null : `sha256:${'2'.repeat(64)}`,
  size: empty ? null : 100,
  warnings: [],
});

describe('composeImage', () => {
  it('marks an empty layer in history and ships no blob for it', () => {
    const img = composeImage({ name: 'x', tag: 't' }, [record('layer-01', false), record('layer-02', true)]);
    const config = JSON.parse(img.config.toString());
    expect(config.rootfs.diff_ids).toHaveLength(1);
    expect(config.history).toEqual([
      expect.objectContaining({ created_by: 'layer-01@1.3.0' }),
      expect.objectContaining({ created_by: 'layer-02@1.3.0', empty_layer: true }),
    ]);
    expect(img.layers).toHaveLength(1);
    expect(img.configDescriptor.digest).toBe(sha256Digest(img.config));
    expect(JSON.parse(img.manifest.toString()).layers[0].annotations).toEqual({
      'io.megapak.layer.name': 'layer-01',
      'io.megapak.layer.version': '1.3.0',
    });
  });

  it('is deterministic, and `created` changes the digest only when set', () => {
    const rs = [record('layer-01', false)];
    expect(composeImage({}, rs).manifestDescriptor.digest).toBe(composeImage({}, rs).manifestDescriptor.digest);
    expect(composeImage({ created: '2026-01-01T00:00:00Z' }, rs).manifestDescriptor.digest).not.toBe(composeImage({}, rs).manifestDescriptor.digest);
  });
});
