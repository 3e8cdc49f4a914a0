// Loaded tokenizers by model folder, so the data step's preview and length histogram (called as the
// person clicks and drags) do not parse a multi-megabyte tokenizer.json each time. An entry is
// reused while tokenizer.json and tokenizer_config.json keep their size and modification time.
import { statSync } from 'node:fs';
import path from 'node:path';
import { loadModelTokenizer, type ModelTokenizer } from './tokenize.js';

const MAX_ENTRIES = 4;

export class TokenizerCache {
  readonly #entries = new Map<string, { stamp: string; model: ModelTokenizer }>();

  get(modelDir: string): ModelTokenizer {
    const dir = path.resolve(modelDir);
    const stamp = fileStamp(dir);
    const cached = this.#entries.get(dir);
    if (cached && cached.stamp === stamp) {
      // Most recently used last: the first entry is the one to drop.
      this.#entries.delete(dir);
      this.#entries.set(dir, cached);
      return cached.model;
    }
    const model = loadModelTokenizer(dir);
    this.#entries.delete(dir);
    this.#entries.set(dir, { stamp, model });
    while (this.#entries.size > MAX_ENTRIES) {
      const oldest = this.#entries.keys().next().value;
      if (oldest === undefined) break;
      this.#entries.delete(oldest);
    }
    return model;
  }
}

function fileStamp(dir: string): string {
  return ['tokenizer.json', 'tokenizer_config.json']
    .map((name) => {
      try {
        const s = statSync(path.join(dir, name));
        return `${s.size}:${s.mtimeMs}`;
      } catch {
        return '-';
      }
    })
    .join('|');
}
