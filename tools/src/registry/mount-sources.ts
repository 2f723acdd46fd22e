import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { writeJsonAtomic } from '../util/atomic.ts';
import { readJsonFile } from '../util/json-file.ts';

/**
 * Which repositories of a registry we have pushed each blob to, so a push to another
 * repository of the same registry can ask for a cross-repository mount instead of uploading.
 */
export class MountSources {
  private constructor(
    private readonly file: string,
    private readonly known: Record<string, string[]>,
  ) {}

  static async load(cacheDir: string, registry: string): Promise<MountSources> {
    const file = join(cacheDir, 'registries', `${registry.replace(/[^A-Za-z0-9.-]/g, '_')}.json`);
    const known = existsSync(file) ? await readJsonFile(file, z.record(z.string(), z.array(z.string()))) : {};
    return new MountSources(file, known);
  }

  /** A repository other than `repository` known to hold `digest`. */
  sourceFor(digest: string, repository: string): string | undefined {
    return this.known[digest]?.find((r) => r !== repository);
  }

  async record(digests: string[], repository: string): Promise<void> {
    for (const d of digests) {
      const repos = (this.known[d] ??= []);
      if (!repos.includes(repository)) repos.push(repository);
    }
    await writeJsonAtomic(this.file, this.known);
  }
}
