export { default } from './DataSource.svelte';
