// config.json → ModelConfig, and the tensor table's names, shapes and parameter counts checked
// against the published sizes of real checkpoints.
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../main/core/models/config.js';
import { ModelError } from '../../../main/core/models/errors.js';
import { expectedTensors, parameterCount } from '../../../main/core/models/tensor-names.js';

// Shapes from the public config.json files of these models.
const LLAMA_31_8B = {
  architectures: ['LlamaForCausalLM'],
  model_type: 'llama',
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  vocab_size: 128256,
  rms_norm_eps: 1e-5,
  rope_theta: 500000.0,
  rope_scaling: {
    factor: 8.0,
    low_freq_factor: 1.0,
    high_freq_factor: 4.0,
    original_max_position_embeddings: 8192,
    rope_type: 'llama3',
  },
  max_position_embeddings: 131072,
  tie_word_embeddings: false,
  bos_token_id: 128000,
  eos_token_id: [128001, 128008, 128009],
  torch_dtype: 'bfloat16',
};
const LLAMA_32_1B = {
  ...LLAMA_31_8B,
  hidden_size: 2048,
  intermediate_size: 8192,
  num_hidden_layers: 16,
  head_dim: 64,
  tie_word_embeddings: true,
};
const MISTRAL_7B = {
  architectures: ['MistralForCausalLM'],
  model_type: 'mistral',
  hidden_size: 4096,
  intermediate_size: 14336,
  num_hidden_layers: 32,
  num_attention_heads: 32,
  num_key_value_heads: 8,
  vocab_size: 32000,
  rms_norm_eps: 1e-5,
  rope_theta: 10000.0,
  sliding_window: 4096,
  max_position_embeddings: 32768,
};
const QWEN25_05B = {
  architectures: ['Qwen2ForCausalLM'],
  model_type: 'qwen2',
  hidden_size: 896,
  intermediate_size: 4864,
  num_hidden_layers: 24,
  num_attention_heads: 14,
  num_key_value_heads: 2,
  vocab_size: 151936,
  rms_norm_eps: 1e-6,
  rope_theta: 1000000.0,
  sliding_window: 32768,
  use_sliding_window: false,
  max_window_layers: 21,
  tie_word_embeddings: true,
  bos_token_id: 151643,
  eos_token_id: 151643,
};

describe('parseModelConfig', () => {
  it('reads a Llama-3.1 config with llama3 RoPE scaling and several eos ids', () => {
    const c = parseModelConfig(LLAMA_31_8B);
    expect(c).toMatchObject({
      architecture: 'llama',
      className: 'LlamaForCausalLM',
      hiddenSize: 4096,
      numKvHeads: 8,
      headDim: 128,
      rmsNormEps: 1e-5,
      ropeTheta: 500000,
      ropeScaling: {
        type: 'llama3',
        factor: 8,
        lowFreqFactor: 1,
        highFreqFactor: 4,
        originalMaxPositionEmbeddings: 8192,
      },
      maxPositionEmbeddings: 131072,
      tieWordEmbeddings: false,
      attentionBias: false,
      slidingWindow: null,
      torchDtype: 'bfloat16',
      bosTokenId: 128000,
      eosTokenIds: [128001, 128008, 128009],
    });
  });

  it('takes head_dim from the file when it is not hidden / heads', () => {
    expect(parseModelConfig({ ...MISTRAL_7B, hidden_size: 5120, head_dim: 128 }).headDim).toBe(128);
    expect(parseModelConfig({ ...MISTRAL_7B, hidden_size: 5120 }).headDim).toBe(160);
  });

  it('applies the config-class defaults: kv heads = heads, Mistral window 4096 unless null', () => {
    const c = parseModelConfig({ ...MISTRAL_7B, num_key_value_heads: null, sliding_window: undefined });
    expect(c.numKvHeads).toBe(32);
    expect(c.slidingWindow).toBe(4096);
    expect(c.rmsNormEps).toBe(1e-5);
    expect(parseModelConfig({ ...MISTRAL_7B, sliding_window: null }).slidingWindow).toBeNull();
  });

  it('Qwen2: biases always, sliding window only with use_sliding_window', () => {
    const c = parseModelConfig(QWEN25_05B);
    expect(c).toMatchObject({
      attentionBias: true,
      tieWordEmbeddings: true,
      slidingWindow: null,
      maxWindowLayers: 21,
    });
    expect(parseModelConfig({ ...QWEN25_05B, use_sliding_window: true }).slidingWindow).toBe(32768);
  });

  it('reads transformers v5 rope_parameters', () => {
    const { rope_theta: _, rope_scaling: __, ...rest } = LLAMA_31_8B;
    const c = parseModelConfig({
      ...rest,
      rope_parameters: { ...LLAMA_31_8B.rope_scaling, rope_theta: 500000 },
    });
    expect(c.ropeTheta).toBe(500000);
    expect(c.ropeScaling?.type).toBe('llama3');
    const plain = parseModelConfig({ ...rest, rope_parameters: { rope_type: 'default', rope_theta: 10000 } });
    expect(plain.ropeScaling).toBeNull();
  });

  it('refuses an unsupported model_type and lists the supported ones', () => {
    const err = (() => {
      try {
        parseModelConfig({ ...MISTRAL_7B, model_type: 'gemma2' }, '/m/config.json');
      } catch (e) {
        return e as ModelError;
      }
    })();
    expect(err).toBeInstanceOf(ModelError);
    expect(err?.code).toBe('unsupported-architecture');
    expect(err?.message).toMatch(/\/m\/config.json: model_type "gemma2" is not supported/);
    expect(err?.message).toMatch(/llama, mistral, qwen2/);
  });

  it.each([
    [
      'a missing shape field',
      { ...MISTRAL_7B, hidden_size: undefined },
      /"hidden_size" must be a whole number ≥ 1, found null/,
    ],
    [
      'heads not a multiple of kv heads',
      { ...MISTRAL_7B, num_key_value_heads: 5 },
      /must be a multiple of num_key_value_heads \(5\)/,
    ],
    ['an odd head size', { ...MISTRAL_7B, hidden_size: 4128 }, /head size \(129\) must be an even/],
    ['another activation', { ...MISTRAL_7B, hidden_act: 'gelu' }, /hidden_act "gelu" is not supported/],
    ['a bad eos id', { ...MISTRAL_7B, eos_token_id: ['x'] }, /"eos_token_id" must be a token id/],
    ['not an object', [1, 2], /not a JSON object/],
  ])('names the field for %s', (_, json, message) => {
    expect(() => parseModelConfig(json, '/m/config.json')).toThrow(message);
  });
});

