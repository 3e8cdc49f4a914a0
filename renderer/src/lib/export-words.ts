// Export formats in plain words (the exports list, the export page, the lineage).
export const EXPORT_KIND_WORDS: Record<string, string> = {
  ollama: 'Ollama folder',
  'gguf-adapter': 'GGUF adapter (llama.cpp)',
  'gguf-base': 'GGUF base model (llama.cpp)',
  'gguf-merged': 'GGUF merged model (llama.cpp)',
  'hf-merged': 'Merged model (Hugging Face)',
  peft: 'PEFT adapter (Hugging Face)',
};

export function exportKindWords(kind: string): string {
  return EXPORT_KIND_WORDS[kind] ?? kind;
}

export const EXPORT_STATUS_WORDS = { running: 'Exporting…', completed: 'Done', failed: 'Failed' } as const;
