export { default } from './SystemStatus.svelte';
