export { default } from './ConnectionBanner.svelte';
