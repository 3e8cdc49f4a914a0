export { default } from './ReplyText.svelte';
