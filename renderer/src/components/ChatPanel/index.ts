export { default } from './ChatPanel.svelte';
export { default as ChatTranscript } from './ChatTranscript.svelte';
