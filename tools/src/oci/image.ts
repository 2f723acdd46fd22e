import { createHash } from 'node:crypto';
import type { LayerRecord } from '../layer/layer-record.ts';
import type { StackJson } from '../stack/stack.ts';

export const MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json';
export const CONFIG_MEDIA_TYPE = 'application/vnd.oci.image.config.v1+json';
export const INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json';
export const ANNOTATION_LAYER_NAME = 'io.megapak.layer.name';
export const ANNOTATION_LAYER_VERSION = 'io.megapak.layer.version';
/** Fixed unless the stack sets `created`: same inputs, same manifest digest. */
export const DEFAULT_CREATED = '1970-01-01T00:00:01Z';
const DEFAULT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'];

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface ImageParts {
  /** `name:tag` of the image. */
  ref: { name: string; tag: string };
  config: Buffer;
  configDescriptor: Descriptor;
  manifest: Buffer;
  manifestDescriptor: Descriptor;
  /** The non-empty layers, in order, with the record each came from. */
  layers: { record: LayerRecord; descriptor: Descriptor }[];
}

export function sha256Digest(data: Uint8Array): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export const layerLabel = (r: Pick<LayerRecord, 'name' | 'version'>) => `${r.name}@${r.version}`;

/** Pure: the image config and manifest for these layer records (in layer order). */
export function composeImage(meta: StackJson, records: LayerRecord[]): ImageParts {
  const created = meta.created ?? DEFAULT_CREATED;
  const shipped = records.filter((r) => !r.empty);
  const userConfig = meta.config ?? {};
  const configObj = {
    created,
    architecture: meta.architecture ?? 'amd64',
    os: meta.os ?? 'linux',
    config: { Env: DEFAULT_ENV, ...userConfig },
    rootfs: { type: 'layers', diff_ids: shipped.map((r) => r.diffId!) },
    history: records.map((r) => ({
      created,
      created_by: layerLabel(r),
      comment: `${r.paths.length} store paths, ${r.narSize} bytes (NAR)`,
      ...(r.empty ? { empty_layer: true } : {}),
    })),
  };
  const config = Buffer.from(JSON.stringify(configObj));
  const configDescriptor: Descriptor = { mediaType: CONFIG_MEDIA_TYPE, digest: sha256Digest(config), size: config.length };
  const layers = shipped.map((record) => ({
    record,
    descriptor: {
      mediaType: record.mediaType,
      digest: record.digest!,
      size: record.size!,
      annotations: { [ANNOTATION_LAYER_NAME]: record.name, [ANNOTATION_LAYER_VERSION]: record.version },
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
