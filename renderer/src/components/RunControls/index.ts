export { default } from './RunControls.svelte';
