// The tiny-model factory: byte-identical output per seed, the weights it promises, a tokenizer the
// data path can use, and no overwriting.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floatToBf16, SafetensorsReader } from '../../../main/core/formats/safetensors.js';
import { parseModelConfig } from '../../../main/core/models/config.js';
import { ModelError } from '../../../main/core/models/errors.js';
import { expectedTensors } from '../../../main/core/models/tensor-names.js';
import { createTinyModel, tinyConfigJson, tinyDimsProblem } from '../../../main/core/models/tiny.js';
import { tempDir } from '../../helpers/cli.js';

const FILES = [
  'config.json',
  'generation_config.json',
  'model.safetensors',
  'tokenizer.json',
  'tokenizer_config.json',
];

describe('createTinyModel (mistral, the smallest vocabulary)', () => {
  let root: string;
  let first: string;
  beforeAll(async () => {
    root = tempDir();
    first = join(root, 'a');
    await createTinyModel({ arch: 'mistral', outDir: first, seed: 7 });
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('writes the five files of a Hugging Face folder', () => {
    expect(readdirSync(first).sort()).toEqual(FILES);
    expect(readdirSync(root)).toEqual(['a']); // no temporary folder left behind
  });

  it('gives byte-identical files for the same seed, other weights for another seed', async () => {
    const again = join(root, 'b');
    const other = join(root, 'c');
    await createTinyModel({ arch: 'mistral', outDir: again, seed: 7 });
    await createTinyModel({ arch: 'mistral', outDir: other, seed: 8 });
    for (const file of FILES)
      expect(readFileSync(join(again, file)).equals(readFileSync(join(first, file)))).toBe(true);
    expect(
      readFileSync(join(other, 'model.safetensors')).equals(readFileSync(join(first, 'model.safetensors'))),
    ).toBe(false);
    expect(readFileSync(join(other, 'config.json'), 'utf8')).toBe(
      readFileSync(join(first, 'config.json'), 'utf8'),
    );
  });

  it('holds every expected tensor: norms 1, matrices N(0, 0.02)', async () => {
    const config = parseModelConfig(JSON.parse(readFileSync(join(first, 'config.json'), 'utf8')));
    const reader = await SafetensorsReader.open(join(first, 'model.safetensors'));
    try {
      expect(reader.header.metadata).toEqual({ format: 'pt' });
      const expected = expectedTensors(config);
      expect(reader.tensors.map((t) => t.name).sort()).toEqual(expected.map((t) => t.name).sort());
      for (const t of expected) expect(reader.tensor(t.name)).toMatchObject({ dtype: 'F32', shape: t.shape });
      const norm = await reader.readFloat32('model.layers.1.post_attention_layernorm.weight');
      expect(norm.every((v) => v === 1)).toBe(true);
      const embed = await reader.readFloat32('model.embed_tokens.weight');
      const mean = embed.reduce((s, v) => s + v, 0) / embed.length;
      const std = Math.sqrt(embed.reduce((s, v) => s + (v - mean) ** 2, 0) / embed.length);
      expect(Math.abs(mean)).toBeLessThan(1e-4);
      expect(std).toBeGreaterThan(0.0198);
      expect(std).toBeLessThan(0.0202);
      // Tensors get their own streams: no two layers share values.
      const q0 = await reader.readFloat32('model.layers.0.self_attn.q_proj.weight');
      const q1 = await reader.readFloat32('model.layers.1.self_attn.q_proj.weight');
      expect(q0[0]).not.toBe(q1[0]);
    } finally {
      await reader.close();
    }
  });

  it('bf16 weights are the f32 weights rounded to bf16', async () => {
    const bf16Dir = join(root, 'bf16');
    await createTinyModel({ arch: 'mistral', outDir: bf16Dir, seed: 7, dtype: 'bf16' });
    const config = JSON.parse(readFileSync(join(bf16Dir, 'config.json'), 'utf8'));
    expect(config.torch_dtype).toBe('bfloat16');
    const f32 = await SafetensorsReader.open(join(first, 'model.safetensors'));
    const bf16 = await SafetensorsReader.open(join(bf16Dir, 'model.safetensors'));
    try {
      const name = 'model.layers.0.mlp.down_proj.weight';
      expect(bf16.tensor(name).dtype).toBe('BF16');
      const wide = await f32.readFloat32(name);
      const bits = await bf16.readBytes(name);
      for (let i = 0; i < wide.length; i++) expect(bits.readUInt16LE(i * 2)).toBe(floatToBf16(wide[i]!));
    } finally {
      await f32.close();
      await bf16.close();
    }
  });

  it('ships the SentencePiece vocabulary with ChatML tokens and template, usable by the data path', () => {
    const config = JSON.parse(readFileSync(join(first, 'config.json'), 'utf8'));
    const tokenizerJson = JSON.parse(readFileSync(join(first, 'tokenizer.json'), 'utf8'));
    const tokenizerConfig = JSON.parse(readFileSync(join(first, 'tokenizer_config.json'), 'utf8'));
    expect(config.vocab_size).toBe(32002); // 32000 pieces + <|im_end|> + <|im_start|>
    expect(tokenizerConfig.chat_template).toContain('<|im_start|>');
    expect(tokenizerConfig.eos_token).toBe('<|im_end|>');
    expect(config.eos_token_id).toBe(32000);
    const tokenizer = new Tokenizer(tokenizerJson, tokenizerConfig);
    const { ids } = tokenizer.encode('<|im_start|>user\nhi<|im_end|>\n');
    expect(ids).toContain(32001);
    expect(ids).toContain(32000);
    expect(Math.max(...ids)).toBeLessThan(config.vocab_size);
    const generation = JSON.parse(readFileSync(join(first, 'generation_config.json'), 'utf8'));
    expect(generation.eos_token_id).toBe(32000);
  });

  it('refuses a folder that holds files and leaves them alone; fills an empty one', async () => {
    const busy = join(root, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'notes.txt'), 'mine');
    const err = await createTinyModel({ arch: 'mistral', outDir: busy }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelError);
    expect((err as ModelError).message).toMatch(
      /busy already holds files; Tunesmith will not overwrite them/,
    );
    expect(readdirSync(busy)).toEqual(['notes.txt']);
    const empty = join(root, 'empty');
    mkdirSync(empty);
    await createTinyModel({ arch: 'mistral', outDir: empty, layers: 1 });
    expect(readdirSync(empty).sort()).toEqual(FILES);
  });
});

describe('tiny Qwen2 with the Qwen3 tokenizer', () => {
  it('is tied, has q/k/v biases and the tokenizer’s full vocabulary', async () => {
    const parent = tempDir();
    const dir = join(parent, 'q');
    const model = await createTinyModel({
      arch: 'qwen2',
      outDir: dir,
      hidden: 16,
      heads: 2,
      kvHeads: 1,
      ffn: 32,
      layers: 1,
    });
    expect(model.config).toMatchObject({ tieWordEmbeddings: true, attentionBias: true, vocabSize: 151669 });
    const tokenizerConfig = JSON.parse(readFileSync(join(dir, 'tokenizer_config.json'), 'utf8'));
    expect(model.chatTemplateAdded).toBe(false);
    expect(tokenizerConfig.chat_template).toContain('<|im_start|>');
    const reader = await SafetensorsReader.open(join(dir, 'model.safetensors'));
    expect(reader.tensors.some((t) => t.name === 'lm_head.weight')).toBe(false);
    expect(reader.tensor('model.layers.0.self_attn.k_proj.bias').shape).toEqual([8]);
    await reader.close();
    rmSync(parent, { recursive: true, force: true });
  });
});

describe('tiny configs', () => {
  const dims = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 128, dtype: 'f32' as const };
  const tokenizer = { vocabSize: 128256, bosTokenId: 128000, eosTokenId: 128001, name: 'llama3' as const };

  it('llama with the Llama-3 tokenizer gets Llama-3.1 RoPE scaling', () => {
    const c = parseModelConfig(tinyConfigJson('llama', dims, tokenizer));
    expect(c).toMatchObject({
      className: 'LlamaForCausalLM',
      ropeTheta: 500000,
      ropeScaling: { type: 'llama3', factor: 8 },
    });
  });

  it('mistral keeps a sliding window', () => {
    const c = parseModelConfig(tinyConfigJson('mistral', dims, { ...tokenizer, name: 'mistral' }));
    expect(c).toMatchObject({
      className: 'MistralForCausalLM',
      slidingWindow: 4096,
      tieWordEmbeddings: false,
    });
  });

  it.each([
    [{ hidden: 60 }, /hidden \(60\) must be heads \(4\) × an even head size/],
    [{ kvHeads: 3 }, /heads \(4\) must be a multiple of kv-heads \(3\)/],
    [{ layers: 0 }, /layers must be a whole number ≥ 1/],
    [{ seed: -1 }, /seed must be a whole number/],
  ])('explains impossible sizes %o', (change, message) => {
    expect(tinyDimsProblem({ ...dims, seed: 0, ...change })).toMatch(message);
  });
});
