import { describe, expect, it } from 'vitest';
import { parseChallenge } from './challenge.ts';

describe('parseChallenge', () => {
  it('reads Basic and Bearer challenges with quoted, escaped and bare parameters', () => {
    expect(parseChallenge('Basic realm="Registry Realm"')).toEqual({ scheme: 'basic', params: { realm: 'Registry Realm' } });
    expect(parseChallenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/x:pull"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'https://ghcr.io/token', service: 'ghcr.io', scope: 'repository:o/x:pull' },
    });
    expect(parseChallenge('bearer Realm=r, service="a \\"b\\""')).toEqual({ scheme: 'bearer', params: { realm: 'r', service: 'a "b"' } });
  });

  it('ignores what it cannot answer', () => {
    expect(parseChallenge(null)).toBeUndefined();
    expect(parseChallenge('')).toBeUndefined();
    expect(parseChallenge('Negotiate abc')).toBeUndefined();
  });
});
