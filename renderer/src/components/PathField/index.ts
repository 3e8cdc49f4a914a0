export { default } from './PathField.svelte';
