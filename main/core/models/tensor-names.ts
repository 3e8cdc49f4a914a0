// The one table of on-disk tensor names (formats.md §2.2): each role of a Llama/Mistral/Qwen2 model
// with its Hugging Face name, its GGUF name, its torch shape (out, in) and when it exists. Inspection,
// the tiny-model factory, the memory estimate and the exporters all read this table; `{N}` is the
// layer index. Rows stay one per line so the table reads as a table (hence biome-ignore below).
import type { ModelConfig } from './config.js';

/** The PEFT `target_modules` names a LoRA can train (all seven linear projections). */
export const LORA_TARGETS = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
] as const;
export type LoraTarget = (typeof LORA_TARGETS)[number];

export interface TensorRole {
  role: string;
  hf: string;
  gguf: string;
  perLayer: boolean;
  /** torch shape: (out, in) for matrices, (n) for vectors. */
  shape: (c: ModelConfig) => number[];
  /** Absent when false (tied lm_head, biases of models without them). */
  present?: (c: ModelConfig) => boolean;
  /** Linear projections: the PEFT module name (frozen in NF4, LoRA-trainable). */
  linear?: LoraTarget;
}

const q = (c: ModelConfig) => c.numHeads * c.headDim;
const kv = (c: ModelConfig) => c.numKvHeads * c.headDim;

// biome-ignore format: one row per role reads as a table
export const TENSOR_ROLES: readonly TensorRole[] = [
  { role: 'token_embd', hf: 'model.embed_tokens.weight', gguf: 'token_embd.weight', perLayer: false, shape: (c) => [c.vocabSize, c.hiddenSize] },
  { role: 'attn_norm', hf: 'model.layers.{N}.input_layernorm.weight', gguf: 'blk.{N}.attn_norm.weight', perLayer: true, shape: (c) => [c.hiddenSize] },
  { role: 'attn_q', hf: 'model.layers.{N}.self_attn.q_proj.weight', gguf: 'blk.{N}.attn_q.weight', perLayer: true, shape: (c) => [q(c), c.hiddenSize], linear: 'q_proj' },
  { role: 'attn_k', hf: 'model.layers.{N}.self_attn.k_proj.weight', gguf: 'blk.{N}.attn_k.weight', perLayer: true, shape: (c) => [kv(c), c.hiddenSize], linear: 'k_proj' },
  { role: 'attn_v', hf: 'model.layers.{N}.self_attn.v_proj.weight', gguf: 'blk.{N}.attn_v.weight', perLayer: true, shape: (c) => [kv(c), c.hiddenSize], linear: 'v_proj' },
  { role: 'attn_q_bias', hf: 'model.layers.{N}.self_attn.q_proj.bias', gguf: 'blk.{N}.attn_q.bias', perLayer: true, shape: (c) => [q(c)], present: (c) => c.attentionBias },
  { role: 'attn_k_bias', hf: 'model.layers.{N}.self_attn.k_proj.bias', gguf: 'blk.{N}.attn_k.bias', perLayer: true, shape: (c) => [kv(c)], present: (c) => c.attentionBias },
  { role: 'attn_v_bias', hf: 'model.layers.{N}.self_attn.v_proj.bias', gguf: 'blk.{N}.attn_v.bias', perLayer: true, shape: (c) => [kv(c)], present: (c) => c.attentionBias },
  { role: 'attn_output', hf: 'model.layers.{N}.self_attn.o_proj.weight', gguf: 'blk.{N}.attn_output.weight', perLayer: true, shape: (c) => [c.hiddenSize, q(c)], linear: 'o_proj' },
  // Llama with attention_bias also biases o_proj; Qwen2 never does.
  { role: 'attn_output_bias', hf: 'model.layers.{N}.self_attn.o_proj.bias', gguf: 'blk.{N}.attn_output.bias', perLayer: true, shape: (c) => [c.hiddenSize], present: (c) => c.attentionBias && c.architecture !== 'qwen2' },
  { role: 'ffn_norm', hf: 'model.layers.{N}.post_attention_layernorm.weight', gguf: 'blk.{N}.ffn_norm.weight', perLayer: true, shape: (c) => [c.hiddenSize] },
  { role: 'ffn_gate', hf: 'model.layers.{N}.mlp.gate_proj.weight', gguf: 'blk.{N}.ffn_gate.weight', perLayer: true, shape: (c) => [c.intermediateSize, c.hiddenSize], linear: 'gate_proj' },
  { role: 'ffn_up', hf: 'model.layers.{N}.mlp.up_proj.weight', gguf: 'blk.{N}.ffn_up.weight', perLayer: true, shape: (c) => [c.intermediateSize, c.hiddenSize], linear: 'up_proj' },
  { role: 'ffn_down', hf: 'model.layers.{N}.mlp.down_proj.weight', gguf: 'blk.{N}.ffn_down.weight', perLayer: true, shape: (c) => [c.hiddenSize, c.intermediateSize], linear: 'down_proj' },
  { role: 'ffn_gate_bias', hf: 'model.layers.{N}.mlp.gate_proj.bias', gguf: 'blk.{N}.ffn_gate.bias', perLayer: true, shape: (c) => [c.intermediateSize], present: (c) => c.mlpBias },
  { role: 'ffn_up_bias', hf: 'model.layers.{N}.mlp.up_proj.bias', gguf: 'blk.{N}.ffn_up.bias', perLayer: true, shape: (c) => [c.intermediateSize], present: (c) => c.mlpBias },
  { role: 'ffn_down_bias', hf: 'model.layers.{N}.mlp.down_proj.bias', gguf: 'blk.{N}.ffn_down.bias', perLayer: true, shape: (c) => [c.hiddenSize], present: (c) => c.mlpBias },
  { role: 'output_norm', hf: 'model.norm.weight', gguf: 'output_norm.weight', perLayer: false, shape: (c) => [c.hiddenSize] },
  { role: 'output', hf: 'lm_head.weight', gguf: 'output.weight', perLayer: false, shape: (c) => [c.vocabSize, c.hiddenSize], present: (c) => !c.tieWordEmbeddings },
];

