// The catalogue of recommended base models (resources/catalogue.json) and whether each fits this
// machine. The file holds only facts about the repositories; the parameter count and the QLoRA
// memory are computed here from each entry's config numbers by the engine's own estimate, so they
// can never drift from what the engine will ask for.
import { readFileSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { probeNative } from '../engine/native.js';
import { packageRoot } from '../package-info.js';
import { type ModelConfig, parseModelConfig, SUPPORTED_ARCHITECTURES } from './config.js';
import { MEMORY_SEQ_LENS } from './inspect.js';
import { estimateTrainingMemory } from './memory.js';
import { parameterCount } from './tensor-names.js';

const entrySchema = z
  .object({
    repoId: z.string().regex(/^[\w.-]+\/[\w.-]+$/),
    name: z.string().min(1),
    summary: z.string(),
    architecture: z.enum(SUPPORTED_ARCHITECTURES),
    licence: z.string().min(1),
    gated: z.boolean(),
    reference: z.boolean().optional(),
    downloadBytes: z.number().int().positive(),
    config: z.record(z.string(), z.unknown()),
  })
  .strict();
const catalogueSchema = z.object({
  $comment: z.string().optional(),
  version: z.literal(1),
  models: z.array(entrySchema),
});

export type CatalogueEntryData = z.infer<typeof entrySchema>;

/** Memory to train on, and where it was measured. */
export interface MachineResources {
  /** The GPU with the most free memory, when the engine can use CUDA. */
  gpu: { index: number; name: string; freeBytes: number; totalBytes: number } | null;
  ramFreeBytes: number;
  ramTotalBytes: number;
}

export interface ModelFit {
  device: 'cuda' | 'cpu';
  /** What is compared: the best GPU's free memory, or free system memory for CPU training. */
  availableBytes: number;
  /** The estimate for each sequence length, on that device. */
  memory: { seqLen: number; bytes: number; fits: boolean }[];
  /** Fits at the shortest length (2k tokens). */
  fits: boolean;
  /** One sentence for a person. */
  verdict: string;
}

export interface CatalogueEntry extends Omit<CatalogueEntryData, 'config'> {
  parameterCount: number;
  /** QLoRA on a GPU at 2k and 4k tokens (NF4, LoRA r 16, batch 1, checkpointing). */
  gpuMemory: { seqLen: number; bytes: number }[];
  fit: ModelFit;
  config: ModelConfig;
}

export function cataloguePath(): string {
  return path.join(packageRoot(), 'resources', 'catalogue.json');
}

export function loadCatalogue(file = cataloguePath()): CatalogueEntryData[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error(
      `The model catalogue ${file} cannot be read: ${(err as Error).message}. Reinstall Tunesmith.`,
    );
  }
  const parsed = catalogueSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(
      `The model catalogue ${file} is malformed at ${issue?.path.join('.') ?? '?'}: ${issue?.message}. Reinstall Tunesmith.`,
    );
  }
  return parsed.data.models;
}

export function detectMachine(): MachineResources {
  const probe = probeNative();
  const gpus = probe.backends.includes('cuda') ? probe.devices : [];
  const best = [...gpus].sort((a, b) => b.freeMemoryBytes - a.freeMemoryBytes)[0];
  return {
    gpu: best
      ? {
          index: best.index,
          name: best.name,
          freeBytes: best.freeMemoryBytes,
          totalBytes: best.totalMemoryBytes,
        }
      : null,
    ramFreeBytes: freemem(),
    ramTotalBytes: totalmem(),
  };
}

export function modelFit(config: ModelConfig, machine: MachineResources): ModelFit {
  const device = machine.gpu ? 'cuda' : 'cpu';
  const availableBytes = machine.gpu ? machine.gpu.freeBytes : machine.ramFreeBytes;
  const memory = MEMORY_SEQ_LENS.map((seqLen) => {
    const bytes = estimateTrainingMemory(config, { seqLen, device }).total;
    return { seqLen, bytes, fits: bytes <= availableBytes };
  });
  const fits = memory[0]?.fits ?? false;
  const need = (m: { seqLen: number; bytes: number }) => `${gb(m.bytes)} at ${m.seqLen / 1024}k tokens`;
  const [short, long] = memory;
  let verdict: string;
  if (machine.gpu) {
    const where = `${machine.gpu.name} (${gb(availableBytes)} free)`;
    verdict = !fits
      ? `Does not fit ${where}: needs ${need(short!)}.`
      : long && !long.fits
        ? `Fits ${where} at 2k tokens (${gb(short!.bytes)}), not at 4k (${gb(long.bytes)}).`
        : `Fits ${where}: ${memory.map(need).join(', ')}.`;
  } else {
    verdict = fits
      ? `No usable GPU: trains on the CPU (slow); needs ${need(short!)} of the ${gb(availableBytes)} of free memory.`
      : `No usable GPU, and CPU training needs ${need(short!)} but only ${gb(availableBytes)} of memory is free.`;
  }
  return { device, availableBytes, memory, fits, verdict };
}

export function catalogueWithFit(entries: CatalogueEntryData[], machine: MachineResources): CatalogueEntry[] {
  return entries.map((entry) => {
    const config = parseModelConfig(entry.config, `catalogue.json (${entry.repoId})`);
    return {
      ...entry,
      config,
      parameterCount: parameterCount(config),
      gpuMemory: MEMORY_SEQ_LENS.map((seqLen) => ({
        seqLen,
        bytes: estimateTrainingMemory(config, { seqLen, device: 'cuda' }).total,
      })),
      fit: modelFit(config, machine),
    };
  });
}

function gb(bytes: number): string {
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}
