export { default } from './RunCheckpoints.svelte';
