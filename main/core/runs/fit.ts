// Before a run: which model exactly (a content hash of config.json and every safetensors header, so
// a swapped or edited model is noticed on resume) and whether training fits in the device's memory.
// On the CPU the budget is the system's free RAM; GPU free memory comes from the engine's probe.
// On a GPU the trainer also measures before training (calibrate.ts), and a run that still runs out of
// memory continues with a smaller micro-batch (oom.ts, RunService).
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ModelConfig } from '../models/config.js';
import { estimateTrainingMemory, type MemoryEstimate } from '../models/memory.js';
import type { Hyperparameters } from './config.js';
import { RunConfigError } from './config.js';

/** sha256 over config.json and each *.safetensors file's name and JSON header (not the weights). */
export function modelContentHash(modelDir: string): string {
  const hash = createHash('sha256');
  const configFile = path.join(modelDir, 'config.json');
  if (!existsSync(configFile)) {
    throw new RunConfigError(
      'model-missing',
      `The model folder ${modelDir} has no config.json (was it moved or deleted?).`,
      'Put the model folder back where it was, or start a new run with --model pointing at its new place.',
    );
  }
  hash.update(readFileSync(configFile));
  const weights = readdirSync(modelDir)
    .filter((f) => f.endsWith('.safetensors'))
    .sort();
  for (const name of weights) {
    const fd = openSync(path.join(modelDir, name), 'r');
    try {
      const size = Buffer.alloc(8);
      readSync(fd, size, 0, 8, 0);
      const headerBytes = Number(size.readBigUInt64LE(0));
      const header = Buffer.alloc(Math.min(headerBytes, 100_000_000));
      readSync(fd, header, 0, header.length, 8);
      hash.update(name).update(size).update(header);
    } finally {
      closeSync(fd);
    }
  }
  return hash.digest('hex');
}

export interface FitCheck {
  device: 'cpu' | 'cuda';
  estimate: MemoryEstimate;
  availableBytes: number;
  fits: boolean;
  /** What to change when it does not fit (empty when it fits). */
  suggestions: string[];
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

export function checkFit(
  config: ModelConfig,
  h: Hyperparameters,
  device: 'cpu' | 'cuda',
  availableBytes: number = os.freemem(),
): FitCheck {
  const options = {
    seqLen: h.maxLen,
    microBatch: h.microBatch,
    loraRank: h.loraR,
    loraTargets: h.loraTargets,
    gradientCheckpointing: h.gradientCheckpointing,
    device,
  };
  const estimate = estimateTrainingMemory(config, options);
  const fits = estimate.total <= availableBytes;
  const suggestions: string[] = [];
  if (!fits) {
    if (!h.gradientCheckpointing) {
      const saved = estimateTrainingMemory(config, { ...options, gradientCheckpointing: true });
      suggestions.push(`gradientCheckpointing=true (needs ${gib(saved.total)})`);
    }
    if (h.microBatch > 1) {
      suggestions.push(`microBatch=1 gradAccum=${h.microBatch * h.gradAccum} (same effective batch)`);
    }
    for (const len of [h.maxLen / 2, h.maxLen / 4].map(Math.floor).filter((l) => l >= 256)) {
      const smaller = estimateTrainingMemory(config, {
        ...options,
        seqLen: len,
        gradientCheckpointing: true,
      });
      if (smaller.total <= availableBytes) {
        suggestions.push(`maxLen=${len} (needs ${gib(smaller.total)})`);
        break;
      }
    }
    if (h.loraR > 8) suggestions.push('loraR=8');
    suggestions.push('a smaller model');
  }
  return { device, estimate, availableBytes, fits, suggestions };
}

export function fitError(fit: FitCheck): RunConfigError {
  return new RunConfigError(
    'does-not-fit',
    `Training needs about ${gib(fit.estimate.total)} of ${fit.device === 'cpu' ? 'memory' : 'GPU memory'} but ${gib(fit.availableBytes)} is free.`,
    `Try --set ${fit.suggestions.join(', or --set ')}.`,
  );
}
