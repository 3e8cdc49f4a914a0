export { default } from './ConfirmButton.svelte';
