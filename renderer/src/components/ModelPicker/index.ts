export { default } from './ModelPicker.svelte';
