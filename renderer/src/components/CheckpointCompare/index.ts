export { default } from './CheckpointCompare.svelte';
