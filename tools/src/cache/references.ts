import { resolve } from 'node:path';
import { readRecord } from '../pipeline/layer-record.ts';
import { loadStack } from '../stack/stack.ts';
import { blobLabel, recordBlobs } from '../model/vocabulary.ts';

export interface BlobReference {
  stack: string;
  layer: string;
  version: string;
  compression: string;
}

/** Which blobs the stacks' current `dist/layer.json` records point at (layers never built point at none). */
export async function blobReferences(stackDirs: string[]): Promise<Map<string, BlobReference[]>> {
  const refs = new Map<string, BlobReference[]>();
  for (const dir of stackDirs) {
    const stack = await loadStack(resolve(dir));
    for (const layer of stack.layers) {
      const r = await readRecord(layer);
      if (!r) continue;
      for (const b of recordBlobs(r)) {
        const list = refs.get(b.digest) ?? [];
        list.push({ stack: stack.dir, layer: blobLabel(r.name, b.part), version: r.version, compression: r.compression });
        refs.set(b.digest, list);
      }
    }
  }
  return refs;
}
