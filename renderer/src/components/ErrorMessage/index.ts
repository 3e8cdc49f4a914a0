export { default } from './ErrorMessage.svelte';
