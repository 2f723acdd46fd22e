import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseCompression, type Compression } from '../model/compression.ts';

// Every environment variable megapak reads, read here (the CLI) and passed down as options.

/** MEGAPAK_CACHE_DIR: the blob store. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MEGAPAK_CACHE_DIR || join(homedir(), '.cache', 'megapak');
}

/** `--compression` beats MEGAPAK_COMPRESSION (the form Turborepo passes); gzip by default. */
export function compressionFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): Compression {
  return parseCompression(option ?? env.MEGAPAK_COMPRESSION ?? 'gzip');
}

/** MEGAPAK_PUSH_CHUNK_MB (bytes per upload request; unset: whole blob) and MEGAPAK_RETRY_BACKOFF_MS. */
export function pushTuning(env: NodeJS.ProcessEnv = process.env): { chunkSize?: number; backoffMs: number } {
  const chunk = Number(env.MEGAPAK_PUSH_CHUNK_MB ?? 0) * 2 ** 20;
  return { chunkSize: chunk > 0 ? chunk : undefined, backoffMs: Number(env.MEGAPAK_RETRY_BACKOFF_MS ?? 500) };
}
