// Base or merged model → GGUF (formats.md §2): GGUF tensor names from the one table, Q/K rows
// permuted for the llama architecture, hyperparameter keys, tokenizer metadata, F32/F16/BF16/Q8_0.
// Streams: one tensor is read, (merged,) converted and written at a time.
import path from 'node:path';
import {
  f32 as f32v,
  type GgufKv,
  type GgufTensorToWrite,
  type GgufWriteOptions,
  str,
  u32,
  type WrittenGguf,
  writeGguf,
} from '../formats/gguf.js';
import { type SafetensorsDtype, SafetensorsReader, toFloat32 } from '../formats/safetensors.js';
import { readWeightsLayout } from '../formats/safetensors-index.js';
import type { ModelConfig } from '../models/config.js';
import { expectedTensors } from '../models/tensor-names.js';
import type { LoraPair } from './adapter.js';
import { ExportError } from './errors.js';
import { tokenizerKvs } from './gguf-tokenizer.js';
import {
  type ExportDtype,
  encodeFloats,
  GGML_OF,
  mergeLora,
  permuteQkRows,
  storageDtype,
} from './tensor-math.js';

/** llama.cpp's architecture: Mistral runs as llama (§2.1). */
export const ggufArch = (c: ModelConfig): 'llama' | 'qwen2' =>
  c.architecture === 'qwen2' ? 'qwen2' : 'llama';

const FILE_TYPE: Record<ExportDtype, number> = { f32: 0, f16: 1, q8_0: 7, bf16: 32 };

/** The rows of a q/k tensor to permute for llama-arch GGUF, as a head count, else null (§2.3). */
export function qkHeads(c: ModelConfig, role: string): number | null {
  if (ggufArch(c) !== 'llama') return null;
  if (role === 'attn_q' || role === 'attn_q_bias') return c.numHeads;
  if (role === 'attn_k' || role === 'attn_k_bias') return c.numKvHeads;
  return null;
}

/** Llama 3 frequency factors (`rope_freqs.weight`, §2.2), as llama.cpp's converter computes them. */
export function llama3RopeFactors(c: ModelConfig): Float32Array | null {
  const s = c.ropeScaling;
  if (s?.type !== 'llama3' || !('lowFreqFactor' in s)) return null;
  const dim = c.headDim;
  const out = new Float32Array(dim / 2);
  const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
  const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
  for (let i = 0; i < dim / 2; i++) {
    const freq = 1 / c.ropeTheta ** ((2 * i) / dim);
    const wavelen = (2 * Math.PI) / freq;
    if (wavelen < highWavelen) out[i] = 1;
    else if (wavelen > lowWavelen) out[i] = s.factor;
    else {
      const smooth =
        (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) / (s.highFreqFactor - s.lowFreqFactor);
      out[i] = 1 / ((1 - smooth) / s.factor + smooth);
    }
  }
  return out;
}

/** A tensor as float32; F32 bytes are viewed in place, not copied (peak memory: one tensor). */
async function readValues(
  r: SafetensorsReader,
  name: string,
  dtype: SafetensorsDtype,
): Promise<Float32Array> {
  const raw = await r.readBytes(name);
  if (dtype === 'F32' && raw.byteOffset % 4 === 0)
    return new Float32Array(raw.buffer, raw.byteOffset, raw.length / 4);
  return toFloat32(dtype, raw, `${r.path}: tensor "${name}"`);
}

