export { default } from './RunCharts.svelte';
