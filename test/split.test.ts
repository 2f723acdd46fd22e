// maxLayerSize end to end: real Nix builds a copy of the fixture stack whose layer 07 holds
// nineteen Python packages; its parts are read back with tar-stream and checked against the
// store as `find` lists it, then one package is added and the parts compared.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { megapakOk, run } from './helpers/cli.ts';
import { copyFixtureStack, layoutMembers, readRecords, tempDir } from './helpers/fixture.ts';
import { tarHeaders, type Header } from './helpers/tar.ts';
import { isSplit, recordBlobs, type LayerRecord, type SplitLayerRecord } from '../tools/src/model/vocabulary.ts';

const LIMIT = 24 * 1024;
const EXTRA = [
  'torchsde',
  'einops',
  'transformers',
  'tokenizers',
  'sentencepiece',
  'safetensors',
  'aiohttp',
  'yarl',
  'pyyaml',
  'pillow',
  'tqdm',
  'psutil',
  'kornia',
  'spandrel',
  'soundfile',
  'av',
];

const editJson = async (file: string, edit: (o: Record<string, unknown>) => void) => {
  const o = JSON.parse(await readFile(file, 'utf8'));
  edit(o);
  await writeFile(file, JSON.stringify(o, null, 2));
};

/** What `find` says a store path holds, as tar names: `type name` per entry. */
async function storeListing(path: string): Promise<string[]> {
  const r = await run('find', [path, '-printf', '%y %p\\n']);
  if (r.code !== 0) throw new Error(r.stderr);
  const kind: Record<string, string> = { f: 'file', d: 'directory', l: 'symlink' };
  return r.stdout
    .trim()
    .split('\n')
    .map((l) => `${kind[l[0]!]} ${l.slice(2)}`);
}

const named = (h: Header) => `${h.type} /${h.name.replace(/\/$/, '')}`;

