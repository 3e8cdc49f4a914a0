// The tiny-model factory: a complete Hugging Face folder (config.json, model.safetensors,
// tokenizer.json, tokenizer_config.json, generation_config.json) with random weights and a real
// tokenizer, so the engine, the data path and the exporters can be tested without a download.
// Weights are N(0, 0.02) (norms 1) from a PRNG seeded per tensor by (seed, name): the same options
// give byte-identical files. The folder is written beside the target and renamed into place.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { floatToBf16, floatToHalf, type SafetensorsDtype, writeSafetensors } from '../formats/safetensors.js';
import { type BundledTokenizerName, loadBundledTokenizer } from './bundled-tokenizers.js';
import { type Architecture, CAUSAL_LM_CLASS, type ModelConfig, parseModelConfig } from './config.js';
import { modelError } from './errors.js';
import { expectedTensors, parameterCount } from './tensor-names.js';

export type TinyDtype = 'f32' | 'f16' | 'bf16';

export interface TinyModelOptions {
  arch: Architecture;
  outDir: string;
  layers?: number;
  hidden?: number;
  heads?: number;
  kvHeads?: number;
  ffn?: number;
  tokenizer?: BundledTokenizerName;
  seed?: number;
  dtype?: TinyDtype;
}

export interface TinyModel {
  dir: string;
  config: ModelConfig;
  parameterCount: number;
  files: string[];
  /** The tokenizer package had no chat template, so ChatML was added. */
  chatTemplateAdded: boolean;
}

export const TINY_DEFAULTS = {
  layers: 2,
  hidden: 64,
  heads: 4,
  kvHeads: 2,
  ffn: 128,
  seed: 0,
  dtype: 'f32',
} as const;

export const DEFAULT_TOKENIZER: Record<Architecture, BundledTokenizerName> = {
  llama: 'llama3',
  mistral: 'mistral',
  qwen2: 'qwen3',
};

const TORCH_DTYPE: Record<TinyDtype, string> = { f32: 'float32', f16: 'float16', bf16: 'bfloat16' };
const FILE_DTYPE: Record<TinyDtype, SafetensorsDtype> = { f32: 'F32', f16: 'F16', bf16: 'BF16' };
const TRANSFORMERS_VERSION = '4.46.0';

