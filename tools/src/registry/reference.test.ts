import { describe, expect, it } from 'vitest';
import { formatRef, parseImageRef } from './reference.ts';

describe('parseImageRef', () => {
  it('reads registry, repository, tag and digest as Docker does', () => {
    expect(parseImageRef('ghcr.io/org/comfyui:cu130')).toEqual({ registry: 'ghcr.io', apiHost: 'ghcr.io', repository: 'org/comfyui', tag: 'cu130', digest: undefined });
    expect(parseImageRef('127.0.0.1:5000/x')).toMatchObject({ registry: '127.0.0.1:5000', repository: 'x', tag: 'latest' });
    expect(parseImageRef('localhost/a/b:1')).toMatchObject({ registry: 'localhost', repository: 'a/b', tag: '1' });
    expect(parseImageRef('ubuntu')).toMatchObject({ registry: 'docker.io', apiHost: 'registry-1.docker.io', repository: 'library/ubuntu', tag: 'latest' });
    const d = `sha256:${'a'.repeat(64)}`;
    expect(parseImageRef(`h.io/r@${d}`)).toMatchObject({ repository: 'r', tag: undefined, digest: d });
    expect(formatRef(parseImageRef(`h.io:443/r:t@${d}`))).toBe(`h.io:443/r:t@${d}`);
  });

  it('refuses bad references with one line saying why', () => {
    expect(() => parseImageRef('UPPER/case')).toThrow(/invalid image reference 'UPPER\/case': the repository must be lowercase/);
    expect(() => parseImageRef('h.io/r:bad tag')).toThrow(/empty or has white space/);
    expect(() => parseImageRef('h.io/r@sha256:12')).toThrow(/is not a sha256 digest/);
    expect(() => parseImageRef('h.io/r:-x')).toThrow(/is not a valid tag/);
  });
});
