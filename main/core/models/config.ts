// config.json of a Llama, Mistral or Qwen2 checkpoint → a typed ModelConfig (formats.md §10.1).
// Defaults are those of the transformers config classes; fields that define the shapes have no
// default here, because a config without them is broken, not small.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { modelError } from './errors.js';

export const SUPPORTED_ARCHITECTURES = ['llama', 'mistral', 'qwen2'] as const;
export type Architecture = (typeof SUPPORTED_ARCHITECTURES)[number];

export const CONFIG_FILE = 'config.json';

/** `architectures[0]` of each family's causal language model (the class the engine mirrors). */
export const CAUSAL_LM_CLASS: Record<Architecture, string> = {
  llama: 'LlamaForCausalLM',
  mistral: 'MistralForCausalLM',
  qwen2: 'Qwen2ForCausalLM',
};

/** Llama-3.x frequency-dependent RoPE scaling; other kinds are kept by name so inspect can flag them. */
export type RopeScaling =
  | {
      type: 'llama3';
      factor: number;
      lowFreqFactor: number;
      highFreqFactor: number;
      originalMaxPositionEmbeddings: number;
    }
  | { type: string; factor?: number };

export interface ModelConfig {
  architecture: Architecture;
  /** `architectures[0]`, e.g. "LlamaForCausalLM". */
  className: string | null;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  hiddenAct: string;
  rmsNormEps: number;
  ropeTheta: number;
  ropeScaling: RopeScaling | null;
  maxPositionEmbeddings: number;
  tieWordEmbeddings: boolean;
  /** q/k/v projections carry biases (always for Qwen2; Llama only with `attention_bias`). */
  attentionBias: boolean;
  /** o_proj and MLP biases (Llama `mlp_bias`/`attention_bias`); the engine does not train these. */
  mlpBias: boolean;
  /** Window each query sees, when sliding-window attention is on (Mistral; Qwen2 with use_sliding_window). */
  slidingWindow: number | null;
  /** Qwen2: layers below this index use full attention even with sliding windows on. */
  maxWindowLayers: number | null;
  torchDtype: string | null;
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
}

const DEFAULTS: Record<Architecture, { maxPositionEmbeddings: number }> = {
  llama: { maxPositionEmbeddings: 2048 },
  mistral: { maxPositionEmbeddings: 4096 * 32 },
  qwen2: { maxPositionEmbeddings: 32768 },
};

export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const file = path.join(dir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw modelError(
      'bad-config',
      file,
      `${file} is missing.`,
      'A Hugging Face model folder has a config.json next to its weights; download the whole folder.',
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw modelError(
      'bad-config',
      file,
      `${file} is not valid JSON (${(err as Error).message}).`,
      'Download config.json again.',
    );
  }
  return parseModelConfig(json, file);
}