export interface ExpectedTensor {
  name: string;
  gguf: string;
  role: TensorRole;
  layer: number | null;
  shape: number[];
}

/** Every tensor a checkpoint of this config holds, in model order. */
export function expectedTensors(config: ModelConfig): ExpectedTensor[] {
  const out: ExpectedTensor[] = [];
  const add = (role: TensorRole, layer: number | null) => {
    const at = (name: string) => (layer === null ? name : name.replace('{N}', String(layer)));
    out.push({ name: at(role.hf), gguf: at(role.gguf), role, layer, shape: role.shape(config) });
  };
  const present = TENSOR_ROLES.filter((r) => r.present?.(config) ?? true);
  for (const role of present.filter((r) => !r.perLayer && r.role === 'token_embd')) add(role, null);
  for (let layer = 0; layer < config.numLayers; layer++) {
    for (const role of present.filter((r) => r.perLayer)) add(role, layer);
  }
  for (const role of present.filter((r) => !r.perLayer && r.role !== 'token_embd')) add(role, null);
  return out;
}

/** Parameters of the whole model, counted from the table (a tied lm_head counts once). */
export function parameterCount(config: ModelConfig): number {
  return expectedTensors(config).reduce((n, t) => n + t.shape.reduce((p, d) => p * d, 1), 0);
}

/** (out, in) of one linear projection. */
export function linearShape(config: ModelConfig, target: LoraTarget): { out: number; in: number } {
  const role = TENSOR_ROLES.find((r) => r.linear === target)!;
  const [out, inDim] = role.shape(config) as [number, number];
  return { out, in: inDim };
}
