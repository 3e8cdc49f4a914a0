export { default } from './ProgressNote.svelte';
