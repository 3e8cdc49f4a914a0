// inspectModelFolder on a good tiny model and on each way a downloaded folder goes wrong.
import { cpSync, readFileSync, rmSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SafetensorsReader, writeSafetensors } from '../../../main/core/formats/safetensors.js';
import { ModelError } from '../../../main/core/models/errors.js';
import { inspectModelFolder } from '../../../main/core/models/inspect.js';
import { createTinyModel } from '../../../main/core/models/tiny.js';
import { tempDir } from '../../helpers/cli.js';

let root: string;
let good: string;
let copies = 0;

beforeAll(async () => {
  root = tempDir();
  good = join(root, 'good');
  await createTinyModel({ arch: 'mistral', outDir: good, layers: 1 });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function copy(): string {
  const dir = join(root, `copy-${copies++}`);
  cpSync(good, dir, { recursive: true });
  return dir;
}

function editJson(file: string, edit: (json: Record<string, unknown>) => void) {
  const json = JSON.parse(readFileSync(file, 'utf8'));
  edit(json);
  writeFileSync(file, JSON.stringify(json));
}

/** Rewrite model.safetensors keeping the tensors `keep` accepts, plus `extra`. */
async function rewriteWeights(dir: string, keep: (name: string) => boolean, extra = false) {
  const file = join(dir, 'model.safetensors');
  const reader = await SafetensorsReader.open(file);
  const tensors = [];
  for (const t of reader.tensors.filter((t) => keep(t.name))) {
    tensors.push({ name: t.name, dtype: t.dtype, shape: t.shape, data: await reader.readBytes(t.name) });
  }
  await reader.close();
  if (extra)
    tensors.push({
      name: 'model.rotary_emb.inv_freq',
      dtype: 'F32' as const,
      shape: [1],
      data: new Uint8Array(4),
    });
  await writeSafetensors(file, tensors);
}

describe('inspectModelFolder', () => {
  it('describes a good folder', async () => {
    const r = await inspectModelFolder(good);
    expect(r.problems).toEqual([]);
    expect(r).toMatchObject({
      ok: true,
      architecture: 'mistral',
      dtype: 'F32',
      weights: { kind: 'single', tensorCount: 12 },
      tokenizer: { present: true, hasChatTemplate: true, eosToken: '<|im_end|>', vocabSize: 32002 },
    });
    // embed + lm_head + 1 layer (q 64·64, k/v 32·64, o 64·64, 3 · 128·64, 2 norms) + final norm.
    expect(r.parameterCount).toBe(2 * 32002 * 64 + (4096 + 2 * 2048 + 4096 + 3 * 8192 + 128) + 64);
    expect(r.files.map((f) => f.name)).toContain('model.safetensors');
    expect(r.memory.map((m) => m.seqLen)).toEqual([2048, 4096]);
    expect(r.memory[1]!.estimate.total).toBeGreaterThan(r.memory[0]!.estimate.total);
  });

  it('names a missing tensor and the file', async () => {
    const dir = copy();
    await rewriteWeights(dir, (name) => name !== 'model.layers.0.mlp.up_proj.weight');
    const r = await inspectModelFolder(dir);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual([
      expect.objectContaining({
        severity: 'error',
        file: join(dir, 'model.safetensors'),
        message: expect.stringMatching(/1 tensor is missing: "model.layers.0.mlp.up_proj.weight"/),
      }),
    ]);
  });

  it('only warns about tensors it does not use', async () => {
    const dir = copy();
    await rewriteWeights(dir, () => true, true);
    const r = await inspectModelFolder(dir);
    expect(r.ok).toBe(true);
    expect(r.problems[0]).toMatchObject({
      severity: 'warning',
      message: expect.stringMatching(/"model.rotary_emb.inv_freq"/),
    });
  });

  it('catches weights that do not match config.json', async () => {
    const dir = copy();
    editJson(join(dir, 'config.json'), (c) => {
      c.intermediate_size = 256;
    });
    const r = await inspectModelFolder(dir);
    expect(r.ok).toBe(false);
    const messages = r.problems.map((p) => p.message).join('\n');
    expect(messages).toMatch(
      /"model.layers.0.mlp.gate_proj.weight" has shape \[128, 64\] but config.json implies \[256, 64\]/,
    );
  });

  it('reports a truncated download with the file name', async () => {
    const dir = copy();
    const file = join(dir, 'model.safetensors');
    truncateSync(file, readFileSync(file).length - 100);
    const r = await inspectModelFolder(dir);
    expect(r.ok).toBe(false);
    expect(r.problems[0]).toMatchObject({ file, message: expect.stringContaining(`${file}: tensor`) });
  });

  it('needs tokenizer.json; a missing chat template is only a warning', async () => {
    const dir = copy();
    unlinkSync(join(dir, 'tokenizer.json'));
    editJson(join(dir, 'tokenizer_config.json'), (c) => {
      delete c.chat_template;
    });
    const r = await inspectModelFolder(dir);
    expect(r.ok).toBe(false);
    expect(r.tokenizer).toMatchObject({ present: false, hasChatTemplate: false });
    expect(r.problems.map((p) => [p.severity, p.file])).toEqual([
      ['error', join(dir, 'tokenizer.json')],
      ['warning', join(dir, 'tokenizer_config.json')],
    ]);
  });

  it('finds a chat template kept in chat_template.jinja', async () => {
    const dir = copy();
    editJson(join(dir, 'tokenizer_config.json'), (c) => {
      delete c.chat_template;
    });
    writeFileSync(join(dir, 'chat_template.jinja'), '{{ messages }}');
    expect((await inspectModelFolder(dir)).tokenizer.hasChatTemplate).toBe(true);
  });

  it('rejects a tokenizer larger than the embedding table', async () => {
    const dir = copy();
    editJson(join(dir, 'config.json'), (c) => {
      c.vocab_size = 32000;
    });
    const r = await inspectModelFolder(dir);
    const messages = r.problems.map((p) => p.message).join('\n');
    expect(messages).toMatch(/the tokenizer has 32002 tokens but config.json's vocab_size is 32000/);
  });

  it('rejects an unsupported architecture, still describing the rest', async () => {
    const dir = copy();
    editJson(join(dir, 'config.json'), (c) => {
      c.model_type = 'phi3';
    });
    const r = await inspectModelFolder(dir);
    expect(r.ok).toBe(false);
    expect(r.architecture).toBeNull();
    expect(r.tokenizer.present).toBe(true);
    expect(r.problems[0]?.message).toMatch(/model_type "phi3" is not supported.*llama, mistral, qwen2/);
  });

  it('warns when config.json names another head than the causal LM', async () => {
    const dir = copy();
    editJson(join(dir, 'config.json'), (c) => {
      c.architectures = ['MistralForSequenceClassification'];
    });
    const r = await inspectModelFolder(dir);
    expect(r.ok).toBe(true);
    expect(r.problems[0]?.message).toMatch(/says MistralForSequenceClassification, not MistralForCausalLM/);
  });

  it('flags RoPE scaling the engine does not implement', async () => {
    const dir = copy();
    editJson(join(dir, 'config.json'), (c) => {
      c.rope_scaling = { rope_type: 'yarn', factor: 4 };
    });
    const r = await inspectModelFolder(dir);
    expect(r.problems[0]?.message).toMatch(/rope_scaling type "yarn" is not supported/);
  });

  it('reads a sharded copy of the same model', async () => {
    const dir = copy();
    const reader = await SafetensorsReader.open(join(dir, 'model.safetensors'));
    const all = [];
    for (const t of reader.tensors)
      all.push({ name: t.name, dtype: t.dtype, shape: t.shape, data: await reader.readBytes(t.name) });
    await reader.close();
    unlinkSync(join(dir, 'model.safetensors'));
    const shards = ['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors'];
    const weightMap: Record<string, string> = {};
    const half = Math.ceil(all.length / 2);
    for (const [i, part] of [all.slice(0, half), all.slice(half)].entries()) {
      await writeSafetensors(join(dir, shards[i]!), part, { format: 'pt' });
      for (const t of part) weightMap[t.name] = shards[i]!;
    }
    const totalSize = all.reduce((n, t) => n + t.data.length, 0);
    writeFileSync(
      join(dir, 'model.safetensors.index.json'),
      JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }),
    );
    const r = await inspectModelFolder(dir);
    expect(r.problems).toEqual([]);
    expect(r.weights).toEqual({ kind: 'sharded', tensorCount: 12 });
  });

  it('throws for a path that is not a folder', async () => {
    await expect(inspectModelFolder(join(root, 'nope'))).rejects.toBeInstanceOf(ModelError);
    await expect(inspectModelFolder(join(good, 'config.json'))).rejects.toThrow(
      /config.json is not a folder/,
    );
  });
});