export async function createTinyModel(options: TinyModelOptions): Promise<TinyModel> {
  const o = {
    ...TINY_DEFAULTS,
    tokenizer: DEFAULT_TOKENIZER[options.arch],
    ...stripUndefined(options),
    arch: options.arch,
    outDir: options.outDir,
  };
  const problem = tinyDimsProblem(o);
  if (problem) throw new Error(problem);

  const tokenizer = await loadBundledTokenizer(o.tokenizer);
  const configJson = tinyConfigJson(o.arch, o, tokenizer);
  const config = parseModelConfig(configJson);
  const generationConfig = {
    bos_token_id: tokenizer.bosTokenId,
    eos_token_id: tokenizer.stopTokenIds.length === 1 ? tokenizer.stopTokenIds[0] : tokenizer.stopTokenIds,
    transformers_version: TRANSFORMERS_VERSION,
  };

  const outDir = path.resolve(o.outDir);
  await assertWritableTarget(outDir);
  const temp = `${outDir}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  await mkdir(temp, { recursive: true });
  try {
    const json = (value: unknown) => `${JSON.stringify(value, null, 2)}\n`;
    await writeFile(path.join(temp, 'config.json'), json(configJson));
    await writeFile(path.join(temp, 'generation_config.json'), json(generationConfig));
    await writeFile(path.join(temp, 'tokenizer.json'), tokenizer.tokenizerJson);
    await writeFile(path.join(temp, 'tokenizer_config.json'), json(tokenizer.tokenizerConfig));
    const dtype = FILE_DTYPE[o.dtype];
    await writeSafetensors(
      path.join(temp, 'model.safetensors'),
      expectedTensors(config).map((t) => ({
        name: t.name,
        dtype,
        shape: t.shape,
        data: () => randomTensorBytes(o.seed, t.name, t.shape, dtype, t.role.role.endsWith('_norm')),
      })),
      { format: 'pt' },
    );
    await assertWritableTarget(outDir);
    await rmdir(outDir).catch(() => {}); // an empty target folder is replaced
    await rename(temp, outDir);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
  return {
    dir: outDir,
    config,
    parameterCount: parameterCount(config),
    files: [
      'config.json',
      'generation_config.json',
      'model.safetensors',
      'tokenizer.json',
      'tokenizer_config.json',
    ],
    chatTemplateAdded: tokenizer.chatTemplateAdded,
  };
}

/** Why these sizes cannot make a model (the CLI turns it into a usage error), or undefined. */
export function tinyDimsProblem(o: Omit<Dims, 'dtype'> & { seed: number }): string | undefined {
  for (const key of ['layers', 'hidden', 'heads', 'kvHeads', 'ffn'] as const) {
    if (!Number.isSafeInteger(o[key]) || o[key] < 1)
      return `${key} must be a whole number ≥ 1, not ${o[key]}`;
  }
  if (!Number.isSafeInteger(o.seed) || o.seed < 0 || o.seed > 0xffffffff) {
    return `seed must be a whole number from 0 to 4294967295, not ${o.seed}`;
  }
  if (o.hidden % o.heads !== 0 || (o.hidden / o.heads) % 2 !== 0) {
    return `hidden (${o.hidden}) must be heads (${o.heads}) × an even head size`;
  }
  if (o.heads % o.kvHeads !== 0) return `heads (${o.heads}) must be a multiple of kv-heads (${o.kvHeads})`;
  return undefined;
}

type Dims = Required<Pick<TinyModelOptions, 'layers' | 'hidden' | 'heads' | 'kvHeads' | 'ffn' | 'dtype'>>;

/** A config.json shaped like the real ones of each family (Llama-3.1, Mistral-7B-v0.1, Qwen2.5). */
export function tinyConfigJson(
  arch: Architecture,
  dims: Dims,
  tokenizer: { vocabSize: number; bosTokenId: number | null; eosTokenId: number; name: BundledTokenizerName },
): Record<string, unknown> {
  const common = {
    attention_dropout: 0.0,
    bos_token_id: tokenizer.bosTokenId,
    eos_token_id: tokenizer.eosTokenId,
    hidden_act: 'silu',
    hidden_size: dims.hidden,
    initializer_range: 0.02,
    intermediate_size: dims.ffn,
    num_attention_heads: dims.heads,
    num_hidden_layers: dims.layers,
    num_key_value_heads: dims.kvHeads,
    torch_dtype: TORCH_DTYPE[dims.dtype],
    transformers_version: TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: tokenizer.vocabSize,
  };
  if (arch === 'llama') {
    const llama3 = tokenizer.name === 'llama3';
    return sortKeys({
      architectures: [CAUSAL_LM_CLASS.llama],
      model_type: 'llama',
      ...common,
      attention_bias: false,
      head_dim: dims.hidden / dims.heads,
      max_position_embeddings: llama3 ? 131072 : 4096,
      mlp_bias: false,
      pretraining_tp: 1,
      rms_norm_eps: 1e-5,
      rope_scaling: llama3
        ? {
            factor: 8.0,
            high_freq_factor: 4.0,
            low_freq_factor: 1.0,
            original_max_position_embeddings: 8192,
            rope_type: 'llama3',
          }
        : null,
      rope_theta: llama3 ? 500000.0 : 10000.0,
      tie_word_embeddings: false,
    });
  }
  if (arch === 'mistral') {
    return sortKeys({
      architectures: [CAUSAL_LM_CLASS.mistral],
      model_type: 'mistral',
      ...common,
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-5,
      rope_theta: 10000.0,
      sliding_window: 4096,
      tie_word_embeddings: false,
    });
  }
  return sortKeys({
    architectures: [CAUSAL_LM_CLASS.qwen2],
    model_type: 'qwen2',
    ...common,
    max_position_embeddings: 32768,
    max_window_layers: dims.layers,
    rms_norm_eps: 1e-6,
    rope_theta: 1000000.0,
    sliding_window: 32768,
    tie_word_embeddings: true,
    use_sliding_window: false,
  });
}

/** Values of one tensor, generated in chunks (memory: one chunk), f32 then narrowed to `dtype`. */
export function* randomTensorBytes(
  seed: number,
  name: string,
  shape: readonly number[],
  dtype: SafetensorsDtype,
  isNorm: boolean,
): Generator<Uint8Array> {
  const count = shape.reduce((n, d) => n * d, 1);
  const next = normalSource(seed, name);
  const width = dtype === 'F32' ? 4 : 2;
  const CHUNK = 65536;
  for (let done = 0; done < count; done += CHUNK) {
    const n = Math.min(CHUNK, count - done);
    const out = new Uint8Array(n * width);
    const view = new DataView(out.buffer);
    for (let i = 0; i < n; i++) {
      const value = isNorm ? 1 : 0.02 * next();
      if (dtype === 'F32') view.setFloat32(i * 4, value, true);
      else view.setUint16(i * 2, dtype === 'BF16' ? floatToBf16(value) : floatToHalf(value), true);
    }
    yield out;
  }
}

/** Standard normal numbers from sfc32 seeded by (seed, FNV-1a of the name), via Box–Muller. */
function normalSource(seed: number, name: string): () => number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  let a = seed >>> 0;
  let b = h >>> 0;
  let c = 0x9e3779b9;
  let d = 1;
  const uniform = () => {
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
  for (let i = 0; i < 12; i++) uniform();
  let spare: number | null = null;
  return () => {
    if (spare !== null) {
      const s = spare;
      spare = null;
      return s;
    }
    const u = 1 - uniform(); // (0, 1]: log stays finite
    const v = uniform();
    const radius = Math.sqrt(-2 * Math.log(u));
    spare = radius * Math.sin(2 * Math.PI * v);
    return radius * Math.cos(2 * Math.PI * v);
  };
}

async function assertWritableTarget(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw modelError(
      'target-not-empty',
      dir,
      `${dir} exists and is not a folder.`,
      'Choose a new folder name.',
    );
  }
  if (entries.length > 0) {
    throw modelError(
      'target-not-empty',
      dir,
      `${dir} already holds files; Tunesmith will not overwrite them.`,
      'Choose a new or empty folder.',
    );
  }
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1)));
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