describe('a stack with maxLayerSize', () => {
  let stack: string;
  let cache: string;
  let records: LayerRecord[];
  let parts: Map<string, Header[]>;
  const env = () => ({ MEGAPAK_CACHE_DIR: cache });
  const blob = (digest: string) => join(cache, 'blobs', 'sha256', digest.slice(7));
  const layer07 = (rs: LayerRecord[]) => rs.find((r) => r.name === 'layer-07') as SplitLayerRecord;

  beforeAll(async () => {
    stack = await copyFixtureStack();
    cache = await tempDir('split-cache');
    await editJson(join(stack, 'stack.json'), (o) => (o.maxLayerSize = '24KiB'));
    // Layer 02 (one 24 MiB file) says it may be one layer: the layer's own setting wins.
    await editJson(join(stack, 'layers', '02-cuda', 'package.json'), (o) => (o.megapak = { maxLayerSize: '1GiB' }));
    const list = join(stack, 'layers', '07-pak3', 'pak3.txt');
    await writeFile(list, `${(await readFile(list, 'utf8')).trim()}\n${EXTRA.join('\n')}\n`);
    await megapakOk(['build', '--stack', stack], { env: env() });
    records = await readRecords(stack);
    parts = new Map();
    for (const r of records) if (isSplit(r)) for (const p of r.parts) parts.set(p.digest, await tarHeaders(blob(p.digest)));
  });

  it('splits the layers larger than the limit, and only those', () => {
    const split = records.filter(isSplit).map((r) => r.name);
    expect(split).toContain('layer-07');
    expect(split).toContain('layer-01'); // busybox: a 2 MB file and its links
    expect(split).not.toContain('layer-02');
    expect(layer07(records).parts.length).toBeGreaterThanOrEqual(4);
    for (const r of records.filter((r) => !r.empty && !isSplit(r))) expect(r.diffSize).toBeLessThanOrEqual(r.name === 'layer-02' ? 2 ** 30 : LIMIT);
  });

  it('every part respects the limit (a single larger file alone excepted) and unpacks on its own', () => {
    for (const r of records.filter(isSplit))
      for (const p of r.parts) {
        const hs = parts.get(p.digest)!;
        const files = hs.filter((h) => h.type === 'file');
        if (p.diffSize > LIMIT) expect(files.map((f) => f.size).filter((s) => s > LIMIT - 4096)).toHaveLength(1);
        if (p.diffSize > LIMIT) expect(files).toHaveLength(1);
        // Every entry's directory is in the same part, and entries are in bytewise name order.
        const dirs = new Set(hs.filter((h) => h.type === 'directory').map((h) => h.name.replace(/\/$/, '')));
        for (const h of hs.slice(2)) expect(dirs.has(h.name.replace(/\/$/, '').replace(/\/[^/]*$/, '')), `${h.name} in ${r.name} part ${p.part}`).toBe(true);
        const names = hs.map((h) => Buffer.from(h.name.replace(/\/$/, '')));
        for (let i = 1; i < names.length; i++) expect(Buffer.compare(names[i - 1]!, names[i]!)).toBeLessThan(0);
      }
  });

  it('every file and symlink ships exactly once; the parts hold exactly what the store paths hold', async () => {
    for (const r of records.filter(isSplit)) {
      const shipped = r.parts.flatMap((p) => parts.get(p.digest)!.slice(2).map(named));
      const once = shipped.filter((n) => !n.startsWith('directory '));
      expect(new Set(once).size, r.name).toBe(once.length);
      const want = (await Promise.all(r.paths.map((p) => storeListing(p.path)))).flat();
      expect(new Set(shipped)).toEqual(new Set(want));
    }
  });

  it('history, annotations, report and why speak of the logical layer and its parts', async () => {
    const oci = join(stack, 'out', 'oci');
    const manifest = JSON.parse(await readFile(join(oci, 'blobs', 'sha256', (await layoutMembers(oci)).image.digest.slice(7)), 'utf8'));
    const config = JSON.parse(await readFile(join(oci, 'blobs', 'sha256', manifest.config.digest.slice(7)), 'utf8'));
    const l7 = layer07(records);
    const n = l7.parts.length;
    const shipped = config.history.filter((h: { empty_layer?: boolean }) => !h.empty_layer);
    expect(shipped).toHaveLength(config.rootfs.diff_ids.length);
    expect(config.history.map((h: { created_by: string }) => h.created_by)).toEqual(expect.arrayContaining([`layer-07@1.0.0 part 1 of ${n}`, `layer-07@1.0.0 part ${n} of ${n}`]));
    const ann = manifest.layers.filter((l: { annotations: Record<string, string> }) => l.annotations['io.megapak.layer.name'] === 'layer-07');
    expect(ann.map((l: { digest: string; annotations: Record<string, string> }) => [l.digest, l.annotations['io.megapak.layer.part']])).toEqual(
      l7.parts.map((p) => [p.digest, `${p.part}/${n}`]),
    );
    const report = JSON.parse((await megapakOk(['report', '--stack', stack, '--json'], { env: env() })).stdout);
    const rep7 = report.layers.find((l: { name: string }) => l.name === 'layer-07');
    expect(rep7.parts.map((p: { digest: string }) => p.digest)).toEqual(l7.parts.map((p) => p.digest));
    expect(rep7.size).toBe(l7.parts.reduce((s, p) => s + p.size, 0));
    const scipy = l7.paths.find((p) => p.path.endsWith('-python3.14-scipy'))!.path;
    const holder = l7.parts.find((p) => p.paths.includes(scipy))!;
    const why = await megapakOk(['why', 'python3.14-scipy', '--stack', stack], { env: env() });
    expect(why.stdout).toContain(`ships in layer-07, part ${holder.part} of ${n};`);
  });

  it('same input, same digests: a second build from an empty blob store writes the same manifest', async () => {
    const oci = join(await tempDir('split-again'), 'oci');
    const first = (await megapakOk(['image', '--stack', stack], { env: env() })).stdout.match(/sha256:[0-9a-f]{64}/)![0];
    const again = await megapakOk(['build', '--stack', stack, '--oci', oci], { env: { MEGAPAK_CACHE_DIR: await tempDir('split-cache2') } });
    expect(again.stdout).toContain(first);
  });

  it('the warning past 127 layers counts every part; a changed maxLayerSize makes the records stale', async () => {
    const tiny = await copyFixtureStack();
    await editJson(join(tiny, 'stack.json'), (o) => (o.maxLayerSize = '4KiB'));
    const r = await megapakOk(['build', '--stack', tiny], { env: { MEGAPAK_CACHE_DIR: await tempDir('split-tiny') } });
    const count = (await readRecords(tiny)).reduce((n, rec) => n + recordBlobs(rec).length, 0);
    expect(count).toBeGreaterThan(127);
    expect(r.stderr).toContain(`warning: the image has ${count} layers (each part of a split layer counts); more than 127`);
    // A changed limit makes the records stale: `image` rebuilds them with the new one.
    await editJson(join(tiny, 'stack.json'), (o) => (o.maxLayerSize = '1MiB'));
    const again = await megapakOk(['image', '--stack', tiny], { env: { MEGAPAK_CACHE_DIR: await tempDir('split-tiny2') } });
    expect(again.stderr).toContain('stale: layer-01 (maxLayerSize changed)');
    const records = await readRecords(tiny);
    expect(records.filter(isSplit).map((x) => x.name)).toContain('layer-02'); // the 24 MiB file
    for (const x of records.filter(isSplit)) expect(x.maxLayerSize).toBe(2 ** 20);
    expect(records.reduce((n, rec) => n + recordBlobs(rec).length, 0)).toBeLessThan(count);
  });

  it('adding one package to layer 07 changes at most two of its parts and no other layer', async () => {
    const before = new Set(layer07(records).parts.map((p) => p.digest));
    const list = join(stack, 'layers', '07-pak3', 'pak3.txt');
    await writeFile(list, `${await readFile(list, 'utf8')}comfyui-frontend\n`);
    const out = await megapakOk(['build', '--stack', stack], { env: env() });
    const after = await readRecords(stack);
    const l7 = layer07(after);
    const changed = l7.parts.filter((p) => !before.has(p.digest));
    expect(changed.length).toBeGreaterThanOrEqual(1);
    expect(changed.length, JSON.stringify(l7.parts.map((p) => p.paths.length))).toBeLessThanOrEqual(2);
    expect(l7.parts.length).toBeGreaterThanOrEqual(layer07(records).parts.length);
    // Only the changed parts were streamed: the others came from the blob store.
    expect(out.stderr.match(/layer-07, part \d+ of \d+: streaming/g) ?? []).toHaveLength(changed.length);
    for (const r of after.filter((r) => r.name !== 'layer-07')) expect(JSON.stringify(r), r.name).toBe(JSON.stringify(records.find((o) => o.name === r.name)));
  });
});
