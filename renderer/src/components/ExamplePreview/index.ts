export { default } from './ExamplePreview.svelte';
