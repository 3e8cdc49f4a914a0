// The export formats in plain words: what each is for, in one or two sentences.
import type { ExportFormatName } from '../../../../main/api/contract';

export interface FormatInfo {
  format: ExportFormatName;
  title: string;
  description: string;
}

export const MAIN_FORMATS: FormatInfo[] = [
  {
    format: 'ollama',
    title: 'Ollama',
    description:
      'A folder Ollama can turn into a model with one command. The easiest way to chat with your model on any computer.',
  },
  {
    format: 'gguf-adapter',
    title: 'llama.cpp adapter (GGUF)',
    description:
      'Just what training added, as one small GGUF file. Load it on top of the base model in llama.cpp or LM Studio.',
  },
  {
    format: 'peft',
    title: 'PEFT adapter (Python)',
    description:
      'The adapter as Hugging Face’s Python libraries (PEFT, Transformers) read it. For programmers.',
  },
  {
    format: 'gguf-merged',
    title: 'Merged model (one file)',
    description:
      'The base model with your training built in, as one standalone GGUF file. Bigger, but needs nothing else.',
  },
];

export const MORE_FORMATS: FormatInfo[] = [
  {
    format: 'hf-merged',
    title: 'Merged model (Hugging Face folder)',
    description: 'A full copy of the model with your training built in, as safetensors, for Python tools.',
  },
  {
    format: 'gguf-base',
    title: 'Base model (GGUF)',
    description: 'The base model alone, converted for llama.cpp, to use with the adapter file.',
  },
];
