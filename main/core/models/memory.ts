// How much memory the engine needs to QLoRA-train a model: the number the wizard shows before a run
// and the check that picks micro-batch and length. Arithmetic only, from the config; every term is
// written out below so it can be compared with what the engine allocates (Session.memory()).
//
// Dimension letters: L layers, d hidden, q = heads·head_dim, kv = kv_heads·head_dim, f ffn, V vocab,
// r LoRA rank, T = micro-batch × sequence length (tokens in one step), a = bytes of one activation
// (bf16 = 2 on the GPU, f32 = 4 on the CPU).
import type { ModelConfig } from './config.js';
import { LORA_TARGETS, type LoraTarget, linearShape, TENSOR_ROLES } from './tensor-names.js';

export interface MemoryOptions {
  seqLen: number;
  microBatch?: number;
  loraRank?: number;
  loraTargets?: readonly LoraTarget[];
  gradientCheckpointing?: boolean;
  device?: 'cuda' | 'cpu';
  /** QLoRA "double quantization" of the NF4 absmax values (the reference recipe does not use it). */
  doubleQuant?: boolean;
  nf4BlockSize?: number;
  /** Tokens whose logits are alive at once in the chunked cross-entropy. */
  logitsChunkTokens?: number;
}

export interface MemoryEstimate {
  weights: number;
  lora: number;
  optimizer: number;
  activations: number;
  workspace: number;
  total: number;
  /** The terms behind the totals, in bytes. */
  details: {
    nf4Weights: number;
    embeddings: number;
    normsAndBiases: number;
    loraParameters: number;
    savedPerLayer: number;
    logitsChunk: number;
    dequantBuffer: number;
    backwardScratch: number;
    runtime: number;
  };
}

/** A CUDA context with lazily loaded kernels; an assumption, not a measurement. */
export const CUDA_CONTEXT_BYTES = 512 * 1024 * 1024;

export function estimateTrainingMemory(config: ModelConfig, options: MemoryOptions): MemoryEstimate {
  const {
    seqLen,
    microBatch = 1,
    loraRank: r = 16,
    loraTargets = LORA_TARGETS,
    gradientCheckpointing = true,
    device = 'cuda',
    doubleQuant = false,
    nf4BlockSize = 64,
    logitsChunkTokens = 1024,
  } = options;
  const { numLayers: L, hiddenSize: d, vocabSize: V, intermediateSize: f } = config;
  const qDim = config.numHeads * config.headDim;
  const kvDim = config.numKvHeads * config.headDim;
  const a = device === 'cuda' ? 2 : 4;
  const T = microBatch * seqLen;

  // Frozen weights. Each linear projection in NF4: two 4-bit codes per byte, plus one f32 absmax per
  // block of 64 values — or, with double quantization, one u8 code per block plus one f32 scale per
  // 256 blocks and one f32 offset. Embeddings and an untied lm_head stay in the compute dtype; normsAndBiases
  // and biases in f32.
  let nf4Weights = 0;
  for (const target of LORA_TARGETS) {
    const { out, in: inDim } = linearShape(config, target);
    const n = out * inDim;
    const blocks = Math.ceil(n / nf4BlockSize);
    const absmax = doubleQuant ? blocks + 4 * Math.ceil(blocks / 256) + 4 : 4 * blocks;
    nf4Weights += L * (Math.ceil(n / 2) + absmax);
  }
  const embeddings = V * d * a * (config.tieWordEmbeddings ? 1 : 2);
  let normsAndBiases = 0;
  for (const role of TENSOR_ROLES) {
    const shape = role.shape(config);
    if (shape.length !== 1 || !(role.present?.(config) ?? true)) continue;
    normsAndBiases += 4 * (shape[0] ?? 0) * (role.perLayer ? L : 1);
  }
  const weights = nf4Weights + embeddings + normsAndBiases;

  // LoRA: A (r × in) and B (out × r) per trained projection, in f32, with an f32 gradient each;
  // AdamW keeps two f32 moments per parameter.
  let loraParameters = 0;
  for (const target of loraTargets) {
    const { out, in: inDim } = linearShape(config, target);
    loraParameters += L * r * (inDim + out);
  }
  const lora = loraParameters * 4 * 2;
  const optimizer = loraParameters * 4 * 2;

  // Activations saved for backward, per token per layer (attention is flash-style: no T×T scores):
  //   x (layer input) d · rmsnorm(x) d · q, k, v after RoPE q+2kv · attention output q ·
  //   x + o_proj(…) d · its rmsnorm d · gate and up outputs 2f · silu(gate)·up f · x·A per target r
  // in `a` bytes, plus f32 per token: two RMS reciprocals and one softmax log-sum-exp per head.
  // Without checkpointing all L layers keep all of it. With checkpointing each layer keeps only its
  // input x (T·d·a) and backward recomputes one layer at a time, so one layer's full set is alive.
  // The final norm's input and output (2·T·d·a) are kept either way. LoRA dropout masks are assumed
  // regenerated from the step's RNG seed in backward, so they cost nothing here.
  const perTokenPerLayer =
    a * (4 * d + 2 * qDim + 2 * kvDim + 3 * f + r * loraTargets.length) + 4 * (2 + config.numHeads);
  const savedPerLayer = T * perTokenPerLayer;
  const finalNorm = 2 * T * d * a;
  const activations = gradientCheckpointing
    ? L * T * d * a + savedPerLayer + finalNorm
    : L * savedPerLayer + finalNorm;

  // Workspace: f32 logits of one chunk of tokens for the cross-entropy (its gradient overwrites it in
  // place); one projection dequantized to the compute dtype at a time; backward scratch for the
  // gradient of the residual stream and of the widest layer inputs (2d + 2f per token); the CUDA
  // context on the GPU.
  const logitsChunk = Math.min(T, logitsChunkTokens) * V * 4;
  const dequantBuffer =
    Math.max(...LORA_TARGETS.map((t) => linearShape(config, t)).map((s) => s.out * s.in)) * a;
  const backwardScratch = T * (2 * d + 2 * f) * a;
  const runtime = device === 'cuda' ? CUDA_CONTEXT_BYTES : 0;
  const workspace = logitsChunk + dequantBuffer + backwardScratch + runtime;

  return {
    weights,
    lora,
    optimizer,
    activations,
    workspace,
    total: weights + lora + optimizer + activations + workspace,
    details: {
      nf4Weights,
      embeddings,
      normsAndBiases,
      loraParameters,
      savedPerLayer,
      logitsChunk,
      dequantBuffer,
      backwardScratch,
      runtime,
    },
  };
}
