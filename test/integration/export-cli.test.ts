// `tunesmith export` through the built CLI on a tiny Mistral fine-tune: GGUF Q8_0 base verified in
// llama.cpp, the PEFT folder, an existing --out refused and replaced with --force, bad adapters and
// bad options with what to do, and a full disk leaving nothing behind.
import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ExportError } from '../../main/core/export/errors.js';
import { exportModel } from '../../main/core/export/export.js';
import { GgmlType, readGguf } from '../../main/core/formats/gguf.js';
import { writeSafetensors } from '../../main/core/formats/safetensors.js';
import { openHome } from '../../main/core/home.js';
import { openStore } from '../../main/core/store/index.js';
import { REPO_ROOT, runCli, tempDir } from '../helpers/cli.js';
import { exportTestModel, trainTestAdapter } from '../helpers/export-model.js';

describe('tunesmith export', () => {
  const work = tempDir('tunesmith-export-cli-');
  const model = join(work, 'model');
  const adapter = join(work, 'adapter');

  beforeAll(async () => {
    await exportTestModel('mistral', model);
    await trainTestAdapter(model, adapter);
  });

  it('writes a Q8_0 base GGUF that llama.cpp loads and agrees with, within Q8_0 rounding', async () => {
    const out = join(work, 'q8');
    const r = runCli([
      'export',
      '--model',
      model,
      '--format',
      'gguf-base',
      '--dtype',
      'q8_0',
      '--out',
      out,
      '--verify',
      '--json',
    ]);
    expect(r.status, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout) as {
      verification: { passed: boolean; checks: Array<{ name: string; maxAbsProbDiff: number }> };
    };
    expect(result.verification.passed).toBe(true);
    expect(result.verification.checks[0]!.name).toBe('base-probabilities');
    const file = await readGguf(join(out, 'model.gguf'));
    const type = (name: string) => file.tensors.find((t) => t.name === name)?.type;
    expect(type('blk.0.attn_q.weight')).toBe(GgmlType.Q8_0);
    expect(type('blk.0.attn_norm.weight')).toBe(GgmlType.F32);
    expect(file.kv.get('general.architecture')).toMatchObject({ value: 'llama' });
    expect(file.kv.get('tokenizer.ggml.model')).toMatchObject({ value: 'llama' });
    expect(file.kv.get('llama.attention.head_count_kv')).toMatchObject({ value: 2 });
  });

  it('exports the PEFT folder with an integer lora_alpha and the base model path', () => {
    const out = join(work, 'peft');
    const r = runCli(['export', '--model', model, '--adapter', adapter, '--format', 'peft', '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/adapter_model\.safetensors/);
    const text = readFileSync(join(out, 'adapter_config.json'), 'utf8');
    expect(text).toMatch(/"lora_alpha": 16,/);
    expect(JSON.parse(text)).toMatchObject({
      r: 8,
      peft_type: 'LORA',
      inference_mode: true,
      base_model_name_or_path: model,
    });
    expect(readFileSync(join(out, 'adapter_model.safetensors'))).toEqual(
      readFileSync(join(adapter, 'adapter_model.safetensors')),
    );
  });

  it('writes the Modelfile TEMPLATE of the template the adapter was trained with', () => {
    const ollama = (template: string) => {
      const out = join(work, `ollama-${template}`);
      const r = runCli([
        'export',
        '--model',
        model,
        '--adapter',
        adapter,
        '--format',
        'ollama',
        '--template',
        template,
        '--out',
        out,
      ]);
      expect(r.status, r.stderr).toBe(0);
      return readFileSync(join(out, 'Modelfile'), 'utf8');
    };
    const alpaca = ollama('alpaca');
    expect(alpaca).toMatch(/### Instruction:/);
    expect(alpaca).not.toMatch(/<\|im_start\|>/);
    expect(ollama('chatml')).toMatch(/<\|im_start\|>/);
    const bad = runCli([
      'export',
      '--model',
      model,
      '--format',
      'ollama',
      '--template',
      'vicuna',
      '--out',
      join(work, 'x'),
    ]);
    expect(bad.status).toBe(2);
  });

  it('refuses an existing --out folder, and replaces it with --force', () => {
    const out = join(work, 'peft-again');
    const args = ['export', '--model', model, '--adapter', adapter, '--format', 'gguf-adapter', '--out', out];
    expect(runCli(args).status).toBe(0);
    writeFileSync(join(out, 'mine.txt'), 'keep?');
    const refused = runCli(args);
    expect(refused.status).toBe(1);
    expect(refused.stderr).toMatch(/already exists[\s\S]*--force/);
    expect(existsSync(join(out, 'mine.txt'))).toBe(true);
    expect(runCli([...args, '--force']).status).toBe(0);
    expect(readdirSync(out)).toEqual(['adapter.gguf']);
  });

  it('says what to do with an adapter GGUF cannot carry, and with bad options', async () => {
    const embedded = join(work, 'embedded');
    cpSync(adapter, embedded, { recursive: true });
    await writeSafetensors(join(embedded, 'adapter_model.safetensors'), [
      {
        name: 'base_model.model.model.embed_tokens.lora_embedding_A',
        dtype: 'F32',
        shape: [8, 4],
        data: new Uint8Array(128),
      },
    ]);
    const r = runCli([
      'export',
      '--model',
      model,
      '--adapter',
      embedded,
      '--format',
      'gguf-adapter',
      '--out',
      join(work, 'x'),
    ]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/trained embeddings[\s\S]*--format gguf-merged/);
    expect(runCli(['export', '--model', model, '--format', 'zip', '--out', join(work, 'y')]).stderr).toMatch(
      /--format must be one of/,
    );
    expect(runCli(['export', '--model', model, '--format', 'gguf-base']).status).toBe(2);
    const noAdapter = runCli(['export', '--model', model, '--format', 'peft', '--out', join(work, 'z')]);
    expect(noAdapter.status).toBe(1);
    expect(noAdapter.stderr).toMatch(/needs an adapter/);
    expect(existsSync(join(work, 'x')) || existsSync(join(work, 'z'))).toBe(false);
  });

  it('a full disk: a clear message, no partial files, the old export untouched', async () => {
    const out = join(work, 'full');
    await exportModel({ modelDir: model, adapterDir: adapter, format: 'gguf-adapter', outDir: out });
    const before = readFileSync(join(out, 'adapter.gguf'));
    let writes = 0;
    const err = await exportModel({
      modelDir: model,
      format: 'gguf-base',
      outDir: out,
      force: true,
      write: {
        writeBuffer: async (handle, bytes) => {
          if (++writes > 3)
            throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
          await handle.write(bytes);
        },
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ExportError);
    expect((err as ExportError).code).toBe('disk-full');
    expect((err as ExportError).hint).toMatch(/Free some disk space/);
    expect(readdirSync(work).filter((f) => f.includes('.partial-'))).toEqual([]);
    expect(readFileSync(join(out, 'adapter.gguf'))).toEqual(before);
  });
});

describe('tunesmith export RUN_ID', () => {
  const work = tempDir('tunesmith-export-run-');
  const model = join(work, 'model');
  const homeDir = join(work, 'home');
  const home = ['--home', homeDir];

  beforeAll(async () => {
    await exportTestModel('qwen2', model);
    const train = runCli([
      'train', ...home, '--model', model, '--data', join(REPO_ROOT, 'resources/samples/reference-sample.csv'),
      '--preset', 'quick', '--backend', 'cpu', '--set', 'threads=1', '--set', 'maxLen=128', '--set', 'maxSteps=4',
      '--set', 'checkpointEvery=2', '--set', 'evalEvery=2', '--set', 'samples=0', '--json',
    ]); // biome-ignore format: flag/value pairs
    expect(train.status, train.stderr).toBe(0);
  });

  it('exports a checkpoint of a run as an Ollama folder, verified, and records it', () => {
    const out = join(work, 'ollama');
    const r = runCli([
      'export',
      '1',
      ...home,
      '--checkpoint',
      '2',
      '--format',
      'ollama',
      '--dtype',
      'f32',
      '--out',
      out,
      '--verify',
      '--json',
    ]);
    expect(r.status, r.stderr || r.stdout).toBe(0);
    const result = JSON.parse(r.stdout) as {
      verification: { passed: boolean; checks: Array<{ name: string }> };
    };
    expect(result.verification.checks.map((c) => c.name)).toEqual([
      'base-probabilities',
      'adapter-probabilities',
      'adapter-generation',
    ]);
    expect(readdirSync(out).sort()).toEqual(['Modelfile', 'README.md', 'adapter.gguf', 'base.gguf']);
    const store = openStore(openHome(homeDir).database);
    try {
      expect(store.exports.listForRun(1)).toMatchObject([
        { kind: 'ollama', status: 'completed', path: out, meta: { step: 2 } },
      ]);
    } finally {
      store.close();
    }
    const missing = runCli([
      'export',
      '1',
      ...home,
      '--checkpoint',
      '3',
      '--format',
      'peft',
      '--out',
      join(work, 'p'),
    ]);
    expect(missing.stderr).toMatch(/no checkpoint "3"[\s\S]*2, 4/);
  });

  it('refuses when the base model changed since training', () => {
    writeFileSync(join(model, 'config.json'), `${readFileSync(join(model, 'config.json'), 'utf8')}\n`);
    const r = runCli(['export', '1', ...home, '--format', 'gguf-adapter', '--out', join(work, 'changed')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/changed since run 1 was trained/);
  });
});
