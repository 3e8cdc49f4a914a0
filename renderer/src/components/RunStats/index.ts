export { default } from './RunStats.svelte';
