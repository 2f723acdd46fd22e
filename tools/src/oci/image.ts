import { createHash } from 'node:crypto';
import type { Descriptor, ImageLayer, ImageSpec, LayerBlob } from '../model/vocabulary.ts';

export type { Descriptor };

export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
export const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
export const ANNOTATION_LAYER_NAME = 'io.megapak.layer.name';
export const ANNOTATION_LAYER_VERSION = 'io.megapak.layer.version';
/** On each OCI layer of a split logical layer: `2/5` (part 2 of 5). */
export const ANNOTATION_LAYER_PART = 'io.megapak.layer.part';
/** Fixed unless the stack sets `created`: same inputs, same manifest digest. */
export const DEFAULT_CREATED = '1970-01-01T00:00:01Z';
const DEFAULT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

export interface ImageParts {
  /** `name:tag` of the image. */
  ref: { name: string; tag: string };
  config: Buffer;
  configDescriptor: Descriptor;
  manifest: Buffer;
  manifestDescriptor: Descriptor;
  /** The non-empty layers, in order, each with its blob. */
  layers: { layer: ShippedLayer; descriptor: Descriptor }[];
}

export type ShippedLayer = ImageLayer & { blob: LayerBlob };

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export const layerLabel = (l: Pick<ImageLayer, 'name' | 'version'>) => `${l.name}@${l.version}`;

/** A history entry's `created_by`: `layer-06@1.0.0`, or `layer-06@1.0.0 part 2 of 5` for one part of a split layer. */
export const historyLabel = (l: Pick<ImageLayer, 'name' | 'version' | 'part'>) => (l.part ? `${layerLabel(l)} part ${l.part.index} of ${l.part.count}` : layerLabel(l));

/** Pure: the image config and manifest for an image spec. */
export function composeImage(spec: ImageSpec): ImageParts {
  const { meta } = spec;
  const created = meta.created ?? DEFAULT_CREATED;
  const shipped = spec.layers.filter((l): l is ShippedLayer => l.blob !== null);
  const userConfig = meta.config ?? {};
  const configObj = {
    created,
    architecture: meta.architecture ?? 'amd64',
    os: meta.os ?? 'linux',
    config: { Env: DEFAULT_ENV, ...userConfig },
    rootfs: { type: 'layers', diff_ids: shipped.map((l) => l.blob.diffId) },
    history: spec.layers.map((l) => ({
      created,
      created_by: historyLabel(l),
      comment: l.part ? `${l.pathCount} store paths (wholly or partly) of ${l.name}'s ${l.narSize} bytes (NAR)` : `${l.pathCount} store paths, ${l.narSize} bytes (NAR)`,
      ...(l.blob === null ? { empty_layer: true } : {}),
    })),
  };
  const config = Buffer.from(JSON.stringify(configObj));
  const configDescriptor: Descriptor = { mediaType: CONFIG_MEDIA_TYPE, digest: sha256Digest(config), size: config.length };
  const layers = shipped.map((layer) => ({
    layer,
    descriptor: {
      mediaType: layer.blob.mediaType,
      digest: layer.blob.digest,
      size: layer.blob.size,
      annotations: {
        [ANNOTATION_LAYER_NAME]: layer.name,
        [ANNOTATION_LAYER_VERSION]: layer.version,
        ...(layer.part ? { [ANNOTATION_LAYER_PART]: `${layer.part.index}/${layer.part.count}` } : {}),
        // Where a zstd:chunked or eStargz blob keeps its table of contents: what a partial pull reads first.
        ...layer.blob.annotations,
      },
    },
  }));
  const manifestObj = {
    schemaVersion: 2,
    mediaType: MANIFEST_MEDIA_TYPE,
    config: configDescriptor,
    layers: layers.map((l) => l.descriptor),
    annotations: { 'org.opencontainers.image.created': created },
  };
  const manifest = Buffer.from(JSON.stringify(manifestObj));
  const ref = { name: meta.name ?? 'megapak', tag: meta.tag ?? 'latest' };
  return {
    ref,
    config,
    configDescriptor,
    manifest,
    manifestDescriptor: {
      mediaType: MANIFEST_MEDIA_TYPE,
      digest: sha256Digest(manifest),
      size: manifest.length,
      annotations: { 'org.opencontainers.image.ref.name': ref.tag },
    },
    layers,
  };
}
