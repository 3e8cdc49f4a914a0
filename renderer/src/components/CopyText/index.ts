export { default } from './CopyText.svelte';
