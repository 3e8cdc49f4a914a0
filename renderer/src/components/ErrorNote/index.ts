export { default } from './ErrorNote.svelte';
