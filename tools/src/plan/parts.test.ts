import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { planParts, type PartUnit } from './parts.ts';

const FIXED = 2048;
const LIMIT = 1 << 20;

/** A seeded stream of numbers in [0, 1): the same units every run. */
function seeded(seed: string): () => number {
  let i = 0;
  return () => createHash('sha256').update(`${seed}:${i++}`).digest().readUInt32BE(0) / 2 ** 32;
}

/** `n` whole store paths with Nix-like hashed names and sizes from 512 B to ~200 KiB, in tar order. */
function storePaths(n: number, seed: string): PartUnit[] {
  const r = seeded(seed);
  return Array.from({ length: n }, (_, i) => {
    const hash = createHash('sha256').update(`${seed}${i}`).digest('hex').slice(0, 32);
    return { start: `nix/store/${hash}-pkg-${i}`, path: `/nix/store/${hash}-pkg-${i}`, bytes: 512 * Math.ceil(1 + r() ** 3 * 400), parents: [] };
  }).sort((a, b) => (a.start < b.start ? -1 : 1));
}

/** The parts as the sets of units they hold: what decides a part's bytes (and so its digest). */
function partContents(units: PartUnit[], limit = LIMIT): string[] {
  const plan = planParts(units, limit, FIXED);
  const starts = plan.map((p) => p.start);
  const out: string[][] = starts.map(() => []);
  let k = -1;
  for (const u of units) {
    if (u.start === starts[k + 1]) k++;
    out[k]!.push(u.start);
  }
  return out.map((o) => o.join('|'));
}

describe('planParts', () => {
  it('keeps a layer that fits whole, and every part of a larger one within the limit', () => {
    const small = storePaths(3, 'small');
    expect(planParts(small, LIMIT, FIXED)).toHaveLength(1);
    const units = storePaths(400, 'big');
    const total = units.reduce((s, u) => s + u.bytes, 0);
    const plan = planParts(units, LIMIT, FIXED);
    expect(plan.length).toBeGreaterThan(total / LIMIT);
    for (const p of plan) expect(p.bytes).toBeLessThanOrEqual(LIMIT);
    expect(plan.reduce((s, p) => s + p.bytes - FIXED, 0)).toBe(total);
    expect(plan.flatMap((p) => p.paths)).toEqual(units.map((u) => u.path));
  });

  it('puts a unit larger than the limit in a part of its own', () => {
    const units = storePaths(50, 'huge');
    units[20] = { ...units[20]!, bytes: 3 * LIMIT };
    const plan = planParts(units, LIMIT, FIXED);
    const own = plan.find((p) => p.start === units[20]!.start)!;
    expect(own.paths).toEqual([units[20]!.path]);
    expect(own.bytes).toBe(3 * LIMIT + FIXED);
  });

  it('repeats the parent directories an entry needs, and counts them', () => {
    const dir = (name: string): PartUnit => ({ start: name, path: '/nix/store/x', bytes: 512, parents: [], dir: name });
    const file = (name: string, bytes: number, parents: string[]): PartUnit => ({
      start: name,
      path: '/nix/store/x',
      bytes,
      parents: parents.map((n) => ({ name: n, bytes: 512 })),
    });
    const units = [
      dir('nix/store/x'),
      dir('nix/store/x/lib'),
      file('nix/store/x/lib/a', 6000, ['nix/store/x', 'nix/store/x/lib']),
      file('nix/store/x/lib/b', 6000, ['nix/store/x', 'nix/store/x/lib']),
    ];
    const plan = planParts(units, 8192 + FIXED, FIXED);
    expect(plan.map((p) => p.start)).toEqual(['nix/store/x', 'nix/store/x/lib/b']);
    // Part 2 holds b and repeats both directories above it.
    expect(plan[1]!.bytes).toBe(FIXED + 6000 + 1024);
  });

  it('is stable: adding one store path changes at most two parts (content-defined cuts, not sorted packing)', () => {
    const base = storePaths(600, 'stable');
    const before = new Set(partContents(base));
    const changed: number[] = [];
    for (const extra of storePaths(100, 'added')) {
      const after = partContents([...base, extra].sort((a, b) => (a.start < b.start ? -1 : 1)));
      changed.push(after.filter((p) => !before.has(p)).length);
    }
    const atMostTwo = changed.filter((n) => n <= 2).length;
    // Packing in sorted order would change every part after the insertion: ~half of them on average.
    expect(before.size).toBeGreaterThan(40);
    // With these seeds 98 of the 100 additions change at most two parts and the other two three.
    expect(atMostTwo).toBeGreaterThanOrEqual(95);
    expect(Math.max(...changed)).toBeLessThanOrEqual(3);
  });
});