export function hyperparameterKvs(c: ModelConfig, name: string, dtype: ExportDtype): GgufKv[] {
  const a = ggufArch(c);
  const kvs: GgufKv[] = [
    { key: 'general.architecture', value: str(a) },
    { key: 'general.type', value: str('model') },
    { key: 'general.name', value: str(name) },
    { key: 'general.file_type', value: u32(FILE_TYPE[dtype]) },
    { key: 'general.quantization_version', value: u32(2) },
    { key: `${a}.vocab_size`, value: u32(c.vocabSize) },
    { key: `${a}.context_length`, value: u32(c.maxPositionEmbeddings) },
    { key: `${a}.embedding_length`, value: u32(c.hiddenSize) },
    { key: `${a}.block_count`, value: u32(c.numLayers) },
    { key: `${a}.feed_forward_length`, value: u32(c.intermediateSize) },
    { key: `${a}.attention.head_count`, value: u32(c.numHeads) },
    { key: `${a}.attention.head_count_kv`, value: u32(c.numKvHeads) },
    { key: `${a}.attention.key_length`, value: u32(c.headDim) },
    { key: `${a}.attention.value_length`, value: u32(c.headDim) },
    { key: `${a}.rope.dimension_count`, value: u32(c.headDim) },
    { key: `${a}.rope.freq_base`, value: f32v(c.ropeTheta) },
    { key: `${a}.attention.layer_norm_rms_epsilon`, value: f32v(c.rmsNormEps) },
  ];
  return kvs;
}

export interface ModelGgufOptions {
  modelDir: string;
  config: ModelConfig;
  outFile: string;
  dtype: ExportDtype;
  name?: string;
  /** Merged export: these LoRA pairs are added to their base weights (scale·B·A) before conversion. */
  merge?: LoraPair[];
  write?: GgufWriteOptions;
  /** Test seam: false writes q/k in HF order (what a converter without §2.3 would do). */
  permuteQk?: boolean;
}

export async function writeModelGguf(o: ModelGgufOptions): Promise<WrittenGguf> {
  const c = o.config;
  if (c.ropeScaling && c.ropeScaling.type !== 'llama3') {
    throw new ExportError(
      'model-unsupported',
      `${o.modelDir}: RoPE scaling "${c.ropeScaling.type}" is not written to GGUF yet.`,
      'Export the adapter (PEFT) instead.',
    );
  }
  const layout = await readWeightsLayout(o.modelDir);
  const readers = new Map<string, SafetensorsReader>();
  const reader = async (file: string) => {
    let r = readers.get(file);
    if (!r) {
      r = await SafetensorsReader.open(file);
      readers.set(file, r);
    }
    return r;
  };
  const merges = new Map((o.merge ?? []).map((p) => [p.weight, p]));
  try {
    const tensors: GgufTensorToWrite[] = [];
    for (const t of expectedTensors(c)) {
      const at = layout.tensors.get(t.name);
      if (!at)
        throw new ExportError(
          'model-incomplete',
          `${o.modelDir} has no tensor "${t.name}".`,
          'Download the model folder again.',
        );
      const dtype = storageDtype(o.dtype, t.shape, t.gguf);
      tensors.push({
        name: t.gguf,
        type: GGML_OF[dtype],
        ne: [...t.shape].reverse(),
        data: async () => {
          let values = await readValues(await reader(at.file), t.name, at.info.dtype);
          const pair = merges.get(t.name);
          if (pair) mergeLora(values, pair.A, pair.B, pair.out, pair.in, pair.r, pair.scale);
          const heads = o.permuteQk === false ? null : qkHeads(c, t.role.role);
          if (heads !== null) values = permuteQkRows(values, t.shape[0]!, t.shape[1] ?? 1, heads);
          return encodeFloats(values, dtype);
        },
      });
    }
    const ropeFactors = llama3RopeFactors(c);
    if (ropeFactors)
      tensors.push({
        name: 'rope_freqs.weight',
        type: GGML_OF.f32,
        ne: [ropeFactors.length],
        data: () => encodeFloats(ropeFactors, 'f32'),
      });
    const kvs = [
      ...hyperparameterKvs(c, o.name ?? path.basename(o.modelDir), o.dtype),
      ...tokenizerKvs(o.modelDir, c.vocabSize),
    ];
    return await writeGguf(o.outFile, kvs, tensors, o.write);
  } finally {
    for (const r of readers.values()) await r.close();
  }
}
