export { default } from './SampleHistory.svelte';
