import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseCompression, type Compression } from '../model/compression.ts';
import { UsageError } from '../util/errors.ts';
import { defaultGzipWorkers, MAX_GZIP_WORKERS } from '../util/parallel-gzip.ts';

// Every environment variable megapak reads, read here (the CLI) and passed down as options.

/** MEGAPAK_CACHE_DIR: the blob store. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.MEGAPAK_CACHE_DIR || join(homedir(), '.cache', 'megapak');
}

/** Whether a compression was asked for at all (`--compression` or MEGAPAK_COMPRESSION). */
export const compressionAsked = (option: string | undefined, env: NodeJS.ProcessEnv = process.env): boolean => (option ?? env.MEGAPAK_COMPRESSION) !== undefined;

/** `--compression` beats MEGAPAK_COMPRESSION (the form Turborepo passes); gzip by default. */
export function compressionFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): Compression {
  return parseCompression(option ?? env.MEGAPAK_COMPRESSION ?? 'gzip');
}

/** MEGAPAK_PUSH_CHUNK_MB (bytes per upload request; unset: whole blob), MEGAPAK_RETRY_BACKOFF_MS and MEGAPAK_REGISTRY_IDLE_S (stall timeout, 60). */
export function pushTuning(env: NodeJS.ProcessEnv = process.env): { chunkSize?: number; backoffMs: number; idleTimeoutMs: number } {
  const chunk = Number(env.MEGAPAK_PUSH_CHUNK_MB ?? 0) * 2 ** 20;
  const idle = Number(env.MEGAPAK_REGISTRY_IDLE_S ?? 60) * 1000;
  return { chunkSize: chunk > 0 ? chunk : undefined, backoffMs: Number(env.MEGAPAK_RETRY_BACKOFF_MS ?? 500), idleTimeoutMs: idle > 0 ? idle : 60_000 };
}

/** `--gzip-workers` beats MEGAPAK_GZIP_WORKERS; default: the cores available (at most MAX_GZIP_WORKERS). Any count makes the same bytes. */
export function gzipWorkersFrom(option: string | undefined, env: NodeJS.ProcessEnv = process.env): number {
  const text = option ?? env.MEGAPAK_GZIP_WORKERS;
  if (text === undefined || text === '') return defaultGzipWorkers();
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`gzip workers must be a whole number ≥ 1, not '${text}' (--gzip-workers or MEGAPAK_GZIP_WORKERS)`);
  return Math.min(n, MAX_GZIP_WORKERS);
}
