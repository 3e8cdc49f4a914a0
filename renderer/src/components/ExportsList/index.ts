export { default } from './ExportsList.svelte';
