// The catalogue of recommended models: the data file is valid, its config numbers reproduce each
// repository's published parameter count, and "fits" is the engine's estimate against the machine.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  catalogueWithFit,
  loadCatalogue,
  type MachineResources,
  modelFit,
} from '../../../main/core/models/catalogue.js';
import { parseModelConfig } from '../../../main/core/models/config.js';
import { estimateTrainingMemory } from '../../../main/core/models/memory.js';
import { tempDir } from '../../helpers/cli.js';

const GIB = 1024 ** 3;
const gpu = (freeGib: number): MachineResources => ({
  gpu: { index: 0, name: 'Test GPU', freeBytes: freeGib * GIB, totalBytes: freeGib * GIB },
  ramFreeBytes: 64 * GIB,
  ramTotalBytes: 64 * GIB,
});
const cpuOnly = (freeGib: number): MachineResources => ({
  gpu: null,
  ramFreeBytes: freeGib * GIB,
  ramTotalBytes: 2 * freeGib * GIB,
});

describe('resources/catalogue.json', () => {
  const entries = loadCatalogue();

  it('lists the recommended models, including the reference recipe’s', () => {
    const ids = entries.map((e) => e.repoId);
    for (const id of [
      'Qwen/Qwen2.5-0.5B-Instruct',
      'Qwen/Qwen2.5-1.5B-Instruct',
      'Qwen/Qwen2.5-3B-Instruct',
      'Qwen/Qwen2.5-7B-Instruct',
      'meta-llama/Llama-3.2-1B-Instruct',
      'meta-llama/Llama-3.2-3B-Instruct',
      'meta-llama/Llama-3.1-8B-Instruct',
      'mistralai/Mistral-7B-Instruct-v0.3',
      'teknium/OpenHermes-2.5-Mistral-7B',
    ]) {
      expect(ids).toContain(id);
    }
    expect(entries.find((e) => e.reference)?.repoId).toBe('teknium/OpenHermes-2.5-Mistral-7B');
    expect(entries.filter((e) => e.gated).map((e) => e.repoId.split('/')[0])).toEqual(
      expect.arrayContaining(['meta-llama']),
    );
  });

  it('has config numbers that give each model its published parameter count', () => {
    const published: Record<string, number> = {
      'Qwen/Qwen2.5-0.5B-Instruct': 494_032_768,
      'Qwen/Qwen2.5-7B-Instruct': 7_615_616_512,
      'meta-llama/Llama-3.2-1B-Instruct': 1_235_814_400,
      'meta-llama/Llama-3.1-8B-Instruct': 8_030_261_248,
      'mistralai/Mistral-7B-Instruct-v0.3': 7_248_023_552,
    };
    const withFit = catalogueWithFit(entries, gpu(24));
    for (const [id, count] of Object.entries(published)) {
      expect(withFit.find((e) => e.repoId === id)?.parameterCount, id).toBe(count);
    }
    for (const e of withFit) {
      expect(e.architecture).toBe(e.config.architecture);
      // bf16 weights: the download is about two bytes per parameter
      expect(e.downloadBytes / (2 * e.parameterCount)).toBeGreaterThan(0.9);
      expect(e.downloadBytes / (2 * e.parameterCount)).toBeLessThan(1.15);
    }
  });

  it('computes the memory at 2k and 4k tokens with the engine’s estimate', () => {
    const [first] = catalogueWithFit(entries, gpu(24));
    const config = parseModelConfig(entries[0]!.config);
    expect(first!.gpuMemory).toEqual([
      { seqLen: 2048, bytes: estimateTrainingMemory(config, { seqLen: 2048, device: 'cuda' }).total },
      { seqLen: 4096, bytes: estimateTrainingMemory(config, { seqLen: 4096, device: 'cuda' }).total },
    ]);
  });

  it('refuses a malformed catalogue with the field that is wrong', () => {
    const file = path.join(tempDir(), 'catalogue.json');
    writeFileSync(file, JSON.stringify({ version: 1, models: [{ repoId: 'a/b', name: 'x' }] }));
    expect(() => loadCatalogue(file)).toThrow(/catalogue\.json is malformed at models\.0\./);
  });
});

describe('fit for this machine', () => {
  const entries = loadCatalogue();
  const config = (id: string) => parseModelConfig(entries.find((e) => e.repoId === id)!.config);

  it('compares the GPU estimate with the best GPU’s free memory', () => {
    const small = modelFit(config('Qwen/Qwen2.5-0.5B-Instruct'), gpu(8));
    expect(small).toMatchObject({ device: 'cuda', fits: true });
    expect(small.verdict).toMatch(/^Fits Test GPU \(8\.0 GiB free\)/);
    const big = modelFit(config('meta-llama/Llama-3.1-8B-Instruct'), gpu(6));
    expect(big.fits).toBe(false);
    expect(big.verdict).toMatch(/^Does not fit Test GPU/);
    expect(modelFit(config('meta-llama/Llama-3.1-8B-Instruct'), gpu(24)).fits).toBe(true);
  });

  it('says when only the shorter length fits', () => {
    const c = config('Qwen/Qwen2.5-7B-Instruct');
    const at2k = estimateTrainingMemory(c, { seqLen: 2048, device: 'cuda' }).total;
    const machine = gpu(0);
    machine.gpu!.freeBytes = at2k + 1;
    const fit = modelFit(c, machine);
    expect(fit.memory.map((m) => m.fits)).toEqual([true, false]);
    expect(fit.verdict).toMatch(/at 2k tokens .* not at 4k/);
  });

  it('without a GPU, says training runs on the CPU and compares with free memory', () => {
    const fit = modelFit(config('Qwen/Qwen2.5-0.5B-Instruct'), cpuOnly(16));
    expect(fit).toMatchObject({ device: 'cpu', fits: true });
    expect(fit.verdict).toMatch(/trains on the CPU \(slow\)/);
    expect(fit.memory[0]!.bytes).toBe(
      estimateTrainingMemory(config('Qwen/Qwen2.5-0.5B-Instruct'), { seqLen: 2048, device: 'cpu' }).total,
    );
    expect(modelFit(config('Qwen/Qwen2.5-7B-Instruct'), cpuOnly(2)).fits).toBe(false);
  });
});
