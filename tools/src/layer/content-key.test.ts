import { describe, expect, it } from 'vitest';
import { contentKey } from './content-key.ts';

const p = (name: string, narHash = `sha256-${name}`, references: string[] = []) => ({ path: `/nix/store/${name}`, narHash, narSize: 10, references });

describe('contentKey', () => {
  it('keys content by paths and NAR hashes only, in any order', () => {
    const a = [p('a'), p('b')];
    expect(contentKey(a)).toBe(contentKey([p('b'), p('a')]));
    expect(contentKey(a)).not.toBe(contentKey([p('a'), p('b', 'sha256-other')]));
    expect(contentKey(a)).not.toBe(contentKey([p('a')]));
    expect(contentKey(a)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});
