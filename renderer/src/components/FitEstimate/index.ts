export { default } from './FitEstimate.svelte';
