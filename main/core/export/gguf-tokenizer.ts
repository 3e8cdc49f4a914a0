// Tokenizer metadata of a base GGUF (formats.md §2.2 `tokenizer.ggml.*`), from tokenizer.json and
// tokenizer_config.json. Byte-level BPE (Llama 3, Qwen) → model "gpt2" with merges; SentencePiece-
// style BPE (Llama 2 / Mistral) → model "llama" with scores (−id: the vocabulary is in merge order)
// and BYTE tokens for <0xXX>. The token list is padded with unused tokens up to the config's vocab.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadModelTokenizer } from '../data/tokenize.js';
import { arr, bool, type GgufKv, GgufValueType, str, u32 } from '../formats/gguf.js';
import { ExportError } from './errors.js';

const TOKEN_TYPE = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

interface TokenizerJson {
  model?: {
    type?: string;
    vocab?: Record<string, number>;
    merges?: Array<string | [string, string]>;
    unk_token?: string | null;
  };
  added_tokens?: Array<{ id: number; content: string; special?: boolean }>;
}

export function tokenizerKvs(modelDir: string, vocabSize: number): GgufKv[] {
  const file = path.join(modelDir, 'tokenizer.json');
  const json = JSON.parse(readFileSync(file, 'utf8')) as TokenizerJson;
  const model = loadModelTokenizer(modelDir);
  if (json.model?.type !== 'BPE' || !json.model.vocab) {
    throw new ExportError(
      'tokenizer-unsupported',
      `${file}: only BPE tokenizers can be written to GGUF (this one is ${json.model?.type ?? 'unknown'}).`,
      'Use a Llama, Mistral or Qwen2 model folder with its tokenizer.json.',
    );
  }
  const tokens: string[] = new Array(vocabSize).fill('');
  const types: number[] = new Array(vocabSize).fill(TOKEN_TYPE.unused);
  const spm = model.kind === 'sentencepiece';
  for (const [text, id] of Object.entries(json.model.vocab)) {
    if (id >= vocabSize)
      throw new ExportError(
        'tokenizer-mismatch',
        `${file}: token ${id} is beyond the model's vocab_size ${vocabSize}.`,
        'The tokenizer does not belong to this model.',
      );
    tokens[id] = text;
    types[id] = spm && /^<0x[0-9A-F]{2}>$/.test(text) ? TOKEN_TYPE.byte : TOKEN_TYPE.normal;
  }
  for (const t of json.added_tokens ?? []) {
    if (t.id >= vocabSize)
      throw new ExportError(
        'tokenizer-mismatch',
        `${file}: added token ${t.id} is beyond vocab_size ${vocabSize}.`,
        'The tokenizer does not belong to this model.',
      );
    tokens[t.id] = t.content;
    types[t.id] =
      t.content === json.model.unk_token
        ? TOKEN_TYPE.unknown
        : t.special
          ? TOKEN_TYPE.control
          : TOKEN_TYPE.userDefined;
  }
  for (let i = 0; i < vocabSize; i++) if (types[i] === TOKEN_TYPE.unused) tokens[i] = `[PAD${i}]`;

  const kvs: GgufKv[] = [];
  const id = (text: string | null) =>
    text === null ? undefined : (model.tokenizer.token_to_id(text) ?? undefined);
  if (spm) {
    kvs.push({ key: 'tokenizer.ggml.model', value: str('llama') });
    kvs.push({ key: 'tokenizer.ggml.pre', value: str('default') });
  } else {
    const pre = tokens.includes('<|begin_of_text|>')
      ? 'llama-bpe'
      : tokens.includes('<|im_start|>')
        ? 'qwen2'
        : 'default';
    kvs.push({ key: 'tokenizer.ggml.model', value: str('gpt2') });
    kvs.push({ key: 'tokenizer.ggml.pre', value: str(pre) });
  }
  kvs.push({ key: 'tokenizer.ggml.tokens', value: arr(GgufValueType.STRING, tokens) });
  if (spm)
    kvs.push({
      key: 'tokenizer.ggml.scores',
      value: arr(
        GgufValueType.FLOAT32,
        tokens.map((_, i) => (types[i] === TOKEN_TYPE.normal ? -i : 0)),
      ),
    });
  kvs.push({ key: 'tokenizer.ggml.token_type', value: arr(GgufValueType.INT32, types) });
  if (!spm) {
    const merges = (json.model.merges ?? []).map((m) => (typeof m === 'string' ? m : m.join(' ')));
    kvs.push({ key: 'tokenizer.ggml.merges', value: arr(GgufValueType.STRING, merges) });
  }
  const bos = model.bosId ?? undefined;
  const eos = id(model.context.eosToken);
  const unk = json.model.unk_token ? id(json.model.unk_token) : undefined;
  if (bos !== undefined) kvs.push({ key: 'tokenizer.ggml.bos_token_id', value: u32(bos) });
  if (eos !== undefined) kvs.push({ key: 'tokenizer.ggml.eos_token_id', value: u32(eos) });
  if (unk !== undefined) kvs.push({ key: 'tokenizer.ggml.unknown_token_id', value: u32(unk) });
  kvs.push({ key: 'tokenizer.ggml.add_bos_token', value: bool(model.expectsBos) });
  kvs.push({ key: 'tokenizer.ggml.add_eos_token', value: bool(false) });
  if (model.context.chatTemplate)
    kvs.push({ key: 'tokenizer.chat_template', value: str(model.context.chatTemplate) });
  return kvs;
}
