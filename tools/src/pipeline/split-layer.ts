import pLimit from 'p-limit';
import { partContentKey } from '../layer/content-key.ts';
import { tarNameOf } from '../layer/layer-tar.ts';
import { partUnits, partFixedBytes } from '../layer/part-units.ts';
import type { WalkEntry } from '../layer/store-walk.ts';
import type { Compression } from '../model/compression.ts';
import { blobLabel, cutFits, digestsOf, isSplit, type LayerPart, type LayerRecord, type StorePathInfo } from '../model/vocabulary.ts';
import { planParts } from '../plan/parts.ts';
import { MegapakError } from '../util/errors.ts';
import { ensureBlob, type BlobMakingOptions } from './ensure-blob.ts';

/**
 * A layer's tar is at most this many times its NAR size (a 512-byte header, up to 511 bytes of
 * padding and a PAX header against NAR's ~150 bytes of framing per entry, for empty files):
 * below `limit / TAR_PER_NAR` a layer fits without reading the store to find out.
 */
const TAR_PER_NAR = 24;

interface PlannedPart {
  start: string;
  paths: string[];
  /** The planned tar size; unknown when the plan came from an earlier record. */
  bytes?: number;
}

/**
 * Which parts a layer splits into, or null when it fits in one OCI layer. An earlier record of
 * the same content and limit answers without reading the store (a no-change build); so does a
 * layer far below the limit. Otherwise the store paths are walked and planned (plan/parts.ts).
 */
function planLayer(
  storeDir: string,
  delta: StorePathInfo[],
  contentKey: string,
  limit: number,
  previous: LayerRecord | undefined,
  walked: Map<string, WalkEntry[]>,
): PlannedPart[] | null {
  const narSize = delta.reduce((s, p) => s + p.narSize, 0);
  if (previous && previous.contentKey === contentKey && !previous.empty && cutFits(previous, limit))
    return isSplit(previous) ? previous.parts.map((p) => ({ start: p.start, paths: p.paths })) : null;
  const fixed = partFixedBytes(storeDir);
  if (narSize * TAR_PER_NAR + fixed <= limit) return null;
  const plan = planParts(
    partUnits(
      storeDir,
      delta.map((p) => p.path),
      limit,
      walked,
    ),
    limit,
    fixed,
  );
  if (plan.length < 2) return null;
  return plan;
}

/**
 * Make (or find in the blob store) every part of a layer larger than its `maxLayerSize`. A
 * part whose content is unchanged is answered by the blob store without reading the store.
 * When the layer fits in one OCI layer: the entries walked to find out (`walked`), for writing it.
 * Uncompressed, two parts are made at a time: a blob's end waits for its hash to catch up, and
 * the next part's reading fills that wait (many-file stack, 26 parts: ~4 % faster, measured on
 * a loaded machine). Compressed, one at a time: gzip already fills the cores, and two gzip parts
 * at once took the peak RSS from 227 to 337 MB for nothing.
 */
export async function splitLayer(
  layer: { name: string; maxLayerSize: number },
  storeDir: string,
  delta: StorePathInfo[],
  contentKey: string,
  compression: Compression,
  previous: LayerRecord | undefined,
  opts: BlobMakingOptions,
): Promise<{ parts: LayerPart[]; streamed: boolean } | { walked: Map<string, WalkEntry[]> }> {
  // The entries the planner walked, kept for writing the parts (freed as the parts are done).
  const walked = new Map<string, WalkEntry[]>();
  const plan = planLayer(storeDir, delta, contentKey, layer.maxLayerSize, previous, walked);
  if (!plan) return { walked };
  const info = new Map(delta.map((p) => [p.path, p]));
  const earlier = new Map(previous && isSplit(previous) && previous.compression === compression ? previous.parts.map((p) => [p.contentKey, p.digest]) : []);
  const limit = pLimit(compression === 'none' ? 2 : 1);
  const made = await Promise.allSettled(
    plan.map((p, i) =>
      limit(async () => {
        const end = plan[i + 1]?.start;
        const paths = p.paths.map((path) => info.get(path)!);
        // Where the next part starts matters only inside this part's last store path: a part that
        // ends where a store path ends keeps its key when the part after it changes.
        const last = tarNameOf(storeDir, p.paths[p.paths.length - 1]!);
        const key = partContentKey(paths, p.start, end?.startsWith(`${last}/`) ? end : undefined);
        const what = blobLabel(layer.name, { index: i + 1, count: plan.length });
        const r = await ensureBlob({ what, storeDir, paths, contentKey: key, compression, range: { start: p.start, end, walked } }, { ...opts, expectedDigest: earlier.get(key) });
        for (const path of p.paths) if (!plan[i + 1]?.paths.includes(path)) walked.delete(path);
        // The planner's arithmetic and the tar writer must agree, or a part could exceed the limit.
        if (r.streamed && p.bytes !== undefined && r.entry.diffSize !== p.bytes)
          throw new MegapakError(`${what}: the part's tar holds ${r.entry.diffSize} bytes, its plan ${p.bytes}; this is a bug in megapak`);
        return { part: { part: i + 1, start: p.start, paths: p.paths, contentKey: key, ...digestsOf(r.entry) }, streamed: r.streamed };
      }),
    ),
  );
  // Every part settled before failing: none is left writing behind an error.
  const failed = made.find((m) => m.status === 'rejected');
  if (failed) throw failed.reason;
  const done = made.map((m) => (m as PromiseFulfilledResult<{ part: LayerPart; streamed: boolean }>).value);
  const parts = done.map((d) => d.part);
  const streamed = done.some((d) => d.streamed);
  return { parts, streamed };
}
