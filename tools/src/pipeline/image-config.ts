import type { ImageMeta } from '../model/vocabulary.ts';
import { MegapakError } from '../util/errors.ts';

const envName = (e: string) => e.slice(0, e.indexOf('=') >>> 0);

/**
 * Pure: stack.json's config with nix/config.nix's fields on top. Env is merged by variable
 * name (the Nix side wins), so stack.json can keep static variables like CLI_ARGS.
 */
export function mergeConfig(meta: ImageMeta, fromNix: Record<string, unknown> | undefined): ImageMeta {
  if (!fromNix) return meta;
  const base = meta.config ?? {};
  const env = new Map<string, string>();
  for (const e of [...((base.Env as string[]) ?? []), ...((fromNix.Env as string[]) ?? [])]) env.set(envName(e), e);
  return { ...meta, config: { ...base, ...fromNix, ...(env.size ? { Env: [...env.values()] } : {}) } };
}

/** Every store path the config names must ship in a layer, or the image would not start. */
export function checkConfigPaths(config: Record<string, unknown>, storeDir: string, shipped: Set<string>): void {
  const text = JSON.stringify(config);
  const re = new RegExp(`${storeDir.replace(/[/.]/g, '\\$&')}/[0-9a-z]{32}-[^/":\\s]+`, 'g');
  for (const m of text.matchAll(re)) if (!shipped.has(m[0])) throw new MegapakError(`image config names ${m[0]}, which no layer ships; add its package to a layer's roots`);
}
