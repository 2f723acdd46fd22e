import { cp, mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from './cli.ts';
import { layerRecordSchema, type LayerRecord } from '../../tools/src/model/vocabulary.ts';

export const FIXTURE_STACK = join(REPO, 'test', 'fixtures', 'stack');

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `megapak-${prefix}-`));
}

/** A private copy of a stack (the fixture by default, without any dist/), to change and build. */
export async function copyFixtureStack(source = FIXTURE_STACK): Promise<string> {
  const dir = join(await tempDir('stack'), 'stack');
  await cp(source, dir, { recursive: true, filter: (src) => !/[/\\](dist|out|node_modules|\.turbo)$/.test(src) });
  return dir;
}

/** The layers' dist/layer.json, in layer order. */
export async function readRecords(stackDir: string): Promise<LayerRecord[]> {
  const folders = (await readdir(join(stackDir, 'layers'))).sort();
  return Promise.all(folders.map(async (f) => layerRecordSchema.parse(JSON.parse(await readFile(join(stackDir, 'layers', f, 'dist', 'layer.json'), 'utf8')))));
}
