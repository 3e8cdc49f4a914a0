export { default } from './ModelDetails.svelte';
