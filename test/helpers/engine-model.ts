// A small Llama/Mistral/Qwen2 folder for engine tests and benchmarks (config.json + model.safetensors,
// f32), with a chosen vocabulary size. Unlike the tiny-model factory (real tokenizer, N(0, 0.02)
// weights), weights here are scaled like a trained model's (embeddings N(0,1), projections
// N(0, 1/in)) so a LoRA adapter can move the logits far enough to memorize a reply.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeSafetensors } from '../../main/core/formats/safetensors.js';

export interface EngineModelDims {
  arch: 'llama' | 'mistral' | 'qwen2';
  vocab: number;
  hidden: number;
  layers: number;
  heads: number;
  kvHeads: number;
  ffn: number;
  slidingWindow?: number;
  seed?: number;
}

function normals(seed: number): () => number {
  let s = (seed * 2654435761 + 1) >>> 0;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

export async function writeEngineModel(dir: string, d: EngineModelDims): Promise<string> {
  await mkdir(dir, { recursive: true });
  const headDim = d.hidden / d.heads;
  const qwen = d.arch === 'qwen2';
  const config: Record<string, unknown> = {
    architectures: [
      { llama: 'LlamaForCausalLM', mistral: 'MistralForCausalLM', qwen2: 'Qwen2ForCausalLM' }[d.arch],
    ],
    model_type: d.arch,
    vocab_size: d.vocab,
    hidden_size: d.hidden,
    intermediate_size: d.ffn,
    num_hidden_layers: d.layers,
    num_attention_heads: d.heads,
    num_key_value_heads: d.kvHeads,
    hidden_act: 'silu',
    max_position_embeddings: 2048,
    rms_norm_eps: 1e-5,
    rope_theta: 10000.0,
    tie_word_embeddings: qwen,
    bos_token_id: 1,
    eos_token_id: 2,
  };
  if (d.arch === 'mistral') config.sliding_window = d.slidingWindow ?? null;
  if (qwen) config.use_sliding_window = false;
  await writeFile(path.join(dir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);

  const next = normals(d.seed ?? 1);
  const tensor = (name: string, shape: number[], scale: number, offset = 0) => {
    const values = new Float32Array(shape.reduce((a, b) => a * b, 1));
    for (let i = 0; i < values.length; i++) values[i] = offset + scale * next();
    return { name, dtype: 'F32' as const, shape, data: new Uint8Array(values.buffer) };
  };
  const C = d.hidden;
  const tensors = [
    tensor('model.embed_tokens.weight', [d.vocab, C], 1),
    tensor('model.norm.weight', [C], 0, 1),
  ];
  if (!qwen) tensors.push(tensor('lm_head.weight', [d.vocab, C], 1 / Math.sqrt(C)));
  for (let l = 0; l < d.layers; l++) {
    const p = `model.layers.${l}`;
    const proj = (name: string, out: number, inp: number) =>
      tensor(`${p}.${name}.weight`, [out, inp], 1 / Math.sqrt(inp));
    tensors.push(
      tensor(`${p}.input_layernorm.weight`, [C], 0, 1),
      tensor(`${p}.post_attention_layernorm.weight`, [C], 0, 1),
      proj('self_attn.q_proj', d.heads * headDim, C),
      proj('self_attn.k_proj', d.kvHeads * headDim, C),
      proj('self_attn.v_proj', d.kvHeads * headDim, C),
      proj('self_attn.o_proj', C, d.heads * headDim),
      proj('mlp.gate_proj', d.ffn, C),
      proj('mlp.up_proj', d.ffn, C),
      proj('mlp.down_proj', C, d.ffn),
    );
    if (qwen) {
      tensors.push(
        tensor(`${p}.self_attn.q_proj.bias`, [d.heads * headDim], 0.1),
        tensor(`${p}.self_attn.k_proj.bias`, [d.kvHeads * headDim], 0.1),
        tensor(`${p}.self_attn.v_proj.bias`, [d.kvHeads * headDim], 0.1),
      );
    }
  }
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return dir;
}
