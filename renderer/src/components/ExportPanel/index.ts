export { default } from './ExportPanel.svelte';
export { default as ExportResult } from './ExportResult.svelte';
export { MAIN_FORMATS, MORE_FORMATS } from './formats';
export { default as OllamaCreate } from './OllamaCreate.svelte';
