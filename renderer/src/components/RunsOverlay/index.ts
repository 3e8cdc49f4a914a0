export { default } from './RunsOverlay.svelte';
