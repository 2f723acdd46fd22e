// The folders of tools/src in the order data flows; a module may import only from its own
// floor or below. This keeps the engine readable from the bottom up (README, "The folder map").
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXIT_CODES, EXIT_INTERRUPTED } from './cli/boundary.ts';

export const FLOORS: string[][] = [
  ['util'], // generic helpers: bytes, errors, JSON files, temp files, processes, progress
  ['model'], // the vocabulary: store paths, layer records, image spec, compression table
  ['stack', 'nix'], // reading a stack folder; running Nix
  ['plan'], // pure planning: deltas, warnings, budgets
  ['layer'], // deterministic tar, blob writing, blob store, tar format version
  ['pipeline'], // build a layer, build a stack, assemble an image spec
  ['oci'], // image config + manifest, OCI layout, docker-archive, docker load
  ['registry'], // OCI distribution client and push
  ['report'], // report, why, HTML, text tables
  ['sbom'], // SBOM of the image: inventory from records and store contents, CycloneDX and SPDX documents
  ['cache'], // the blob store seen from outside: listing, references from records, gc
  ['cli', 'pins'], // the commands: settings, exit codes, signal handlers
];

const SRC = import.meta.dirname;
const floorOf = (folder: string) => FLOORS.findIndex((f) => f.includes(folder));

function* modules(dir: string): Generator<string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) yield* modules(join(dir, e.name));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')) yield join(dir, e.name);
  }
}

export function importsOf(file: string): string[] {
  return [...readFileSync(file, 'utf8').matchAll(/^(?:import|export)[^'"]*from '(\.[^']+)'/gm)].map((m) => join(file, '..', m[1]!));
}

/** Every import cycle of a module graph, each once, as the path from its first module back to it (depth-first search). */
export function cyclesOf(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (m: string) => {
    state.set(m, 'open');
    stack.push(m);
    for (const to of graph.get(m) ?? []) {
      if (state.get(to) === 'open') cycles.push([...stack.slice(stack.indexOf(to)), to]);
      else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(m, 'done');
  };
  for (const m of [...graph.keys()].sort()) if (!state.has(m)) visit(m);
  return cycles;
}

describe('layout', () => {
  it('no import cycles: arrows run one way inside a floor too', () => {
    const graph = new Map([...modules(SRC)].map((f) => [relative(SRC, f), importsOf(f).map((t) => relative(SRC, t))]));
    expect(graph.size).toBeGreaterThan(50);
    expect(cyclesOf(graph).map((c) => c.join(' -> '))).toEqual([]);
  });

  it('the cycle check finds a cycle (two modules importing each other, and a longer ring)', () => {
    const graph = new Map([
      ['pipeline/build-layer.ts', ['pipeline/split-layer.ts', 'util/errors.ts']],
      ['pipeline/split-layer.ts', ['pipeline/build-layer.ts']],
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['util/errors.ts', []],
    ]);
    expect(cyclesOf(graph)).toEqual([
      ['a.ts', 'b.ts', 'c.ts', 'a.ts'],
      ['pipeline/build-layer.ts', 'pipeline/split-layer.ts', 'pipeline/build-layer.ts'],
    ]);
    expect(cyclesOf(new Map([...graph].filter(([m]) => m.includes('/'))).set('pipeline/split-layer.ts', []))).toEqual([]);
  });

  it('every folder has a floor, and no module imports from a floor above its own', () => {
    const upward: string[] = [];
    for (const file of modules(SRC)) {
      const rel = relative(SRC, file);
      if (!rel.includes('/')) continue; // this test
      const own = floorOf(rel.split('/')[0]!);
      expect(own, `${rel}: its folder is missing from FLOORS`).toBeGreaterThanOrEqual(0);
      for (const target of importsOf(file)) {
        const to = floorOf(relative(SRC, target).split('/')[0]!);
        if (to > own) upward.push(`${rel} -> ${relative(SRC, target)}`);
      }
    }
    expect(upward).toEqual([]);
  });

  const README = readFileSync(join(SRC, '..', '..', 'README.md'), 'utf8');

  it("the README's folder map lists every folder, in floor order", () => {
    const mapped = [...README.matchAll(/^tools\/src\/([a-z]+)\/ /gm)].map((m) => m[1]!);
    expect(mapped).toEqual(FLOORS.flat());
    expect(
      readdirSync(SRC, { withFileTypes: true })
        .filter((e) => e.isDirectory())
        .map((e) => e.name)
        .sort(),
    ).toEqual(FLOORS.flat().sort());
  });

  it("docs/commands.md's exit-code table is the CLI's", () => {
    const commands = readFileSync(join(SRC, '..', '..', 'docs', 'commands.md'), 'utf8');
    const table = [...commands.matchAll(/^\| (\d+(?: \/ \d+)?) \| /gm)].flatMap((m) => m[1]!.split(' / ').map(Number));
    expect(table.sort()).toEqual([...new Set([...Object.values(EXIT_CODES), ...Object.values(EXIT_INTERRUPTED)])].sort());
  });

  it("turbo.json's layer inputs cover every folder that can change a layer's record", () => {
    const turbo = JSON.parse(readFileSync(join(SRC, '..', '..', 'turbo.json'), 'utf8')) as { tasks: { build: { inputs: string[] } } };
    const inputs = turbo.tasks.build.inputs;
    // Everything up to the pipeline, and the CLI (it reads the settings a layer build uses).
    const affecting = [...FLOORS.slice(0, FLOORS.findIndex((f) => f.includes('pipeline')) + 1).flat(), 'cli'];
    for (const folder of affecting) expect(inputs, folder).toContain(`$TURBO_ROOT$/tools/src/${folder}/**`);
  });
});
