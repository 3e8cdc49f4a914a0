import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseModelConfig } from '../../../main/core/models/config.js';
import {
  applyOverrides,
  learningRate,
  PRESETS,
  planTraining,
  RunConfigError,
  sanityWarnings,
} from '../../../main/core/runs/config.js';
import { checkFit, modelContentHash } from '../../../main/core/runs/fit.js';

describe('presets', () => {
  it('the reference recipe is the TRL script of shared/reference', () => {
    const h = PRESETS.reference.build(1000);
    expect(h).toMatchObject({
      quant: 'nf4',
      loraR: 16,
      loraAlpha: 16,
      loraDropout: 0.05,
      lr: 5e-5,
      schedule: 'cosine',
      warmupSteps: 100,
      microBatch: 1,
      gradAccum: 4,
      gradientCheckpointing: true,
      weightDecay: 0,
      neftuneAlpha: 5,
      maxLen: 4096,
      evalEvery: 100,
      checkpointEvery: 100,
      maxSteps: 6000,
    });
    expect(h.loraTargets).toHaveLength(7);
  });

  it('quick and thorough count epochs, more of them for small datasets', () => {
    expect(PRESETS.quick.build(10_000).epochs).toBe(1);
    expect(PRESETS.quick.build(20).epochs).toBe(3);
    expect(PRESETS.thorough.build(10_000).epochs).toBe(3);
    expect(PRESETS.thorough.build(20).epochs).toBe(10);
    const plan = planTraining(PRESETS.quick.build(400), 400, 0);
    expect(plan.totalSteps).toBe(100);
    expect(PRESETS.quick.build(400).evalEvery).toBe(20);
    for (const p of Object.values(PRESETS)) expect(p.description.length).toBeGreaterThan(40);
  });
});

describe('overrides', () => {
  const base = PRESETS.quick.build(100);
  it('types values by the schema', () => {
    const h = applyOverrides(base, [
      'lr=1e-4',
      'gradientCheckpointing=false',
      'schedule=linear',
      'loraTargets=q_proj,v_proj',
      'epochs=null',
      'maxSteps=7',
    ]);
    expect(h).toMatchObject({
      lr: 1e-4,
      gradientCheckpointing: false,
      schedule: 'linear',
      epochs: null,
      maxSteps: 7,
    });
    expect(h.loraTargets).toEqual(['q_proj', 'v_proj']);
  });
  it('names the bad setting', () => {
    expect(() => applyOverrides(base, ['learning_rate=1'])).toThrow(/no setting "learning_rate"/);
    expect(() => applyOverrides(base, ['lr'])).toThrow(/key=value/);
    expect(() => applyOverrides(base, ['microBatch=0'])).toThrow(/microBatch/);
    expect(() => applyOverrides(base, ['schedule=wavy'])).toThrow(RunConfigError);
  });
});

describe('learning rate schedule', () => {
  const h = { lr: 1, warmupSteps: 4, schedule: 'cosine' as const };
  it('warms up linearly, then decays to zero', () => {
    expect(learningRate(h, 0, 14)).toBeCloseTo(0.2);
    expect(learningRate(h, 3, 14)).toBeCloseTo(0.8);
    expect(learningRate(h, 4, 14)).toBeCloseTo(1);
    expect(learningRate(h, 9, 14)).toBeCloseTo(0.5);
    expect(learningRate(h, 14, 14)).toBeCloseTo(0);
    expect(learningRate({ ...h, schedule: 'linear' }, 9, 14)).toBeCloseTo(0.5);
    expect(learningRate({ ...h, schedule: 'constant' }, 13, 14)).toBe(1);
  });
});

describe('sanity warnings', () => {
  it('flags each issue-listed problem', () => {
    const h = applyOverrides(PRESETS.reference.build(3), ['maxSteps=50', 'lr=0.01']);
    const plan = planTraining(h, 3, 0);
    const codes = sanityWarnings(h, plan, { longest: 9000, overMaxLen: 2, total: 3 }).map((w) => w.code);
    expect(codes).toEqual(
      expect.arrayContaining([
        'warmup-too-long',
        'eval-never',
        'lr-unusual',
        'dataset-smaller-than-step',
        'max-length-short',
      ]),
    );
    const fine = PRESETS.quick.build(400);
    expect(
      sanityWarnings(fine, planTraining(fine, 400, 40), { longest: 100, overMaxLen: 0, total: 400 }),
    ).toEqual([]);
  });
});

describe('fit check', () => {
  const config = parseModelConfig({
    architectures: ['MistralForCausalLM'],
    model_type: 'mistral',
    vocab_size: 32000,
    hidden_size: 4096,
    intermediate_size: 14336,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 8,
  });
  const h = PRESETS.reference.build(1000);
  it('fits a 7B QLoRA run in 24 GB, not in 4 GB, and suggests what to change', () => {
    expect(checkFit(config, h, 'cuda', 24 * 2 ** 30).fits).toBe(true);
    const small = checkFit(config, { ...h, gradientCheckpointing: false }, 'cuda', 4 * 2 ** 30);
    expect(small.fits).toBe(false);
    expect(small.suggestions[0]).toMatch(/gradientCheckpointing=true/);
    expect(small.suggestions.at(-1)).toBe('a smaller model');
  });
});

describe('model content hash', () => {
  it('changes with config.json or a safetensors header, not with unrelated files', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tunesmith-hash-'));
    const header = (text: string) => {
      const json = Buffer.from(text);
      const size = Buffer.alloc(8);
      size.writeBigUInt64LE(BigInt(json.length));
      return Buffer.concat([size, json, Buffer.alloc(16)]);
    };
    writeFileSync(join(dir, 'config.json'), '{"a":1}');
    writeFileSync(
      join(dir, 'model.safetensors'),
      header('{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'),
    );
    const first = modelContentHash(dir);
    writeFileSync(join(dir, 'README.md'), 'notes');
    expect(modelContentHash(dir)).toBe(first);
    writeFileSync(
      join(dir, 'model.safetensors'),
      header('{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}'),
    );
    expect(modelContentHash(dir)).not.toBe(first);
    expect(() => modelContentHash(join(dir, 'gone'))).toThrow(
      /no config\.json \(was it moved or deleted\?\)/,
    );
  });
});
