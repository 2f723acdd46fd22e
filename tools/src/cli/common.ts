import { resolve } from 'node:path';
import { BlobStore } from '../layer/blob-store.ts';
import { parseCompression, type Compression } from '../layer/compression.ts';
import { loadStack, type Stack } from '../stack/stack.ts';
import { progressFor, formatBytes, type Progress } from '../util/progress.ts';
import type { LayerRecord } from '../layer/layer-record.ts';

/** The repository root: the real stack, and the default `--stack`. */
export const REPO_ROOT = resolve(import.meta.dirname, '..', '..', '..');

export interface Env {
  stack: Stack;
  blobs: BlobStore;
  progress: Progress;
}

export async function setup(stackDir: string | undefined): Promise<Env> {
  return { stack: await loadStack(stackDir ?? REPO_ROOT), blobs: new BlobStore(), progress: progressFor() };
}

/** `--compression` beats MEGAPAK_COMPRESSION (the form Turborepo passes); gzip by default. */
export function compressionFrom(option: string | undefined): Compression {
  return parseCompression(option ?? process.env.MEGAPAK_COMPRESSION ?? 'gzip');
}

export function layerTable(records: LayerRecord[], streamed: Set<string>): string {
  const rows = records.map((r) =>
    [
      `${r.name}@${r.version}`,
      String(r.paths.length),
      formatBytes(r.narSize),
      r.size === null ? '-' : formatBytes(r.size),
      r.digest ? r.digest.slice(0, 19) : 'empty',
      r.empty ? 'empty' : streamed.has(r.name) ? 'streamed' : 'cached',
    ].join('\t'),
  );
  return ['layer\tpaths\tNAR\tblob\tdigest\tblob source', ...rows].join('\n');
}
