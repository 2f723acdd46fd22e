import { readFile } from 'node:fs/promises';
import type { z } from 'zod';
import { UsageError } from './errors.ts';

/**
 * Read and check a JSON file. A file that is not JSON, or not of the expected shape, is one
 * line naming the file and what is wrong (a UsageError), never a SyntaxError stack trace.
 * A missing file is the caller's business (check with existsSync first, or catch ENOENT).
 */
export async function readJsonFile<S extends z.ZodType>(path: string, schema: S): Promise<z.infer<S>> {
  const text = await readFile(path, 'utf8');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UsageError(`${path} is not valid JSON (${(err as Error).message})`);
  }
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new UsageError(`${path}: ${parsed.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ')}`);
  return parsed.data;
}
