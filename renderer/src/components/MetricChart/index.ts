export type { ChartPoint, ChartSeries } from '../../lib/chart-data';
export { default as ChartFigure } from './ChartFigure.svelte';
export { default } from './MetricChart.svelte';
