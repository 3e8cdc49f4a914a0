// The token-length summary behind the data step's histogram and max-length slider.
import { describe, expect, it } from 'vitest';
import { percentile, summarizeLengths } from '../../../main/core/data/length-histogram.js';

describe('summarizeLengths', () => {
  it('bins every length once, in equal widths from 0 up to at least the max length', () => {
    const lengths = [5, 10, 19, 20, 39, 40, 99, 100];
    const s = summarizeLengths(lengths, 100, 5);
    expect(s.bins.map((b) => [b.from, b.to])).toEqual([
      [0, 20],
      [20, 40],
      [40, 60],
      [60, 80],
      [80, 100],
    ]);
    // [0,20): 5 10 19 · [20,40): 20 39 · [40,60): 40 · [80,100]: 99 and 100 (the last bin includes its end)
    expect(s.bins.map((b) => b.count)).toEqual([3, 2, 1, 0, 2]);
    expect(s.overMaxLen).toBe(0);
  });

  it('stretches the bins over the longest example when it passes the max length', () => {
    const s = summarizeLengths([3, 50, 250], 100, 4);
    expect(s.bins.at(-1)!.to).toBeGreaterThanOrEqual(250);
    expect(s.bins.reduce((n, b) => n + b.count, 0)).toBe(3);
    expect(s.overMaxLen).toBe(1);
    expect(s.max).toBe(250);
    expect(s.min).toBe(3);
  });

  it('gives the median and 95th percentile by nearest rank, whatever the input order', () => {
    const lengths = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1
    const s = summarizeLengths(lengths, 64, 8);
    expect(s.median).toBe(50);
    expect(s.p95).toBe(95);
    expect(s.overMaxLen).toBe(36);
    expect(percentile([7], 0.95)).toBe(7);
  });

  it('summarizes no examples as zeros with empty bins', () => {
    const s = summarizeLengths([], 32, 4);
    expect(s).toMatchObject({ count: 0, min: 0, median: 0, p95: 0, max: 0, overMaxLen: 0 });
    expect(s.bins.map((b) => b.count)).toEqual([0, 0, 0, 0]);
    expect(s.bins.at(-1)!.to).toBe(32);
  });

  it('never makes a bin narrower than one token', () => {
    const s = summarizeLengths([1, 2], 16, 40);
    expect(s.bins.every((b) => b.to - b.from === 1)).toBe(true);
    expect(s.bins.reduce((n, b) => n + b.count, 0)).toBe(2);
  });
});
