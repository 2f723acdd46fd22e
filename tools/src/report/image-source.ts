import { createReadStream, existsSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { sha256Digest } from '../oci/image.ts';
import { layoutBlobPath, layoutImageManifest } from '../oci/oci-layout.ts';
import { COMPRESSION, compressionOfMediaType } from '../model/compression.ts';
import { RegistryReader } from '../registry/pull.ts';
import { parseImageRef } from '../registry/reference.ts';
import type { Credentials } from '../registry/credentials.ts';
import { MegapakError, UsageError } from '../util/errors.ts';
import { readJsonFile } from '../util/json-file.ts';
import { z } from 'zod';

/** One OCI layer of an image as `diff` sees it. */
export interface SourceLayer {
  digest: string;
  /** Bytes a puller downloads for it. */
  size: number;
  diffId: string;
  mediaType: string;
  /** The logical layer: `layer-07` from the history's `layer-07@1.0.0 part 2 of 5`. */
  layer: string;
  /** The layer descriptor's annotations (where a zstd:chunked or eStargz blob keeps its table of contents). */
  annotations?: Record<string, string>;
}

export interface ImageSource {
  what: string;
  config: { digest: string; size: number };
  layers: SourceLayer[];
  /** The layer's uncompressed tar. */
  tar: (l: SourceLayer) => Promise<Readable>;
  /** `length` bytes of a layer blob from `offset` (a registry: one range request); absent where blobs are uncompressed tars. */
  range?: (l: SourceLayer, offset: number, length: number) => Promise<Buffer>;
}

const configSchema = z
  .object({
    rootfs: z.object({ diff_ids: z.array(z.string()) }),
    history: z.array(z.object({ created_by: z.string().optional(), empty_layer: z.boolean().optional() })).default([]),
  })
  .passthrough();
const manifestSchema = z
  .object({
    config: z.object({ digest: z.string(), size: z.number() }),
    layers: z.array(z.object({ digest: z.string(), size: z.number(), mediaType: z.string(), annotations: z.record(z.string(), z.string()).optional() })),
  })
  .passthrough();

/** Logical layer names of the non-empty history entries, in order (megapak writes `layer-07@1.0.0 part 2 of 5`). */
function logicalNames(config: z.infer<typeof configSchema>): string[] {
  const names = config.history.filter((h) => !h.empty_layer).map((h, i) => /^(\S+)@\S+(?: part \d+ of \d+)?$/.exec(h.created_by ?? '')?.[1] ?? `#${i + 1}`);
  return config.rootfs.diff_ids.map((_, i) => names[i] ?? `#${i + 1}`);
}

function layersOf(m: z.infer<typeof manifestSchema>, config: z.infer<typeof configSchema>): SourceLayer[] {
  const names = logicalNames(config);
  if (m.layers.length !== config.rootfs.diff_ids.length)
    throw new MegapakError(`the manifest lists ${m.layers.length} layers but the config ${config.rootfs.diff_ids.length} diffIDs`);
  return m.layers.map((l, i) => ({ ...l, diffId: config.rootfs.diff_ids[i]!, layer: names[i]! }));
}

/** The uncompressed tar of a layer blob, by its media type (OCI and Docker names alike). */
const uncompressed = (l: SourceLayer, blob: Readable): Readable => COMPRESSION[compressionOfMediaType(l.mediaType)].decompress(blob, l.digest);

async function ociLayout(dir: string, tag: string | undefined): Promise<ImageSource> {
  const pick = await layoutImageManifest(dir, tag);
  if (!pick) throw new UsageError(`${dir}: the OCI layout has no image${tag ? ` tagged ${tag}` : ''}`);
  const blob = (d: string) => layoutBlobPath(dir, d);
  const m = await readJsonFile(blob(pick), manifestSchema);
  const config = await readJsonFile(blob(m.config.digest), configSchema);
  return {
    what: dir,
    config: m.config,
    layers: layersOf(m, config),
    tar: async (l) => uncompressed(l, createReadStream(blob(l.digest), { highWaterMark: 4 << 20 })),
    range: (l, offset, length) => readRange(blob(l.digest), offset, length),
  };
}

async function readRange(file: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const b = Buffer.alloc(length);
    const { bytesRead } = await fh.read(b, 0, length, offset);
    if (bytesRead !== length) throw new MegapakError(`${file}: ${length} bytes at ${offset} are past its end`);
    return b;
  } finally {
    await fh.close();
  }
}

/**
 * Where each entry of a tar file starts and how long it is, read header by header with
 * seeks: a docker-archive is GBs, and a streaming reader (tar-stream) would read all of it
 * to reach the one layer asked for. Handles the ustar names `docker save` and megapak write.
 */
