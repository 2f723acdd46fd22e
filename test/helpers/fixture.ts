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

export interface LayoutMember {
  mediaType: string;
  digest: string;
  artifactType?: string;
  platform?: { architecture: string; os: string };
}

/**
 * What an OCI layout's one index.json entry holds, read by hand as skopeo does: the image
 * manifest (the member with a platform and no artifactType) and the referrers beside it in the
 * image index that entry names (or the manifest alone, when the entry is one).
 */
export async function layoutMembers(dir: string): Promise<{ image: LayoutMember; referrers: LayoutMember[]; entries: number }> {
  const json = async (p: string) => JSON.parse(await readFile(p, 'utf8'));
  const index = await json(join(dir, 'index.json'));
  const entry = index.manifests[0] as LayoutMember;
  const members: LayoutMember[] = entry.mediaType.endsWith('index.v1+json') ? (await json(join(dir, 'blobs', 'sha256', entry.digest.slice(7)))).manifests : [entry];
  return { image: members.find((m) => !m.artifactType)!, referrers: members.filter((m) => m.artifactType), entries: index.manifests.length };
}
