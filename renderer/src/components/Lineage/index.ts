export { default } from './Lineage.svelte';
