export { default } from './TrainControls.svelte';
