export { default } from './ConfigDiff.svelte';
