export { default } from './PresetCards.svelte';
