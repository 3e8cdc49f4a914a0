export { default } from './LoadState.svelte';
