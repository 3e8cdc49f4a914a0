// Tokenization with the trained mask, from a model folder's tokenizer.json (@huggingface/tokenizers).
//
// The tokenizer gives no character offsets, so a rendered conversation is encoded segment by
// segment (see template/types.ts) and each token takes its segment's `trained` flag. The mask is
// therefore by position, and no label is ever found by comparing token ids.
//
// Boundary rule. Each segment is encoded on its own, with no special tokens added. Where a segment
// boundary falls inside what the tokenizer would treat as one word, whole-string tokenization could
// merge across it; Tunesmith keeps the segment-wise tokens. At the prompt→reply boundary that is
// what inference does: the prompt is tokenized alone and the reply is generated after it. The
// templates put every boundary after a special token or a newline, or before a space, where the
// reference tokenizers (Qwen3, Llama-3 byte-level BPE; Llama-2 SentencePiece BPE) do not merge, so
// for ordinary text segment-wise == whole-string (tested). Known difference: a reply that starts with
// a newline or spaces, after a header ending in "\n" (whole-string would fuse "\n\n").
//
// SentencePiece-style vocabularies (a "▁" Prepend normalizer and no pre-tokenizer: Llama-2,
// Mistral v1) would BPE each section between special tokens as one word, which is super-linear in
// its length. They are encoded in pieces instead: split before every "▁" that follows another
// character. No token of such a vocabulary contains "▁" after another character (checked when the
// tokenizer is loaded), so no merge can cross those points and the result equals whole-string BPE.
// The Prepend normalizer adds "▁" at the start of every section; a segment that continues a section
// (does not start right after a special token) drops it, as whole-string tokenization would.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import type { Segment, TemplateContext } from './template/types.js';

export type TokenizerKind = 'byte-level' | 'sentencepiece' | 'other';

export interface ModelTokenizer {
  dir: string;
  tokenizer: Tokenizer;
  /** sha256 of tokenizer.json: names the tokenization in cache keys. */
  hash: string;
  kind: TokenizerKind;
  context: TemplateContext;
  /** The text of every added token (special tokens such as <|im_end|>). */
  specialTokens: string[];
  bosId: number | null;
  /** For SentencePiece-style tokenizers: the word marker their normalizer prepends ("▁"). */
  piecePrefix: string | null;
  /** Whether the tokenizer adds BOS itself (post-processor or add_bos_token). */
  expectsBos: boolean;
}

export interface TokenizedExample {
  ids: Int32Array;
  /** 1 where the token is trained (an assistant reply and its end-of-turn token), else 0. */
  trained: Uint8Array;
  /** Token ranges [start, end) of each trained segment, in order. */
  replies: Array<{ start: number; end: number }>;
}

export class ModelFolderError extends Error {
  override readonly name = 'ModelFolderError';
  readonly code = 'model-folder';
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

interface NormalizerConfig {
  type: string;
  prepend?: string;
  normalizers?: NormalizerConfig[];
}

interface TokenizerJson {
  normalizer?: NormalizerConfig | null;
  pre_tokenizer?: { type: string } | null;
  model?: { type?: string; vocab?: Record<string, number> };
  added_tokens?: Array<{ content: string; id: number }>;
}

type SpecialTokenSetting = string | { content?: string } | null | undefined;

interface TokenizerConfigJson {
  bos_token?: SpecialTokenSetting;
  eos_token?: SpecialTokenSetting;
  add_bos_token?: boolean;
  chat_template?: string | Array<{ name?: string; template?: string }>;
}

const HINT_FOLDER =
  'Point --model at a model folder holding tokenizer.json and tokenizer_config.json (as downloaded from Hugging Face).';

function readJson<T>(file: string): T {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as T;
  } catch (err) {
    throw new ModelFolderError(`${file} is not valid JSON: ${(err as Error).message}`, HINT_FOLDER);
  }
}

const tokenText = (setting: SpecialTokenSetting): string | null =>
  typeof setting === 'string' ? setting : (setting?.content ?? null);

function chatTemplateOf(config: TokenizerConfigJson): string | null {
  const t = config.chat_template;
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return (t.find((x) => x.name === 'default') ?? t[0])?.template ?? null;
  return null;
}

