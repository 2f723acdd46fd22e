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

/**
 * A layer blob's digests: sha256 of the uncompressed tar (the OCI diffID) and of the blob as
 * stored; for a format with a table of contents (zstd:chunked, eStargz), the annotations its
 * layer descriptor must carry (where the TOC is, its digest), kept with the digests so every
 * path that ships the blob (registry-first push, records from a remote cache) ships them too.
 */
export const blobDigestsSchema = z.object({
  diffId: z.string(),
  diffSize: z.number(),
  digest: z.string(),
  size: z.number(),
  annotations: z.record(z.string(), z.string()).optional(),
});
export type BlobDigests = z.infer<typeof blobDigestsSchema>;

/**
 * A Python distribution inside a store path (its `*.dist-info/METADATA`), as the SBOM lists it.
 * Records carry these, so a runner without the store paths makes the same SBOM.
 */
export const pythonDistSchema = z.object({
  metadataPath: z.string(),
  name: z.string(),
  version: z.string(),
  license: z.string().nullable(),
  classifierLicenses: z.array(z.string()),
});
export type RecordedPythonDist = z.infer<typeof pythonDistSchema>;
/** Store path → the Python distributions in it (paths without any left out); absent in records of older megapak. */
const pythonDistsField = { pythonDists: z.record(z.string(), z.array(pythonDistSchema)).optional() };

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
  ...pythonDistsField,
});
/**
 * One part of a layer split by its `maxLayerSize`: the layer's tar entries (bytewise order of
 * their names) from `start` up to the next part's `start`, with the directories above them.
 */
export const layerPartSchema = z.object({
  /** 1-based. */
  part: z.number().int(),
  /** Name of the part's first tar entry, e.g. `nix/store/…-torch/lib/libtorch.so`. */
  start: z.string(),
  /** Store paths with at least one entry in this part (a path larger than the limit spans several parts). */
  paths: z.array(z.string()),
  contentKey: z.string(),
  ...blobDigestsSchema.shape,
});
export type LayerPart = z.infer<typeof layerPartSchema>;
/**
 * `dist/layer.json` of a layer shipped as several OCI layers ("parts"); `diffSize` and `size`
 * are the parts' totals, the digests are the parts' own.
 */
const splitRecordSchema = z.object({
  ...recordHead,
  empty: z.literal(false),
  ...recordTail,
  maxLayerSize: z.number(),
  // No single diffID or digest: each part has its own (absent here, so code that reads them off a record sees undefined).
  diffId: z.undefined().optional(),
  digest: z.undefined().optional(),
  diffSize: z.number(),
  size: z.number(),
  parts: z.array(layerPartSchema).min(2),
  warnings: z.array(z.string()).default([]),
  ...pythonDistsField,
});
// Split before whole: a whole record has no `parts`, a split one no top-level digests.
export const layerRecordSchema = z.union([emptyRecordSchema, splitRecordSchema, blobRecordSchema]);
export type LayerRecord = z.infer<typeof layerRecordSchema>;
export type BlobLayerRecord = Extract<LayerRecord, { empty: false }>;
export type SplitLayerRecord = z.infer<typeof splitRecordSchema>;
export const isSplit = (r: LayerRecord): r is SplitLayerRecord => 'parts' in r && Array.isArray(r.parts);

/**
 * Whether a record's cut into OCI layers is still the one `maxLayerSize` asks for: a split
 * record split at that very limit, a whole one within it (or no limit), an empty one always.
 */
export const cutFits = (r: LayerRecord, maxLayerSize: number | undefined): boolean =>
  isSplit(r) ? r.maxLayerSize === maxLayerSize : r.empty || maxLayerSize === undefined || r.diffSize <= maxLayerSize;

/** One blob of a record: the whole layer's, or one part's (with its place among the parts). */
export interface RecordBlob extends BlobDigests {
  contentKey: string;
  part?: { index: number; count: number; start: string; end?: string; paths: string[] };
}

/** A blob's digests (and annotations, when it has any) out of a record, a part or a blob-store entry. */
export const digestsOf = (d: BlobDigests): BlobDigests => ({
  diffId: d.diffId,
  diffSize: d.diffSize,
  digest: d.digest,
  size: d.size,
  ...(d.annotations ? { annotations: d.annotations } : {}),
});

/** The blobs a record ships, in image order: none, the one whole-layer blob, or every part's. */
export function recordBlobs(r: LayerRecord): RecordBlob[] {
  if (r.empty) return [];
  if (!isSplit(r)) return [{ contentKey: r.contentKey, ...digestsOf(r) }];
  return r.parts.map((p, i) => ({
    contentKey: p.contentKey,
    ...digestsOf(p),
    part: { index: p.part, count: r.parts.length, start: p.start, end: r.parts[i + 1]?.start, paths: p.paths },
  }));
}

/** "layer-06" or "layer-06, part 2 of 5": how messages, history and push name a blob. */
export const blobLabel = (name: string, part?: { index: number; count: number }) => (part ? `${name}, part ${part.index} of ${part.count}` : name);

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
  /** Set when the logical layer is split: this OCI layer is part `index` of `count`. */
  part?: { index: number; count: number };
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

export function imageLayerOf(r: Exclude<LayerRecord, SplitLayerRecord>): ImageLayer {
  return {
    name: r.name,
    version: r.version,
    pathCount: r.paths.length,
    narSize: r.narSize,
    blob: r.empty ? null : { ...digestsOf(r), mediaType: r.mediaType, compression: r.compression },
  };
}

/** An OCI content descriptor. */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

/** The OCI layers of one logical layer: one (possibly empty) for a whole layer, one per part for a split one. */
export function imageLayersOf(r: LayerRecord): ImageLayer[] {
  if (!isSplit(r)) return [imageLayerOf(r)];
  return recordBlobs(r).map((b) => ({
    name: r.name,
    version: r.version,
    pathCount: b.part!.paths.length,
    narSize: r.narSize,
    blob: { ...digestsOf(b), mediaType: r.mediaType, compression: r.compression },
    part: { index: b.part!.index, count: b.part!.count },
  }));
}
