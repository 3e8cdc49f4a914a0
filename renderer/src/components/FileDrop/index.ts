export { default } from './FileDrop.svelte';
