export { default } from './RecentRuns.svelte';
