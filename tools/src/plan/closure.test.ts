import { describe, expect, it } from 'vitest';
import { closureOf } from './closure.ts';

const refs: Record<string, string[]> = { a: ['b', 'c'], b: ['c', 'b'], c: ['outside'], d: ['a'] };
const lookup = (p: string) => refs[p];

describe('closureOf', () => {
  it('follows references (cycles and self-references included) and leaves out paths the lookup does not know', () => {
    expect([...closureOf(['a'], lookup)].sort()).toEqual(['a', 'b', 'c']);
    expect([...closureOf(['b', 'unknown'], lookup)].sort()).toEqual(['b', 'c']);
    expect(closureOf([], lookup).size).toBe(0);
  });

  it('lets the lookup reject a path it must know', () => {
    const strict = (p: string) => {
      if (!refs[p]) throw new Error(`not listed: ${p}`);
      return refs[p];
    };
    expect(() => closureOf(['d'], strict)).toThrow('not listed: outside');
  });
});
