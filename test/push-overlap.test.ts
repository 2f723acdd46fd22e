// A first push from an empty blob store uploads each blob as soon as it is made; a blob that
// cannot be made (a store path nothing provides) stops the push with no manifest behind.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { megapak, megapakOk } from './helpers/cli.ts';
import { copyFixtureStack, readRecords, tempDir } from './helpers/fixture.ts';
import { startRegistry, type Registry } from './helpers/registry.ts';
import { recordBlobs } from '../tools/src/model/vocabulary.ts';

describe('megapak push overlapping making with uploading', () => {
  let reg: Registry;
  let stack: string;

  beforeAll(async () => {
    reg = await startRegistry({ storage: join(await tempDir('overlap-registry'), 'data') });
    stack = await copyFixtureStack();
    await megapakOk(['build', '--stack', stack], { env: { MEGAPAK_CACHE_DIR: await tempDir('overlap-build') } });
  });
  afterAll(async () => {
    await reg?.stop();
  });

  it('a blob that cannot be made: the blobs made before it are uploaded, its own and the manifest never', async () => {
    const file = join(stack, 'layers', '12-app', 'dist', 'layer.json');
    const record = JSON.parse(await readFile(file, 'utf8'));
    const gone = `${record.storeDir}/${'0'.repeat(32)}-in-no-cache`;
    // vim: a path of layer 12 that the image config does not name (that check comes first).
    record.paths.find((p: { path: string }) => p.path.endsWith('-vim')).path = gone;
    await writeFile(file, JSON.stringify(record));
    const r = await megapak(['push', '--stack', stack, '--plain-http', `${reg.host}/megapak/overlap:t`], {
      env: { MEGAPAK_CACHE_DIR: await tempDir('overlap-empty'), NIX_CONFIG: 'substituters =' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n').pop()).toBe(`megapak: layer-12: store path ${gone} is in no binary cache and building the layer did not make it; no manifest was pushed`);
    const has = async (digest: string) => (await fetch(`${reg.url}/v2/megapak/overlap/blobs/${digest}`, { method: 'HEAD' })).status === 200;
    const below = (await readRecords(stack)).filter((x) => x.name !== 'layer-12').flatMap((x) => recordBlobs(x).map((b) => b.digest));
    // Made while nothing failed yet, so uploaded: making and uploading overlap.
    for (const d of below) expect(await has(d), d).toBe(true);
    expect(await has(record.digest)).toBe(false);
    expect((await fetch(`${reg.url}/v2/megapak/overlap/manifests/t`, { headers: { accept: 'application/vnd.oci.image.manifest.v1+json' } })).status).toBe(404);
  });
});
