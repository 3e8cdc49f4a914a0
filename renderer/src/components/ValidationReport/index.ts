export { default } from './ValidationReport.svelte';
