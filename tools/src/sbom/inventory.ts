// What the image ships, as an SBOM sees it: one entry per store path of the layers' deltas
// (from the records, so however a layer is cut into blobs does not matter here), the Python
// distributions found inside them, and the layers' roots' nixpkgs meta. Both document formats
// are rendered from this one inventory.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { LayerRecord } from '../model/vocabulary.ts';
import type { RootMeta } from '../nix/nix.ts';
import { parseDrvName, storePathParts } from './nix-name.ts';
import { findPythonDists, pypiPurl, type PythonDist } from '../layer/python-dists.ts';

export interface ImageIdentity {
  name: string;
  tag: string;
  /** The image manifest's digest: the documents' serial number and namespace derive from it. */
  digest: string;
  /** The image's `created`: the documents' timestamp. */
  created: string;
}

export interface StorePathEntry {
  path: string;
  /** The store path's name as builtins.parseDrvName splits it. */
  name: string;
  version: string;
  narHashHex: string;
  narSize: number;
  /** The logical layer that ships it. */
  layer: string;
  layerVersion: string;
  /** Other shipped store paths it refers to (sorted). */
  references: string[];
  /** A root of some layer (named in a layer.nix). */
  root: boolean;
  meta: RootMeta | null;
  /** False when the path was absent from this machine's store: its contents were not read. */
  read: boolean;
  pythonDists: PythonDist[];
}

export interface Inventory {
  image: ImageIdentity;
  layers: { name: string; version: string }[];
  storePaths: StorePathEntry[];
  /** Store paths whose contents could not be read (absent from the store). */
  unread: string[];
}

export const narHashHex = (sri: string) => Buffer.from(sri.replace(/^sha256-/, ''), 'base64').toString('hex');

/**
 * The inventory of an image from its layers' records. Contents (dist-info) come from the records
 * (`pythonDists`, written when the layer was built), so every runner lists the same; for a record
 * of an older megapak they are read from the store where the path is present, and absent paths
 * are listed as unread rather than realised (a push never downloads store paths for this).
 */
export async function gatherInventory(records: LayerRecord[], image: ImageIdentity, meta: RootMeta[][] | null, exists = existsSync): Promise<Inventory> {
  const metaByPath = new Map((meta ?? []).flat().map((m) => [m.path, m]));
  const roots = new Set(records.flatMap((r) => r.roots));
  const shipped = new Set(records.flatMap((r) => r.paths.map((p) => p.path)));
  const entries: StorePathEntry[] = [];
  for (const r of records) {
    // Recorded at build time (dist/layer.json); records of an older megapak: read from the store where present.
    const recorded = r.empty ? undefined : r.pythonDists;
    for (const p of r.paths) {
      const read = !!recorded || exists(p.path);
      const dists = recorded ? (recorded[p.path] ?? []).map((d) => ({ storePath: p.path, ...d, purl: pypiPurl(d.name, d.version) })) : read ? await findPythonDists(p.path) : [];
      entries.push({
        path: p.path,
        ...parseDrvName(storePathParts(p.path).fullName),
        narHashHex: narHashHex(p.narHash),
        narSize: p.narSize,
        layer: r.name,
        layerVersion: r.version,
        references: p.references.filter((x) => x !== p.path && shipped.has(x)).sort(),
        root: roots.has(p.path),
        meta: metaByPath.get(p.path) ?? null,
        read,
        pythonDists: dists,
      });
    }
  }
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { image, layers: records.map((r) => ({ name: r.name, version: r.version })), storePaths: entries, unread: entries.filter((e) => !e.read).map((e) => e.path) };
}

// RFC 9562's namespace for OIDs; the name is the image's manifest digest.
const UUID_NAMESPACE = Buffer.from('6ba7b8129dad11d180b400c04fd430c8', 'hex');

/** A name-based UUID (version 5, RFC 9562) of the image digest: same image, same serial number. */
export function uuidFromDigest(digest: string): string {
  const b = createHash('sha1').update(UUID_NAMESPACE).update(digest).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x50;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
