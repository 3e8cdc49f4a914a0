import { cleanup, render } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import MetricChart from '../../renderer/src/components/MetricChart';
import { alignSeries, type ChartSeries } from '../../renderer/src/lib/chart-data';
import { FakePlot, nextFrame } from './fake-uplot';

vi.mock('uplot', async () => ({ default: (await import('./fake-uplot')).FakePlot }));

beforeEach(() => FakePlot.reset());
afterEach(cleanup);

function lossSeries(n: number): ChartSeries {
  const x = new Float64Array(n);
  const y = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    x[i] = i + 1;
    y[i] = 3 / Math.sqrt(i + 1);
  }
  return { label: 'Training loss', x, y };
}

describe('MetricChart', () => {
  it('draws the series it is given, labelled for screen readers', () => {
    const { getByTestId } = render(MetricChart, {
      props: { label: 'Loss by step', series: [lossSeries(3)], testid: 'loss-chart' },
    });
    expect(getByTestId('loss-chart').getAttribute('aria-label')).toBe('Loss by step');
    const [plot] = FakePlot.live;
    expect(plot?.options.series.map((s) => s.label)).toEqual(['Step', 'Training loss']);
    expect(Array.from(plot!.data[1] as Float64Array)).toEqual([3, 3 / Math.sqrt(2), 3 / Math.sqrt(3)]);
  });

  it('ticks whole steps, and y ticks a narrow range apart without repeating a label', () => {
    render(MetricChart, { props: { label: 'Loss', series: [lossSeries(3)] } });
    const [xAxis, yAxis] = FakePlot.live[0]!.options.axes!;
    expect((xAxis!.incrs as number[]).every(Number.isInteger)).toBe(true);
    const values = yAxis!.values as (
      u: unknown,
      splits: number[],
      i: number,
      space: number,
      incr: number,
    ) => string[];
    const labels = values(null, [11.925, 11.93, 11.935, 11.94], 1, 30, 0.005);
    expect(new Set(labels).size).toBe(4);
    // …and the axis is wide enough for the longest of them.
    const size = yAxis!.size as (u: unknown, values: string[], i: number, cycle: number) => number;
    expect(size(null, labels, 1, 0)).toBeGreaterThan(size(null, ['0', '5', '10'], 1, 0));
  });

  it('feeds new points to the same plot instead of building a new one', async () => {
    const { rerender } = render(MetricChart, { props: { label: 'Loss', series: [lossSeries(10)] } });
    await rerender({ label: 'Loss', series: [lossSeries(100_000)] });
    await nextFrame();
    expect(FakePlot.instances).toHaveLength(1);
    const last = FakePlot.live[0]!.setDataCalls.at(-1)!;
    expect(last[0]).toHaveLength(100_000);
    // A dense typed-array series is handed over as typed arrays (uPlot's fast path), not copied into objects.
    expect(last[1]).toBeInstanceOf(Float64Array);
  });

  it('rebuilds the plot for a log scale, leaving out values a log scale cannot show', async () => {
    const series: ChartSeries[] = [
      {
        label: 'Learning rate',
        points: [
          { x: 1, y: 0 },
          { x: 2, y: 1e-4 },
        ],
      },
    ];
    const { rerender } = render(MetricChart, { props: { label: 'LR', series } });
    await rerender({ label: 'LR', series, logScale: true });
    expect(FakePlot.instances).toHaveLength(2);
    expect(FakePlot.instances[0]!.destroyed).toBe(true);
    const plot = FakePlot.live[0]!;
    expect(plot.options.scales?.y?.distr).toBe(3);
    expect(Array.from(plot.data[1]!)).toEqual([null, 1e-4]);
  });

  it('shows sparse eval points with markers, joined on the training steps', () => {
    render(MetricChart, {
      props: {
        label: 'Loss',
        series: [
          { label: 'Training loss', x: [1, 2, 3, 4], y: [4, 3, 2, 1] },
          {
            label: 'Eval loss',
            points: [
              { x: 2, y: 3.5 },
              { x: 4, y: 1.5 },
            ],
            markers: true,
          },
        ],
      },
    });
    const plot = FakePlot.live[0]!;
    expect(Array.from(plot.data[0])).toEqual([1, 2, 3, 4]);
    expect(Array.from(plot.data[2]!)).toEqual([null, 3.5, null, 1.5]);
    expect(plot.options.series[2]?.points?.show).toBe(true);
    expect(plot.options.series[2]?.spanGaps).toBe(true);
  });

  it('draws the points of a line that has only a few, so a single step shows at all', () => {
    render(MetricChart, { props: { label: 'Loss', series: [lossSeries(1)] } });
    const plot = FakePlot.live[0]!;
    const show = plot.options.series[1]!.points!.show as (
      u: unknown,
      i: number,
      a: number,
      b: number,
    ) => boolean;
    expect(show({ data: plot.data }, 1, 0, 0)).toBe(true);
    const dense = alignSeries([lossSeries(500)]);
    expect(show({ data: dense }, 1, 0, 499)).toBe(false);
  });

  it('is let go when the page closes', () => {
    const { unmount } = render(MetricChart, { props: { label: 'Loss', series: [lossSeries(5)] } });
    unmount();
    expect(FakePlot.live).toHaveLength(0);
  });
});
