// `megapak diff` between two builds of a split fixture stack (one package added to layer 07),
// each side as an OCI layout, a docker-archive and a registry image; the expected figures are
// computed here from the two manifests and configs as written on disk or served.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { megapakOk } from './helpers/cli.ts';
import { copyFixtureStack, layoutMembers, readRecords, tempDir } from './helpers/fixture.ts';
import { startRegistry, type Registry } from './helpers/registry.ts';

interface Manifest {
  config: { digest: string; size: number };
  layers: { digest: string; size: number; annotations: Record<string, string> }[];
}

async function ociImage(dir: string): Promise<{ manifest: Manifest; diffIds: string[] }> {
  const blob = async (d: string) => JSON.parse(await readFile(join(dir, 'blobs', 'sha256', d.slice(7)), 'utf8'));
  const manifest: Manifest = await blob((await layoutMembers(dir)).image.digest);
  return { manifest, diffIds: (await blob(manifest.config.digest)).rootfs.diff_ids };
}

describe('megapak diff', () => {
  let reg: Registry;
  let dir: string;
  let oldOci: string;
  let newOci: string;
  let oldArchive: string;
  let added: string;
  let pushedNew: string;

  beforeAll(async () => {
    reg = await startRegistry({ storage: join(await tempDir('diff-registry'), 'data') });
    const stack = await copyFixtureStack();
    dir = await tempDir('diff');
    const env = { MEGAPAK_CACHE_DIR: join(dir, 'cache') };
    const meta = JSON.parse(await readFile(join(stack, 'stack.json'), 'utf8'));
    await writeFile(join(stack, 'stack.json'), JSON.stringify({ ...meta, maxLayerSize: '40KiB' }));
    [oldOci, newOci, oldArchive] = [join(dir, 'old'), join(dir, 'new'), join(dir, 'old.tar')];
    await megapakOk(['build', '--stack', stack, '--oci', oldOci, '--docker-archive', oldArchive], { env });
    await megapakOk(['push', '--stack', stack, '--plain-http', `${reg.host}/megapak/diff:old`], { env });
    const before = new Set((await readRecords(stack)).flatMap((r) => r.paths.map((p) => p.path)));
    const list = join(stack, 'layers', '07-pak3', 'pak3.txt');
    await writeFile(list, `${await readFile(list, 'utf8')}comfyui-frontend\n`);
    await megapakOk(['build', '--stack', stack, '--oci', newOci], { env });
    added = (await readRecords(stack)).flatMap((r) => r.paths.map((p) => p.path)).find((p) => !before.has(p))!;
    pushedNew = (await megapakOk(['push', '--stack', stack, '--plain-http', `${reg.host}/megapak/diff:new`], { env })).stdout;
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it("between two OCI layouts: downloadBytes is the sizes of NEW's blobs OLD lacks; layer 07 gained the package", async () => {
    const [a, b] = [await ociImage(oldOci), await ociImage(newOci)];
    const held = new Set([a.manifest.config.digest, ...a.manifest.layers.map((l) => l.digest)]);
    const expected = [b.manifest.config, ...b.manifest.layers].filter((x) => !held.has(x.digest)).reduce((s, x) => s + x.size, 0);
    const d = JSON.parse((await megapakOk(['diff', oldOci, newOci, '--json'])).stdout);
    expect(d.downloadBytes).toBe(expected);
    expect(d.downloadBytes).toBeGreaterThan(b.manifest.config.size);
    const l7 = d.layers.find((l: { layer: string }) => l.layer === 'layer-07');
    expect(l7.added).toEqual([added]);
    expect(l7.removed).toEqual([]);
    for (const l of d.layers) {
      const news = b.manifest.layers.filter((x) => x.annotations['io.megapak.layer.name'] === l.layer);
      expect(l.newParts, l.layer).toBe(news.length);
      expect(l.partsChanged, l.layer).toBe(news.filter((x) => !held.has(x.digest)).length);
      if (l.layer !== 'layer-07') expect(l.added, l.layer).toEqual([]);
    }
    const text = (await megapakOk(['diff', oldOci, newOci])).stdout;
    expect(text).toContain(`+ layer-07  ${added}`);
    expect(text).toContain(`download: `);
  });

  it('pushing NEW over OLD uploads exactly the blobs diff counts (registry first, part by part)', async () => {
    const d = JSON.parse((await megapakOk(['diff', oldOci, newOci, '--json'])).stdout);
    const changed = d.layers.reduce((n: number, l: { partsChanged: number }) => n + l.partsChanged, 0);
    const m = /: (\d+) uploaded \((.*?)\)/.exec(pushedNew)!;
    expect(Number(m[1])).toBe(changed + 1); // and the config
  });

  it('a registry image as NEW gives the same figures as its OCI layout', async () => {
    const fromLayout = JSON.parse((await megapakOk(['diff', oldOci, newOci, '--json'])).stdout);
    const fromRegistry = JSON.parse((await megapakOk(['diff', oldOci, `${reg.host}/megapak/diff:new`, '--plain-http', '--json'])).stdout);
    expect({ ...fromRegistry, new: '' }).toEqual({ ...fromLayout, new: '' });
  });

  it('a docker-archive as OLD: layers it holds count by diffID', async () => {
    const [a, b] = [await ociImage(oldOci), await ociImage(newOci)];
    const held = new Set(a.diffIds);
    const expected = b.manifest.layers.filter((_, i) => !held.has(b.diffIds[i]!)).reduce((s, x) => s + x.size, 0) + b.manifest.config.size;
    const d = JSON.parse((await megapakOk(['diff', oldArchive, newOci, '--json'])).stdout);
    expect(d.downloadBytes).toBe(expected);
    expect(d.layers.find((l: { layer: string }) => l.layer === 'layer-07').added).toEqual([added]);
  });
});
