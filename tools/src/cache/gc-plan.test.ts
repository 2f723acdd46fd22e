import { describe, expect, it } from 'vitest';
import { planGc } from './gc-plan.ts';

const H = 3600_000;
const now = 100 * H;
const blob = (n: number, ageH: number) => ({ digest: `sha256:${String(n).repeat(64).slice(0, 64)}`, path: `/c/${n}`, size: n * 10, mtimeMs: now - ageH * H });

describe('planGc', () => {
  const blobs = [blob(1, 50), blob(2, 40), blob(3, 30), blob(4, 0.1), blob(5, 60)];
  const referenced = new Set([blobs[4]!.digest]);

  it('removes unreferenced blobs older than the minimum age; keeps referenced and recent ones', () => {
    const plan = planGc(blobs, [], referenced, { keepLast: 0, minAgeMs: H, now });
    expect(plan.blobs.map((b) => [b.path, b.remove ? 'remove' : b.reason])).toEqual([
      ['/c/1', 'remove'],
      ['/c/2', 'remove'],
      ['/c/3', 'remove'],
      ['/c/4', 'recent'],
      ['/c/5', 'referenced'],
    ]);
  });

  it('--keep-last N keeps the N most recently used unreferenced blobs, counting recent ones', () => {
    const plan = planGc(blobs, [], referenced, { keepLast: 2, minAgeMs: H, now });
    expect(plan.blobs.filter((b) => !b.remove).map((b) => [b.path, b.reason])).toEqual([
      ['/c/3', 'kept-last'],
      ['/c/4', 'kept-last'],
      ['/c/5', 'referenced'],
    ]);
  });

  it('temp files go only when nothing wrote to them within the minimum age', () => {
    const plan = planGc(
      [],
      [
        { path: '/c/.tmp-a', size: 1, mtimeMs: now - 2 * H },
        { path: '/c/.tmp-b', size: 1, mtimeMs: now - 1000 },
      ],
      new Set(),
      { keepLast: 0, minAgeMs: H, now },
    );
    expect(plan.temps.map((t) => [t.path, t.remove])).toEqual([
      ['/c/.tmp-a', true],
      ['/c/.tmp-b', false],
    ]);
  });
});
