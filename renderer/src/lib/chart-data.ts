// What MetricChart draws, as plain data: series given as points or as (typed) x/y arrays, joined
// on one x axis the way uPlot wants it ([x, y1, y2, …], one value per x; null where a series has
// none). Kept apart from the component so it is tested without a canvas, and so the common case —
// one dense series of 100k steps — passes its typed arrays through without copying.
export interface ChartPoint {
  x: number;
  y: number;
}

export type NumberArray = ArrayLike<number>;

interface SeriesStyle {
  label: string;
  /** A CSS colour or `var(--name)`; default: the theme's palette in order. */
  color?: string;
  dashed?: boolean;
  /** Draw a dot at each value (for sparse series such as eval loss). */
  markers?: boolean;
}

/** One line. `x` must ascend (steps do). */
export type ChartSeries = SeriesStyle &
  ({ points: readonly ChartPoint[] } | { x: NumberArray; y: NumberArray });

export type YColumn = Float64Array | (number | null)[];
export type ChartColumns = [x: Float64Array, ...ys: YColumn[]];

interface Column {
  x: NumberArray;
  y: NumberArray;
}

function columnOf(series: ChartSeries): Column {
  if ('points' in series) {
    const x = new Float64Array(series.points.length);
    const y = new Float64Array(series.points.length);
    series.points.forEach((p, i) => {
      x[i] = p.x;
      y[i] = p.y;
    });
    return { x, y };
  }
  const length = Math.min(series.x.length, series.y.length);
  return {
    x: series.x.length === length ? series.x : Array.prototype.slice.call(series.x, 0, length),
    y: series.y.length === length ? series.y : Array.prototype.slice.call(series.y, 0, length),
  };
}

function toFloat64(values: NumberArray): Float64Array {
  return values instanceof Float64Array ? values : Float64Array.from(values as ArrayLike<number>);
}

function drawable(value: number, positiveOnly: boolean): boolean {
  return Number.isFinite(value) && (!positiveOnly || value > 0);
}

function allDrawable(values: NumberArray, positiveOnly: boolean): boolean {
  for (let i = 0; i < values.length; i++) if (!drawable(values[i]!, positiveOnly)) return false;
  return true;
}

function sameValues(a: NumberArray, b: NumberArray): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * Joins the series on the union of their x values. Values that cannot be drawn (NaN, ±Infinity, and
 * with `positiveOnly` — a log scale — zero or less) become gaps. Series that share one x array are
 * passed through as typed arrays.
 */
export function alignSeries(series: readonly ChartSeries[], { positiveOnly = false } = {}): ChartColumns {
  const columns = series.map(columnOf);
  const first = columns[0];
  if (!first) return [new Float64Array(0)];
  if (columns.every((c) => sameValues(c.x, first.x))) {
    const ys = columns.map(({ y }): YColumn => {
      if (allDrawable(y, positiveOnly)) return toFloat64(y);
      return Array.from(y, (v) => (drawable(v, positiveOnly) ? v : null));
    });
    return [toFloat64(first.x), ...ys];
  }
  return mergeColumns(columns, positiveOnly);
}

/** k-way merge of ascending x columns; a series' later value at a repeated x wins. */
function mergeColumns(columns: Column[], positiveOnly: boolean): ChartColumns {
  const total = columns.reduce((n, c) => n + c.x.length, 0);
  const xs = new Float64Array(total);
  const ys = columns.map(() => new Array<number | null>(total).fill(null));
  const at = columns.map(() => 0);
  let length = 0;
  for (;;) {
    let next = Number.POSITIVE_INFINITY;
    columns.forEach((c, k) => {
      if (at[k]! < c.x.length && c.x[at[k]!]! < next) next = c.x[at[k]!]!;
    });
    if (next === Number.POSITIVE_INFINITY) break;
    xs[length] = next;
    columns.forEach((c, k) => {
      while (at[k]! < c.x.length && c.x[at[k]!] === next) {
        const value = c.y[at[k]!]!;
        ys[k]![length] = drawable(value, positiveOnly) ? value : null;
        at[k]!++;
      }
    });
    length++;
  }
  return [xs.slice(0, length), ...ys.map((y) => y.slice(0, length))];
}

/**
 * Whether a line has so few values in view (from..to, inclusive) that its points must be drawn too:
 * a single value draws no line at all, and a handful read better as dots joined by lines.
 */
export function fewPoints(
  values: ArrayLike<number | null | undefined>,
  from = 0,
  to = values.length - 1,
): boolean {
  let count = 0;
  for (let i = Math.max(0, from); i <= to && i < values.length; i++) {
    if (values[i] !== null && values[i] !== undefined && ++count > FEW_POINTS) return false;
  }
  return true;
}

const FEW_POINTS = 12;

/** Exponential moving average (as TensorBoard smooths loss): `weight` 0 = raw, 0.99 = very smooth. */
export function smoothed(
  values: NumberArray,
  weight: number,
  out = new Float64Array(values.length),
): Float64Array {
  let last = Number.NaN;
  let debias = 0;
  let acc = 0;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) {
      out[i] = last;
      continue;
    }
    acc = acc * weight + (1 - weight) * v;
    debias = debias * weight + (1 - weight);
    last = acc / debias;
    out[i] = last;
  }
  return out;
}

/** Tick spacings for an axis of steps: whole steps only (1, 2, 5, 10, 20, 50 …), never "step 1.5". */
export const STEP_TICKS: number[] = Array.from({ length: 10 }, (_, e) =>
  [1, 2, 5].map((m) => m * 10 ** e),
).flat();

/** Decimals that write a tick spacing exactly (0.005 → 3, 0.25 → 2, 5 → 0). */
function decimalsOf(spacing: number): number {
  for (let d = 0; d < 12; d++) {
    const scaled = spacing * 10 ** d;
    if (Math.abs(scaled - Math.round(scaled)) < 1e-6) return d;
  }
  return 12;
}

/**
 * A value for the legend or an axis. Very small or large values in e-notation; an axis tick gets
 * the decimals its spacing needs, so neighbouring ticks never read alike (11.925, 11.93, 11.935,
 * not 11.93, 11.93, 11.94).
 */
export function formatChartValue(value: number, tickSpacing?: number): string {
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)) return value.toExponential(1);
  if (tickSpacing !== undefined && tickSpacing > 0)
    return String(Number(value.toFixed(decimalsOf(tickSpacing))));
  return String(Number(value.toPrecision(4)));
}
