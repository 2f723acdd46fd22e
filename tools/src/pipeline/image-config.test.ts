import { describe, expect, it } from 'vitest';
import { checkConfigPaths, mergeConfig } from './image-config.ts';

describe('mergeConfig', () => {
  it("puts nix/config.nix's fields over stack.json's and merges Env by variable name", () => {
    const meta = { name: 'x', config: { Env: ['A=1', 'CLI_ARGS=--fast'], Cmd: ['old'], WorkingDir: '/w' } };
    const merged = mergeConfig(meta, { Env: ['A=2', 'PATH=/nix/store/p/bin'], Cmd: ['new'] });
    expect(merged).toEqual({ name: 'x', config: { Env: ['A=2', 'CLI_ARGS=--fast', 'PATH=/nix/store/p/bin'], Cmd: ['new'], WorkingDir: '/w' } });
    expect(mergeConfig(meta, undefined)).toBe(meta);
    expect(mergeConfig({}, { Entrypoint: ['/e'] })).toEqual({ config: { Entrypoint: ['/e'] } });
  });

  it('names a store path the config needs that no layer ships', () => {
    const p = `/nix/store/${'a'.repeat(32)}-python3`;
    expect(() => checkConfigPaths({ Entrypoint: [`${p}/bin/python`] }, '/nix/store', new Set([p]))).not.toThrow();
    expect(() => checkConfigPaths({ Entrypoint: [`${p}/bin/python`] }, '/nix/store', new Set())).toThrow(`image config names ${p}, which no layer ships`);
  });
});
