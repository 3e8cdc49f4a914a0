export { default } from './SampleList.svelte';
