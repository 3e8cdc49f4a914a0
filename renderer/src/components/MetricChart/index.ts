export type { ChartPoint, ChartSeries } from '../../lib/chart-data';
export { default } from './MetricChart.svelte';