/** The "▁"-style string a Prepend normalizer adds, when the tokenizer is SentencePiece-style. */
function sentencePiecePrepend(json: TokenizerJson): string | null {
  if (json.pre_tokenizer || json.model?.type !== 'BPE') return null;
  const list = json.normalizer?.type === 'Sequence' ? (json.normalizer.normalizers ?? []) : [json.normalizer];
  return list.find((n) => n?.type === 'Prepend')?.prepend ?? null;
}

export function loadModelTokenizer(dir: string): ModelTokenizer {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new ModelFolderError(`The model folder ${dir} does not exist or is not a folder.`, HINT_FOLDER);
  }
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  if (!existsSync(tokenizerFile)) {
    throw new ModelFolderError(`The model folder ${dir} has no tokenizer.json.`, HINT_FOLDER);
  }
  const raw = readFileSync(tokenizerFile);
  const hash = createHash('sha256').update(raw).digest('hex');
  let json: TokenizerJson;
  try {
    json = JSON.parse(raw.toString('utf8')) as TokenizerJson;
  } catch (err) {
    throw new ModelFolderError(`${tokenizerFile} is not valid JSON: ${(err as Error).message}`, HINT_FOLDER);
  }
  const configFile = path.join(dir, 'tokenizer_config.json');
  const config: TokenizerConfigJson = existsSync(configFile) ? readJson(configFile) : {};
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (err) {
    throw new ModelFolderError(`${tokenizerFile} cannot be loaded: ${(err as Error).message}`, HINT_FOLDER);
  }
  const context: TemplateContext = {
    bosToken: tokenText(config.bos_token),
    eosToken: tokenText(config.eos_token),
    chatTemplate: chatTemplateOf(config),
  };
  const specialTokens = (json.added_tokens ?? []).map((t) => t.content);
  const bosId = context.bosToken === null ? null : (tokenizer.token_to_id(context.bosToken) ?? null);
  const plain = tokenizer.encode('a', { add_special_tokens: false }).ids;
  const withSpecial = tokenizer.encode('a', { add_special_tokens: true }).ids;
  const postProcessorAddsBos =
    bosId !== null && withSpecial.length > plain.length && withSpecial[0] === bosId && plain[0] !== bosId;
  const expectsBos = bosId !== null && (postProcessorAddsBos || config.add_bos_token === true);

  const prepend = sentencePiecePrepend(json);
  let kind: TokenizerKind = 'other';
  if (prepend !== null && !vocabularyCrossesPieces(json, prepend)) kind = 'sentencepiece';
  else if (JSON.stringify(json.pre_tokenizer ?? null).includes('"ByteLevel"')) kind = 'byte-level';
  const piecePrefix = kind === 'sentencepiece' ? prepend : null;
  return { dir, tokenizer, hash, kind, context, specialTokens, bosId, piecePrefix, expectsBos };
}

