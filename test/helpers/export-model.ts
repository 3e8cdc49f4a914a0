// Tiny models for export tests: the tiny-model factory's folder (real tokenizer and config, so the
// GGUF carries a real vocabulary) with weights rescaled like a trained model's (embeddings N(0,1),
// projections N(0, 1/in), norms near 1, biases 0.1·N), so next-token distributions are peaked and a
// wrong permutation or scale shows in the probabilities. Plus a short fine-tune that teaches one reply.
import path from 'node:path';
import { endTokenId } from '../../main/core/data/audit.js';
import { createTemplate } from '../../main/core/data/template/index.js';
import { loadModelTokenizer } from '../../main/core/data/tokenize.js';
import { defaultTemplate, promptIds } from '../../main/core/engine/generate.js';
import { loadNative } from '../../main/core/engine/native.js';
import { writeSafetensors } from '../../main/core/formats/safetensors.js';
import type { Architecture } from '../../main/core/models/config.js';
import { expectedTensors } from '../../main/core/models/tensor-names.js';
import { createTinyModel } from '../../main/core/models/tiny.js';

function normals(seed: number): () => number {
  let s = (seed * 2654435761 + 1) >>> 0;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
}

export async function exportTestModel(arch: Architecture, dir: string, seed = 1): Promise<string> {
  const tiny = await createTinyModel({
    arch,
    outDir: dir,
    seed,
    hidden: 64,
    heads: 4,
    kvHeads: 2,
    ffn: 128,
    layers: 2,
  });
  const next = normals(seed);
  const tensors = expectedTensors(tiny.config).map((t) => {
    const values = new Float32Array(t.shape.reduce((a, b) => a * b, 1));
    const vector = t.shape.length === 1;
    const norm = t.name.endsWith('norm.weight');
    const scale = t.role.role === 'token_embd' ? 1 : vector ? 0.1 : 1 / Math.sqrt(t.shape[1]!);
    for (let i = 0; i < values.length; i++) values[i] = (norm ? 1 : 0) + scale * next();
    return { name: t.name, dtype: 'F32' as const, shape: t.shape, data: new Uint8Array(values.buffer) };
  });
  await writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { format: 'pt' });
  return dir;
}

/** Trains a LoRA on one conversation until it says `reply`, and saves the PEFT folder. */
export async function trainTestAdapter(modelDir: string, adapterDir: string, reply = 'ok ok'): Promise<void> {
  const tokenizer = loadModelTokenizer(modelDir);
  const template = createTemplate(defaultTemplate(tokenizer), tokenizer.context, tokenizer.specialTokens);
  const prompt = promptIds(tokenizer, template, [{ role: 'user', content: 'Hello! What can you do?' }]);
  const answer = [
    ...tokenizer.tokenizer.encode(reply, { add_special_tokens: false }).ids,
    endTokenId(tokenizer, template),
  ];
  const tokens = Int32Array.from([...prompt, ...answer]);
  const trained = Uint8Array.from(tokens, (_, i) => (i >= prompt.length ? 1 : 0));
  const session = await loadNative().loadModel({
    modelDir,
    quant: 'none',
    lora: { r: 8, alpha: 16 },
    maxSeqLen: 64,
    threads: 1,
  });
  try {
    for (let i = 0; i < 40; i++) {
      await session.step({ tokens, trained, seqLens: Int32Array.of(tokens.length) });
      await session.optimizerStep({ lr: 1e-2 });
    }
    await session.saveAdapter(adapterDir);
  } finally {
    session.dispose();
  }
}
