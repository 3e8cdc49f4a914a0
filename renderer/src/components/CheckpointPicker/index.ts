export { default } from './CheckpointPicker.svelte';