export function parseModelConfig(json: unknown, file = CONFIG_FILE): ModelConfig {
  const fix = 'Use the config.json that came with the model.';
  const bad = (what: string) => modelError('bad-config', file, `${file}: ${what}.`, fix);
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw bad('it is not a JSON object');
  const c = json as Record<string, unknown>;

  const modelType = c.model_type;
  if (!SUPPORTED_ARCHITECTURES.includes(modelType as Architecture)) {
    throw modelError(
      'unsupported-architecture',
      file,
      `${file}: model_type ${JSON.stringify(modelType ?? null)} is not supported.`,
      `Tunesmith trains ${SUPPORTED_ARCHITECTURES.join(', ')} models (Llama 2/3.x, Mistral, Qwen2/2.5); pick one of those.`,
    );
  }
  const architecture = modelType as Architecture;

  const int = (key: string, min = 1): number => {
    const v = c[key];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      throw bad(`"${key}" must be a whole number ≥ ${min}, found ${JSON.stringify(v ?? null)}`);
    }
    return v;
  };
  const optionalInt = (key: string): number | null =>
    c[key] === undefined || c[key] === null ? null : int(key, 0);
  const num = (key: string, fallback: number): number => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw bad(`"${key}" must be a positive number, found ${JSON.stringify(v)}`);
    }
    return v;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = c[key] ?? fallback;
    if (typeof v !== 'boolean') throw bad(`"${key}" must be true or false, found ${JSON.stringify(v)}`);
    return v;
  };

  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads =
    c.num_key_value_heads === undefined || c.num_key_value_heads === null
      ? numHeads
      : int('num_key_value_heads');
  if (numHeads % numKvHeads !== 0) {
    throw bad(`num_attention_heads (${numHeads}) must be a multiple of num_key_value_heads (${numKvHeads})`);
  }
  const headDim = c.head_dim === undefined || c.head_dim === null ? hiddenSize / numHeads : int('head_dim');
  if (!Number.isInteger(headDim) || headDim % 2 !== 0) {
    throw bad(
      `the head size (${headDim}) must be an even whole number (hidden_size / num_attention_heads, or head_dim)`,
    );
  }
  const hiddenAct = c.hidden_act ?? c.hidden_activation ?? 'silu';
  if (hiddenAct !== 'silu')
    throw bad(`hidden_act ${JSON.stringify(hiddenAct)} is not supported (only "silu")`);

  // transformers v5 folds rope_theta and the scaling into `rope_parameters`.
  const ropeParameters = isObject(c.rope_parameters) ? c.rope_parameters : undefined;
  const ropeTheta =
    typeof ropeParameters?.rope_theta === 'number' ? ropeParameters.rope_theta : num('rope_theta', 10000);
  const ropeScaling = parseRopeScaling(c.rope_scaling ?? ropeParameters, bad);

  // Absent means the config class default (4096); an explicit null turns the window off.
  const slidingWindow = c.sliding_window === undefined ? 4096 : optionalInt('sliding_window');
  const useSlidingWindow =
    architecture === 'qwen2' ? bool('use_sliding_window', false) : architecture === 'mistral';
  const eos = c.eos_token_id;
  const eosTokenIds = eos === undefined || eos === null ? [] : Array.isArray(eos) ? eos : [eos];
  if (!eosTokenIds.every((id) => Number.isSafeInteger(id) && id >= 0)) {
    throw bad(`"eos_token_id" must be a token id or a list of them, found ${JSON.stringify(eos)}`);
  }
  const className =
    Array.isArray(c.architectures) && typeof c.architectures[0] === 'string' ? c.architectures[0] : null;
  const dtype = c.torch_dtype ?? c.dtype;

  return {
    architecture,
    className,
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    hiddenAct,
    rmsNormEps: num('rms_norm_eps', 1e-6),
    ropeTheta,
    ropeScaling,
    maxPositionEmbeddings:
      c.max_position_embeddings === undefined
        ? DEFAULTS[architecture].maxPositionEmbeddings
        : int('max_position_embeddings'),
    tieWordEmbeddings: bool('tie_word_embeddings', false),
    attentionBias: architecture === 'qwen2' ? true : bool('attention_bias', false),
    mlpBias: architecture === 'llama' ? bool('mlp_bias', false) : false,
    slidingWindow: useSlidingWindow ? slidingWindow : null,
    maxWindowLayers: architecture === 'qwen2' ? (optionalInt('max_window_layers') ?? 28) : null,
    torchDtype: typeof dtype === 'string' ? dtype : null,
    bosTokenId: optionalInt('bos_token_id'),
    eosTokenIds: eosTokenIds as number[],
    padTokenId: optionalInt('pad_token_id'),
  };
}

function parseRopeScaling(value: unknown, bad: (what: string) => Error): RopeScaling | null {
  if (value === undefined || value === null) return null;
  if (!isObject(value)) throw bad('"rope_scaling" must be an object or null');
  const type = value.rope_type ?? value.type;
  if (typeof type !== 'string') throw bad('"rope_scaling" has no "rope_type"');
  if (type === 'default') return null;
  if (type !== 'llama3')
    return { type, ...(typeof value.factor === 'number' ? { factor: value.factor } : {}) };
  const field = (key: string): number => {
    const v = value[key];
    if (typeof v !== 'number' || !(v > 0))
      throw bad(`llama3 "rope_scaling.${key}" must be a positive number`);
    return v;
  };
  const scaling = {
    type: 'llama3' as const,
    factor: field('factor'),
    lowFreqFactor: field('low_freq_factor'),
    highFreqFactor: field('high_freq_factor'),
    originalMaxPositionEmbeddings: field('original_max_position_embeddings'),
  };
  if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
    throw bad('llama3 "rope_scaling.high_freq_factor" must be larger than "low_freq_factor"');
  }
  return scaling;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
