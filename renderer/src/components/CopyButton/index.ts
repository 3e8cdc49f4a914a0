export { default } from './CopyButton.svelte';
