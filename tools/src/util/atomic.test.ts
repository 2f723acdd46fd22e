import { mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from './atomic.ts';

describe('writeFileAtomic', () => {
  it('leaves a file holding the same bytes untouched and replaces one that differs', async () => {
    const f = join(await mkdtemp(join(tmpdir(), 'atomic-')), 'a.json');
    await writeFile(f, '{"a":1}\n');
    const before = await stat(f);
    await writeFileAtomic(f, '{"a":1}\n');
    const same = await stat(f);
    expect(same.ino).toBe(before.ino); // a rename would have put a new inode there
    await writeFileAtomic(f, '{"a":2}\n');
    expect(await readFile(f, 'utf8')).toBe('{"a":2}\n');
    expect((await stat(f)).ino).not.toBe(before.ino);
    await writeFileAtomic(join(f, '..', 'new.json'), new Uint8Array([1, 2]));
    expect([...(await readFile(join(f, '..', 'new.json')))]).toEqual([1, 2]);
  });
});
