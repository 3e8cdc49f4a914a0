export { default } from './DataEditor.svelte';
