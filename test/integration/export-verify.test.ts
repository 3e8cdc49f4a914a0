// The exports behave like the engine: for tiny Llama (Llama 3 tokenizer, RoPE scaling), Mistral (GQA,
// SentencePiece vocabulary) and Qwen2 (q/k/v biases, tied embeddings), an adapter is trained here,
// exported as an Ollama folder (base GGUF + GGUF adapter, f32) and loaded in llama.cpp
// (node-llama-cpp, CPU, one thread): next-token probabilities match the engine's, with and without
// the adapter, and greedy generation with the adapter gives the same tokens and stops at the end
// token. A control shows the check can fail: a base GGUF without the Q/K permutation.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { createTemplate } from '../../main/core/data/template/index.js';
import { loadModelTokenizer } from '../../main/core/data/tokenize.js';
import { defaultTemplate, promptIds } from '../../main/core/engine/generate.js';
import { loadNative } from '../../main/core/engine/native.js';
import { exportModel } from '../../main/core/export/export.js';
import { writeModelGguf } from '../../main/core/export/gguf-model.js';
import { verifyExport } from '../../main/core/export/verify.js';
import { readGguf } from '../../main/core/formats/gguf.js';
import { readModelConfig } from '../../main/core/models/config.js';
import { exportTestModel, trainTestAdapter } from '../helpers/export-model.js';

const work = mkdtempSync(join(tmpdir(), 'tunesmith-export-'));

describe.each(['llama', 'mistral', 'qwen2'] as const)(
  'export of a %s fine-tune, verified in llama.cpp',
  (arch) => {
    const model = join(work, arch, 'model');
    const adapter = join(work, arch, 'adapter');

    beforeAll(async () => {
      await exportTestModel(arch, model);
      await trainTestAdapter(model, adapter);
    });

    it('Ollama folder: base and adapter GGUF match the engine in llama.cpp', async () => {
      const out = join(work, arch, 'ollama');
      const result = await exportModel({
        modelDir: model,
        adapterDir: adapter,
        format: 'ollama',
        dtype: 'f32',
        outDir: out,
        verify: true,
      });
      const checks = Object.fromEntries(result.verification!.checks.map((c) => [c.name, c]));
      console.log(
        `${arch}: ${result.verification!.checks.map((c) => `${c.name} ${c.passed ? 'pass' : 'FAIL'} (${c.detail})`).join('; ')}`,
      );
      expect(checks['base-probabilities']).toMatchObject({ passed: true, sameArgmax: true });
      expect(checks['base-probabilities']!.maxAbsProbDiff).toBeLessThan(1e-4);
      expect(checks['adapter-probabilities']).toMatchObject({ passed: true, sameArgmax: true });
      expect(checks['adapter-probabilities']!.maxAbsProbDiff).toBeLessThan(1e-4);
      // The adapter learned a reply: "ok ok" then the end token, in both.
      expect(checks['adapter-generation']).toMatchObject({ passed: true, stopped: true });
      expect(checks['adapter-generation']!.llamaCppTokens!.length).toBeGreaterThan(1);

      const adapterFile = await readGguf(join(out, 'adapter.gguf'));
      expect(adapterFile.kv.get('general.architecture')).toMatchObject({
        value: arch === 'qwen2' ? 'qwen2' : 'llama',
      });
      expect(adapterFile.kv.get('general.type')).toMatchObject({ value: 'adapter' });
      expect(adapterFile.kv.get('adapter.lora.alpha')).toMatchObject({ type: 6, value: 16 });
      expect(adapterFile.tensors.find((t) => t.name === 'blk.0.attn_k.weight.lora_b')?.ne).toEqual([8, 32]);
      const modelfile = readFileSync(join(out, 'Modelfile'), 'utf8');
      expect(modelfile).toMatch(/^FROM \.\/base\.gguf\nADAPTER \.\/adapter\.gguf\nTEMPLATE """/);
      expect(modelfile).toContain('PARAMETER stop');
      expect(readFileSync(join(out, 'README.md'), 'utf8')).toContain('ollama create');
    });

    if (arch === 'qwen2') {
      it('merged GGUF and merged HF folder carry the adapter', async () => {
        const merged = await exportModel({
          modelDir: model,
          adapterDir: adapter,
          format: 'gguf-merged',
          dtype: 'f32',
          outDir: join(work, 'merged'),
          verify: true,
        });
        expect(merged.verification!.checks.map((c) => [c.name, c.passed])).toEqual([
          ['merged-probabilities', true],
          ['merged-generation', true],
        ]);
        // The HF folder loads in the engine and, with no adapter, predicts what base + adapter does.
        const hf = join(work, 'hf');
        await exportModel({ modelDir: model, adapterDir: adapter, format: 'hf-merged', outDir: hf });
        const tok = loadModelTokenizer(model);
        const prompt = promptIds(tok, createTemplate(defaultTemplate(tok), tok.context, tok.specialTokens), [
          { role: 'user', content: 'Hello! What can you do?' },
        ]);
        const native = loadNative();
        const plain = await native.loadModel({
          modelDir: hf,
          quant: 'none',
          lora: { r: 1, alpha: 1 },
          maxSeqLen: 64,
          threads: 1,
        });
        const tuned = await native.loadModel({
          modelDir: model,
          quant: 'none',
          lora: { r: 8, alpha: 16 },
          maxSeqLen: 64,
          threads: 1,
        });
        await tuned.loadAdapter(adapter);
        const a = await plain.logits(prompt);
        const b = await tuned.logits(prompt);
        plain.dispose();
        tuned.dispose();
        let diff = 0;
        for (let i = 0; i < a.length; i++) diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
        expect(diff).toBeLessThan(1e-3);
      });
    }

    if (arch === 'llama') {
      it('control: without the Q/K permutation llama.cpp disagrees, and verification says so', async () => {
        const config = await readModelConfig(model);
        const wrong = join(work, 'unpermuted.gguf');
        await writeModelGguf({ modelDir: model, config, outFile: wrong, dtype: 'f32', permuteQk: false });
        const tok = loadModelTokenizer(model);
        const prompt = promptIds(tok, createTemplate(defaultTemplate(tok), tok.context, tok.specialTokens), [
          { role: 'user', content: 'Hello! What can you do?' },
        ]);
        const [base] = await verifyExport({ modelDir: model, baseGguf: wrong, prompt, stopTokens: [] });
        expect(base!.passed).toBe(false);
        expect(base!.maxAbsLogProbDiff).toBeGreaterThan(1e-2);
      });
    }
  },
);
