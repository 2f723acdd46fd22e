// The words every folder shares: a store path as Nix describes it, a layer's record (what
// `dist/layer.json` holds), and the image spec that oci/ and registry/ turn into bytes.
import { z } from 'zod';
import { compressionSchema, type Compression } from './compression.ts';

/** One store path as the planner needs it. References are full store paths, sorted. */
export const storePathInfoSchema = z.object({
  path: z.string(),
  narHash: z.string(),
  narSize: z.number(),
  references: z.array(z.string()),
});
export type StorePathInfo = z.infer<typeof storePathInfoSchema>;

/** A layer blob's digests: sha256 of the uncompressed tar (the OCI diffID) and of the blob as stored. */
export const blobDigestsSchema = z.object({ diffId: z.string(), diffSize: z.number(), digest: z.string(), size: z.number() });
export type BlobDigests = z.infer<typeof blobDigestsSchema>;

// Field order is the order of dist/layer.json on disk.
const recordHead = {
  name: z.string(),
  version: z.string(),
  index: z.number().int(),
  storeDir: z.string(),
  roots: z.array(z.string()),
  paths: z.array(storePathInfoSchema),
  narSize: z.number(),
  contentKey: z.string(),
};
const recordTail = { compression: compressionSchema, mediaType: z.string() };

/** `dist/layer.json` of a layer whose delta is empty: no blob. */
const emptyRecordSchema = z.object({
  ...recordHead,
  empty: z.literal(true),
  ...recordTail,
  diffId: z.null(),
  diffSize: z.null(),
  digest: z.null(),
  size: z.null(),
  warnings: z.array(z.string()).default([]),
});
/** `dist/layer.json` of a layer that ships a blob. */
const blobRecordSchema = z.object({
  ...recordHead,
  empty: z.literal(false),
  ...recordTail,
  ...blobDigestsSchema.shape,
  warnings: z.array(z.string()).default([]),
});
export const layerRecordSchema = z.discriminatedUnion('empty', [emptyRecordSchema, blobRecordSchema]);
export type LayerRecord = z.infer<typeof layerRecordSchema>;
export type BlobLayerRecord = Extract<LayerRecord, { empty: false }>;

/** A layer blob as an image needs it. */
export interface LayerBlob extends BlobDigests {
  mediaType: string;
  compression: Compression;
}

/** One layer of an image: what its history says, and its blob unless it is empty. */
export interface ImageLayer {
  name: string;
  version: string;
  pathCount: number;
  narSize: number;
  blob: LayerBlob | null;
}

/** Image-level settings (stack.json's fields, with nix/config.nix merged into `config`). */
export interface ImageMeta {
  name?: string;
  tag?: string;
  created?: string;
  architecture?: string;
  os?: string;
  config?: Record<string, unknown>;
}

/** Everything oci/ and registry/ need to write or push an image. */
export interface ImageSpec {
  meta: ImageMeta;
  /** In layer order, empty ones included (they appear in the history). */
  layers: ImageLayer[];
}

export function imageLayerOf(r: LayerRecord): ImageLayer {
  return {
    name: r.name,
    version: r.version,
    pathCount: r.paths.length,
    narSize: r.narSize,
    blob: r.empty ? null : { diffId: r.diffId, diffSize: r.diffSize, digest: r.digest, size: r.size, mediaType: r.mediaType, compression: r.compression },
  };
}

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}
