// The QLoRA memory estimate against numbers worked out by hand, and the M7 workload's target.
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../main/core/models/config.js';
import { CUDA_CONTEXT_BYTES, estimateTrainingMemory } from '../../../main/core/models/memory.js';

// d 64, 2 layers, 4 heads of 16 (q 64), 2 KV heads (kv 32), ffn 128, vocab 1000, untied.
const SMALL = parseModelConfig({
  model_type: 'llama',
  hidden_size: 64,
  intermediate_size: 128,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  vocab_size: 1000,
});

describe('estimateTrainingMemory (hand-computed, d 64, L 2, T = 2 × 16, r 4, bf16 on the GPU)', () => {
  const base = { seqLen: 16, microBatch: 2, loraRank: 4, device: 'cuda' as const };

  it('without checkpointing', () => {
    const e = estimateTrainingMemory(SMALL, { ...base, gradientCheckpointing: false });
    // Linear numels per layer: q 4096, k 2048, v 2048, o 4096, gate/up/down 8192 each = 36864.
    // NF4: 36864 / 2 = 18432 bytes + absmax 4 × (64 + 32 + 32 + 64 + 3·128 = 576 blocks) = 2304 → 20736 × 2.
    expect(e.details.nf4Weights).toBe(41472);
    expect(e.details.embeddings).toBe(1000 * 64 * 2 * 2); // embed + lm_head in bf16
    expect(e.details.normsAndBiases).toBe(5 * 64 * 4); // 2 per layer + final, f32
    expect(e.weights).toBe(41472 + 256000 + 1280);
    // LoRA per layer: 4·(64+64) + 4·(64+32)·2 + 4·(64+64) + 4·(64+128)·3 = 4096; × 2 layers.
    expect(e.details.loraParameters).toBe(8192);
    expect(e.lora).toBe(8192 * 8); // f32 weights + f32 grads
    expect(e.optimizer).toBe(8192 * 8); // two f32 moments
    // Per token per layer: 2·(4·64 + 2·64 + 2·32 + 3·128 + 4·7) + 4·(2 + 4 heads) = 1744 bytes; T = 32.
    expect(e.details.savedPerLayer).toBe(32 * 1744);
    expect(e.activations).toBe(2 * 55808 + 2 * 32 * 64 * 2);
    // Logits 32 × 1000 f32, dequantized gate 8192 bf16, scratch 32·(128 + 256)·2, CUDA context.
    expect(e.details.logitsChunk).toBe(128000);
    expect(e.details.dequantBuffer).toBe(16384);
    expect(e.details.backwardScratch).toBe(24576);
    expect(e.workspace).toBe(128000 + 16384 + 24576 + CUDA_CONTEXT_BYTES);
    expect(e.total).toBe(298752 + 65536 + 65536 + 119808 + 128000 + 16384 + 24576 + CUDA_CONTEXT_BYTES);
  });

  it('with checkpointing keeps one input per layer plus one recomputed layer', () => {
    const e = estimateTrainingMemory(SMALL, { ...base, gradientCheckpointing: true });
    expect(e.activations).toBe(2 * 32 * 64 * 2 + 55808 + 2 * 32 * 64 * 2);
  });

  it('double quantization: one u8 per block, an f32 scale per 256 blocks and an offset', () => {
    const e = estimateTrainingMemory(SMALL, { ...base, doubleQuant: true });
    // absmax per layer: q 64+4+4, k 32+4+4, v 40, o 72, gate/up/down 128+4+4 each = 632.
    expect(e.details.nf4Weights).toBe(2 * (18432 + 632));
  });

  it('on the CPU: f32 embeddings and activations, no CUDA context', () => {
    const e = estimateTrainingMemory(SMALL, { ...base, device: 'cpu' });
    expect(e.details.embeddings).toBe(1000 * 64 * 4 * 2);
    expect(e.details.runtime).toBe(0);
  });

  it('LoRA on fewer projections trains fewer parameters', () => {
    const e = estimateTrainingMemory(SMALL, { ...base, loraTargets: ['q_proj', 'v_proj'] });
    expect(e.details.loraParameters).toBe(2 * (4 * 128 + 4 * 96));
  });
});

describe('M7 (Mistral-7B shape, r 16 on all seven, micro-batch 1 × 2048)', () => {
  const m7 = parseModelConfig({
    model_type: 'mistral',
    hidden_size: 4096,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    intermediate_size: 14336,
    vocab_size: 32000,
  });

  it('fits the 7 GB target with checkpointing, and does not without it', () => {
    const withCheckpointing = estimateTrainingMemory(m7, { seqLen: 2048 });
    expect(withCheckpointing.total).toBeLessThan(7e9);
    // NF4 weights ≈ 0.5625 bytes × 6.98 B linear parameters.
    expect(withCheckpointing.details.nf4Weights / 1e9).toBeCloseTo(3.926, 2);
    expect(withCheckpointing.details.loraParameters).toBe(41_943_040);
    const without = estimateTrainingMemory(m7, { seqLen: 2048, gradientCheckpointing: false });
    expect(without.total).toBeGreaterThan(2 * withCheckpointing.total);
  });
});
