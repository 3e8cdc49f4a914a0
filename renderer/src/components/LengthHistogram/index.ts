export { default as HistogramChart } from './HistogramChart.svelte';
export { default } from './LengthHistogram.svelte';