describe('tensor table', () => {
  it('lists a Llama layer in HF and GGUF names, with torch shapes', () => {
    const c = parseModelConfig({ ...MISTRAL_7B, num_hidden_layers: 1 });
    const tensors = expectedTensors(c);
    expect(tensors.map((t) => t.name)).toEqual([
      'model.embed_tokens.weight',
      'model.layers.0.input_layernorm.weight',
      'model.layers.0.self_attn.q_proj.weight',
      'model.layers.0.self_attn.k_proj.weight',
      'model.layers.0.self_attn.v_proj.weight',
      'model.layers.0.self_attn.o_proj.weight',
      'model.layers.0.post_attention_layernorm.weight',
      'model.layers.0.mlp.gate_proj.weight',
      'model.layers.0.mlp.up_proj.weight',
      'model.layers.0.mlp.down_proj.weight',
      'model.norm.weight',
      'lm_head.weight',
    ]);
    const byName = new Map(tensors.map((t) => [t.name, t]));
    expect(byName.get('model.layers.0.self_attn.k_proj.weight')).toMatchObject({
      gguf: 'blk.0.attn_k.weight',
      shape: [1024, 4096],
    });
    expect(byName.get('model.layers.0.mlp.down_proj.weight')).toMatchObject({
      gguf: 'blk.0.ffn_down.weight',
      shape: [4096, 14336],
    });
    expect(byName.get('lm_head.weight')).toMatchObject({ gguf: 'output.weight', shape: [32000, 4096] });
  });

  it('Qwen2 has q/k/v biases and, tied, no lm_head', () => {
    const names = expectedTensors(parseModelConfig({ ...QWEN25_05B, num_hidden_layers: 1 })).map(
      (t) => t.name,
    );
    expect(names).toContain('model.layers.0.self_attn.q_proj.bias');
    expect(names).toContain('model.layers.0.self_attn.v_proj.bias');
    expect(names).not.toContain('model.layers.0.self_attn.o_proj.bias');
    expect(names).not.toContain('lm_head.weight');
  });

  // Published parameter counts of the real checkpoints.
  it.each([
    ['Qwen2.5-0.5B', QWEN25_05B, 494_032_768],
    ['Llama-3.2-1B', LLAMA_32_1B, 1_235_814_400],
    ['Llama-3.1-8B', LLAMA_31_8B, 8_030_261_248],
    ['Mistral-7B-v0.1', MISTRAL_7B, 7_241_732_096],
  ])('counts %s parameters', (_, json, count) => {
    expect(parameterCount(parseModelConfig(json))).toBe(count);
  });
});
