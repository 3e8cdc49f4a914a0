export { default } from './RunConfig.svelte';
