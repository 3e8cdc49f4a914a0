export { default } from './StatusBadge.svelte';
