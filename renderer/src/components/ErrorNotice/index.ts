export { default } from './ErrorNotice.svelte';