/** True when some vocabulary entry holds the prepend marker after another character. */
function vocabularyCrossesPieces(json: TokenizerJson, marker: string): boolean {
  const m = escapeRegExp(marker);
  const crossing = new RegExp(`[^${m}]${m}`, 'u');
  return Object.keys(json.model?.vocab ?? {}).some((token) => crossing.test(token));
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Encodes template segments into tokens with the trained flag taken from each segment. */
export class SegmentEncoder {
  readonly #model: ModelTokenizer;
  readonly #specialSplit: RegExp | null;
  readonly #prepend: string;
  readonly #unkId: number;
  readonly #stripping: Map<string, { lstrip?: boolean; rstrip?: boolean }>;

  constructor(model: ModelTokenizer) {
    this.#model = model;
    const specials = [...model.specialTokens].filter((t) => t !== '').sort((a, b) => b.length - a.length);
    this.#specialSplit = specials.length ? new RegExp(`(${specials.map(escapeRegExp).join('|')})`) : null;
    this.#prepend = model.piecePrefix ?? '▁';
    this.#unkId = model.tokenizer.model?.unk_token_id ?? 0;
    this.#stripping = new Map(
      [...model.tokenizer.get_added_tokens_decoder().values()]
        .filter((t) => t.lstrip || t.rstrip)
        .map((t) => [t.content, t]),
    );
  }

  get model(): ModelTokenizer {
    return this.#model;
  }

  encode(segments: readonly Segment[]): TokenizedExample {
    const ids: number[] = [];
    const flags: number[] = [];
    const replies: Array<{ start: number; end: number }> = [];
    const { bosId, expectsBos, context } = this.#model;
    const first = segments.find((s) => s.text !== '');
    if (expectsBos && bosId !== null && !(context.bosToken && first?.text.startsWith(context.bosToken))) {
      ids.push(bosId);
      flags.push(0);
    }
    // Consecutive untrained segments are encoded together (fewer boundaries); each reply on its own.
    const pieces: Array<{ text: string; trained: boolean }> = [];
    for (const segment of segments) {
      const last = pieces.at(-1);
      if (!segment.trained && last && !last.trained) last.text += segment.text;
      else pieces.push({ text: segment.text, trained: segment.trained });
    }
    this.#stripAcrossBoundaries(pieces);
    let atSectionStart = true;
    for (const piece of pieces) {
      const start = ids.length;
      atSectionStart = this.#encodeText(piece.text, atSectionStart, ids);
      while (flags.length < ids.length) flags.push(piece.trained ? 1 : 0);
      if (piece.trained) replies.push({ start, end: ids.length });
    }
    return { ids: Int32Array.from(ids), trained: Uint8Array.from(flags), replies };
  }

  /**
   * Added tokens marked lstrip/rstrip swallow the whitespace beside them; the tokenizer does that
   * within one encode call, so across a segment boundary it is done here.
   */
  #stripAcrossBoundaries(pieces: Array<{ text: string }>): void {
    if (this.#stripping.size === 0) return;
    for (let i = 0; i + 1 < pieces.length; i++) {
      const before = pieces[i]!;
      const after = pieces[i + 1]!;
      for (const [content, token] of this.#stripping) {
        if (token.rstrip && before.text.endsWith(content)) after.text = after.text.trimStart();
        if (token.lstrip && after.text.startsWith(content)) before.text = before.text.trimEnd();
      }
    }
  }

  /** Whole-string tokenization without added special tokens: the reference the tests compare with. */
  encodeWhole(text: string): number[] {
    return this.#model.tokenizer.encode(text, { add_special_tokens: false }).ids;
  }

  /** Appends the tokens of `text` to `out`; returns whether the text ended with a special token. */
  #encodeText(text: string, atSectionStart: boolean, out: number[]): boolean {
    if (this.#model.kind !== 'sentencepiece') {
      const encoded = this.#model.tokenizer.encode(text, { add_special_tokens: false }).ids;
      for (const id of encoded) out.push(id);
      return false;
    }
    const parts = this.#specialSplit ? text.split(this.#specialSplit) : [text];
    // Added tokens that swallow the whitespace beside them, as the tokenizer does (within a segment).
    for (let i = 1; i < parts.length; i += 2) {
      const token = this.#stripping.get(parts[i]!);
      if (token?.lstrip) parts[i - 1] = parts[i - 1]!.trimEnd();
      if (token?.rstrip && i + 1 < parts.length) parts[i + 1] = parts[i + 1]!.trimStart();
    }
    let sectionStart = atSectionStart;
    parts.forEach((part, i) => {
      if (part === '') return;
      if (i % 2 === 1) {
        out.push(this.#model.tokenizer.token_to_id(part) ?? this.#unkId);
        sectionStart = true;
        return;
      }
      this.#encodeSentencePieceSection(part, sectionStart, out);
      sectionStart = false;
    });
    return sectionStart;
  }

  #encodeSentencePieceSection(text: string, atSectionStart: boolean, out: number[]): void {
    const { tokenizer } = this.#model;
    let normalized = tokenizer.normalizer ? tokenizer.normalizer(text) : text;
    if (!atSectionStart && normalized.startsWith(this.#prepend))
      normalized = normalized.slice(this.#prepend.length);
    const pieces: string[] = [];
    let from = 0;
    for (let i = 1; i < normalized.length; i++) {
      if (normalized[i] === this.#prepend && normalized[i - 1] !== this.#prepend) {
        pieces.push(normalized.slice(from, i));
        from = i;
      }
    }
    if (from < normalized.length) pieces.push(normalized.slice(from));
    const model = tokenizer.model;
    if (!model) throw new Error('tokenizer.json has no model');
    const tokens = model(pieces);
    for (const token of tokens) out.push(tokenizer.token_to_id(token) ?? this.#unkId);
  }
}