async function tarIndex(file: string): Promise<Map<string, { offset: number; size: number }>> {
  const fh = await open(file, 'r');
  const out = new Map<string, { offset: number; size: number }>();
  try {
    const h = Buffer.alloc(512);
    let longName: string | undefined;
    for (let pos = 0; ;) {
      const { bytesRead } = await fh.read(h, 0, 512, pos);
      if (bytesRead < 512 || h.every((b) => b === 0)) break;
      const field = (o: number, n: number) =>
        h
          .subarray(o, o + n)
          .toString('utf8')
          .replace(/\0.*$/s, '');
      const size = parseInt(field(124, 12).trim() || '0', 8);
      const type = String.fromCharCode(h[156]!);
      const prefix = field(345, 155);
      const name = longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
      longName = undefined;
      if (type === 'x') {
        const pax = Buffer.alloc(size);
        await fh.read(pax, 0, size, pos + 512);
        longName = /(?:^|\n)\d+ path=([^\n]*)\n/.exec(pax.toString('utf8'))?.[1];
      } else out.set(name.replace(/^\.\//, ''), { offset: pos + 512, size });
      pos += 512 + Math.ceil(size / 512) * 512;
    }
  } finally {
    await fh.close();
  }
  return out;
}

async function dockerArchive(file: string): Promise<ImageSource> {
  const index = await tarIndex(file);
  const read = async (name: string) => {
    const e = index.get(name);
    if (!e) throw new UsageError(`${file}: not a docker-archive (no ${name})`);
    const fh = await open(file, 'r');
    try {
      const b = Buffer.alloc(e.size);
      await fh.read(b, 0, e.size, e.offset);
      return b;
    } finally {
      await fh.close();
    }
  };
  const manifest = z.array(z.object({ Config: z.string(), Layers: z.array(z.string()) })).parse(JSON.parse((await read('manifest.json')).toString('utf8')))[0];
  if (!manifest) throw new UsageError(`${file}: the docker-archive holds no image`);
  const configBytes = await read(manifest.Config);
  const config = configSchema.parse(JSON.parse(configBytes.toString('utf8')));
  const names = logicalNames(config);
  const entryOf = new Map<string, { offset: number; size: number }>();
  // In a docker-archive a layer is its uncompressed tar: its digest is its diffID.
  const layers = manifest.Layers.map((p, i): SourceLayer => {
    const e = index.get(p);
    if (!e) throw new UsageError(`${file}: the docker-archive lacks ${p}`);
    const diffId = config.rootfs.diff_ids[i]!;
    entryOf.set(diffId, e);
    return { digest: diffId, size: e.size, diffId, mediaType: 'application/vnd.oci.image.layer.v1.tar', layer: names[i]! };
  });
  const configDigest = sha256Digest(configBytes);
  return {
    what: file,
    config: { digest: configDigest, size: configBytes.length },
    layers,
    tar: async (l) => {
      const e = entryOf.get(l.diffId)!;
      return createReadStream(file, { start: e.offset, end: e.offset + e.size - 1, highWaterMark: 4 << 20 });
    },
  };
}

async function registryImage(
  text: string,
  o: { plainHttp: boolean; credentials?: (registry: string) => Promise<Credentials | undefined>; retries: number; backoffMs: number },
): Promise<ImageSource> {
  const ref = parseImageRef(text);
  const reader = new RegistryReader(ref, { plainHttp: o.plainHttp, retries: o.retries, backoffMs: o.backoffMs, credentials: await o.credentials?.(ref.registry) });
  const { manifest } = await reader.manifest();
  const m = manifestSchema.parse(manifest);
  const config = configSchema.parse(await reader.blobJson(m.config.digest));
  return {
    what: text,
    config: m.config,
    layers: layersOf(m, config),
    tar: async (l) => uncompressed(l, await reader.blobStream(l.digest)),
    range: (l, offset, length) => reader.blobRange(l.digest, offset, length),
  };
}

/**
 * An image to compare: an OCI image layout folder (`DIR`, or `DIR:TAG` when it holds several),
 * a docker-archive file, or else a registry reference.
 */
export async function openImageSource(spec: string, o: Parameters<typeof registryImage>[1]): Promise<ImageSource> {
  const colon = spec.lastIndexOf(':');
  const [dir, tag] = existsSync(spec) ? [spec, undefined] : colon > 0 && existsSync(spec.slice(0, colon)) ? [spec.slice(0, colon), spec.slice(colon + 1)] : [undefined, undefined];
  if (dir && statSync(dir).isDirectory()) {
    if (!existsSync(join(dir, 'index.json'))) throw new UsageError(`${dir} is not an OCI image layout (no index.json)`);
    return ociLayout(dir, tag);
  }
  if (dir) return dockerArchive(dir);
  if (/^[./~]/.test(spec)) throw new UsageError(`${spec}: no such OCI image layout or docker-archive`);
  return registryImage(spec, o);
}

/** The store paths a layer tar holds entries of (`nix/store/<name>/…` → `/nix/store/<name>`). */
export async function storePathsIn(t: Readable): Promise<Set<string>> {
  const paths = new Set<string>();
  const extract = tar.extract();
  extract.on('entry', (h, stream, next) => {
    const m = /^(?:\.\/)?(nix\/store\/[^/]+)/.exec(h.name);
    if (m) paths.add(`/${m[1]}`);
    stream.on('end', next);
    stream.resume();
  });
  await pipeline(t, extract);
  return paths;
}
