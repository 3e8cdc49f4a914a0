// happy-dom has no canvas, so component tests replace uPlot with this recorder:
//   vi.mock('uplot', () => ({ default: FakePlot }));
// It keeps what the real plot would be given: the options once, then every setData and setSize.
import type uPlot from 'uplot';

export class FakePlot {
  static instances: FakePlot[] = [];
  readonly options: uPlot.Options;
  data: uPlot.AlignedData;
  readonly setDataCalls: uPlot.AlignedData[] = [];
  readonly sizes: { width: number; height: number }[] = [];
  destroyed = false;

  constructor(options: uPlot.Options, data: uPlot.AlignedData, target: HTMLElement) {
    this.options = options;
    this.data = data;
    const canvas = document.createElement('canvas');
    target.append(canvas);
    FakePlot.instances.push(this);
  }

  setData(data: uPlot.AlignedData): void {
    this.data = data;
    this.setDataCalls.push(data);
  }

  setSize(size: { width: number; height: number }): void {
    this.sizes.push(size);
  }

  redraw(): void {}

  destroy(): void {
    this.destroyed = true;
  }

  static get live(): FakePlot[] {
    return FakePlot.instances.filter((p) => !p.destroyed);
  }

  static reset(): void {
    FakePlot.instances = [];
  }
}

/** Resolves after the next animation frame (MetricChart batches setData per frame). */
export function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}
