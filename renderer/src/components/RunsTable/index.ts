export { default } from './RunsTable.svelte';
