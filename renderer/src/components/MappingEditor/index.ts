export { default } from './MappingEditor.svelte';
