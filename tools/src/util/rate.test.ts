import { describe, expect, it } from 'vitest';
import { RateMeter, formatEta, progressLine } from './rate.ts';

describe('RateMeter', () => {
  it('measures the rate over the recent window, not since the start', () => {
    const m = new RateMeter(5000);
    for (let t = 0; t <= 10_000; t += 100) m.add(t <= 5000 ? 10_000 : 1_000, t); // 100 KB/s, then 10 KB/s
    // The average since the start is ~55 KB/s; the last 5 s ran at 10 KB/s (one boundary sample of slack).
    expect(m.rate(10_000)).toBeGreaterThan(9_000);
    expect(m.rate(10_000)).toBeLessThan(12_000);
  });
  it('is 0 before it has seen a moment of data', () => {
    const m = new RateMeter();
    expect(m.rate(0)).toBe(0);
    m.add(1e6, 0);
    expect(m.rate(50)).toBe(0);
  });
});

describe('formatEta', () => {
  it.each([
    [0, '0:00'],
    [65, '1:05'],
    [3723, '1:02:03'],
    [Infinity, '--:--'],
  ])('%s s → %s', (s, out) => expect(formatEta(s)).toBe(out));
});

describe('progressLine', () => {
  const state = { label: 'layer-02 466487718cd0', done: 2.5e9, total: 6e9, rate: 85e6 };
  it('fits the terminal width with bytes, rate and ETA', () => {
    for (const cols of [80, 60, 120]) {
      const line = progressLine(state, cols);
      expect([...line].length, line).toBeLessThanOrEqual(cols - 1);
      expect(line).toContain('2.5 GB/6.0 GB');
      expect(line).toContain('85.0 MB/s');
      expect(line).toContain('ETA 0:41');
      expect(line).toContain(' 41% ');
    }
    expect([...progressLine(state, 80)].length).toBe(79);
  });
  it('cuts a long label rather than wrapping, and shows an unknown rate plainly', () => {
    const line = progressLine({ ...state, label: 'x'.repeat(200), rate: 0 }, 80);
    expect([...line].length).toBeLessThanOrEqual(79);
    expect(line).toContain('ETA --:--');
    expect(line).toContain('…');
  });
});

describe('progressLine label column', () => {
  it('pads labels to one column so the bars of a multi-bar line up', () => {
    const a = progressLine({ label: 'push (all blobs)', done: 1e9, total: 2e9, rate: 1e7 }, 80, 21);
    const b = progressLine({ label: 'layer-02 b30b1b99c44c', done: 5e6, total: 5e8, rate: 1e7 }, 80, 21);
    expect(a.indexOf('[')).toBe(b.indexOf('['));
    expect(a.indexOf(']')).toBe(b.indexOf(']'));
  });
});
