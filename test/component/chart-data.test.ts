import { describe, expect, it } from 'vitest';
import {
  alignSeries,
  fewPoints,
  formatChartValue,
  STEP_TICKS,
  smoothed,
} from '../../renderer/src/lib/chart-data';
import { GrowableSeries } from '../../renderer/src/lib/growable-series';

describe('alignSeries', () => {
  it('joins series on the union of their steps, with gaps where a series has no value', () => {
    const [x, a, b] = alignSeries([
      { label: 'a', x: [1, 3, 5], y: [10, 30, 50] },
      {
        label: 'b',
        points: [
          { x: 2, y: 2 },
          { x: 3, y: 3 },
          { x: 6, y: 6 },
        ],
      },
    ]);
    expect(Array.from(x)).toEqual([1, 2, 3, 5, 6]);
    expect(a).toEqual([10, null, 30, 50, null]);
    expect(b).toEqual([null, 2, 3, null, 6]);
  });

  it('turns values that cannot be drawn (a diverged NaN loss) into gaps', () => {
    const [, y] = alignSeries([{ label: 'loss', x: [1, 2, 3], y: [1, Number.NaN, 0] }]);
    expect(y).toEqual([1, null, 0]);
    const [, logY] = alignSeries([{ label: 'loss', x: [1, 2, 3], y: [1, 2, 0] }], { positiveOnly: true });
    expect(logY).toEqual([1, 2, null]);
  });

  it('passes 100k dense points through as typed arrays, quickly', () => {
    const n = 100_000;
    const x = Float64Array.from({ length: n }, (_, i) => i + 1);
    const y = Float64Array.from({ length: n }, (_, i) => 1 / (i + 1));
    const started = performance.now();
    const [ax, ay] = alignSeries([{ label: 'loss', x, y }]);
    expect(ax).toBe(x);
    expect(ay).toBe(y);
    // With a sparse eval series the merge still takes well under a frame budget of a few updates per second.
    const evalX = Float64Array.from({ length: 100 }, (_, i) => (i + 1) * 1000);
    const merged = alignSeries([
      { label: 'loss', x, y },
      { label: 'eval', x: evalX, y: evalX },
    ]);
    expect(merged[0]).toHaveLength(n);
    expect(performance.now() - started).toBeLessThan(250);
  });
});

describe('smoothed', () => {
  it('is the raw series at weight 0 and follows the trend without lag at the start', () => {
    expect(Array.from(smoothed([3, 1, 2], 0))).toEqual([3, 1, 2]);
    const s = smoothed([4, 4, 4, 0], 0.9);
    expect(s[0]).toBeCloseTo(4);
    expect(s[2]).toBeCloseTo(4);
    expect(s[3]!).toBeGreaterThan(2);
  });
});

describe('GrowableSeries', () => {
  it('grows past its first capacity and keeps every point', () => {
    const series = new GrowableSeries(4);
    for (let step = 1; step <= 1000; step++) series.push(step, step * 2);
    const { x, y } = series.view();
    expect(x).toHaveLength(1000);
    expect(y[999]).toBe(2000);
  });

  it('replaces the steps a resumed run trains again', () => {
    const series = new GrowableSeries();
    for (let step = 1; step <= 10; step++) series.push(step, 1);
    series.push(7, 2);
    expect(Array.from(series.view().x)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(series.lastY).toBe(2);
  });
});

describe('formatChartValue', () => {
  it('gives axis ticks the decimals their spacing needs, so neighbours never read alike', () => {
    const ticks = [11.925, 11.93, 11.935, 11.94];
    expect(ticks.map((v) => formatChartValue(v, 0.005))).toEqual(['11.925', '11.93', '11.935', '11.94']);
    expect([0, 2.5, 5].map((v) => formatChartValue(v, 2.5))).toEqual(['0', '2.5', '5']);
    expect([100, 200].map((v) => formatChartValue(v, 100))).toEqual(['100', '200']);
  });

  it('writes legend values with four significant digits, tiny and huge ones in e-notation', () => {
    expect(formatChartValue(11.93456)).toBe('11.93');
    expect(formatChartValue(2e-4)).toBe('2.0e-4');
    expect(formatChartValue(3_200_000)).toBe('3.2e+6');
  });
});

describe('STEP_TICKS', () => {
  it('spaces step ticks by whole steps only', () => {
    expect(STEP_TICKS.every((s) => Number.isInteger(s) && s >= 1)).toBe(true);
    expect(STEP_TICKS.slice(0, 4)).toEqual([1, 2, 5, 10]);
  });
});

describe('fewPoints', () => {
  it('counts only the values in view, gaps left out', () => {
    expect(fewPoints([1.5])).toBe(true);
    expect(fewPoints([null, 2, null, 3])).toBe(true);
    const many = Array.from({ length: 100 }, (_, i) => i);
    expect(fewPoints(many)).toBe(false);
    expect(fewPoints(many, 10, 14)).toBe(true); // zoomed in on five steps
  });
});
