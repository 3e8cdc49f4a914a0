export { default } from './CompareSummary.svelte';
