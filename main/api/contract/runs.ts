// Training runs: define one (preset + settings, fit check, warnings), start, pause, resume, cancel,
// and follow it: `runs.get` for a snapshot, `runs.metrics` for the chart series, and the pushed
// `runs.event` (step metrics at most 10 per second per run; eval, sample, checkpoint, status).
// `runs.list` lives in library.ts with the other lists.
import { z } from 'zod';
import { command } from './define.js';
import type { RunSummary } from './library.js';

const runId = z.number().int().min(1);

export interface RunDefinitionInfo {
  modelDir: string;
  modelHash: string;
  datasetVersionId: number;
  split: { train: number; eval: number; source: 'eval-file' | 'split' | 'none' };
  template: string;
  preset: 'reference' | 'quick' | 'thorough';
  overrides: string[];
  /** Every setting by name (lr, schedule, epochs, maxSteps, loraR …). */
  hyper: Record<string, unknown>;
  plan: {
    trainExamples: number;
    evalExamples: number;
    stepsPerEpoch: number;
    totalSteps: number;
    epochs: number;
    effectiveBatch: number;
  };
  backend: 'cpu' | 'cuda';
  warnings: { code: string; message: string }[];
  fit: { device: string; totalBytes: number; availableBytes: number };
}

export interface RunDetailsInfo {
  run: RunSummary;
  definition: RunDefinitionInfo;
  interrupted: boolean;
  latest: { step: number; loss: number | null; evalLoss: number | null; stopRate: number | null };
  checkpoints: {
    id: number;
    step: number;
    path: string;
    sizeBytes: number;
    evalLoss: number | null;
    createdAt: number;
  }[];
  samples: {
    id: number;
    step: number;
    prompt: string;
    output: string;
    stopped: boolean;
    createdAt: number;
  }[];
  /**
   * What happened to the run, oldest first: starts, warnings from the trainer (e.g. code
   * `eval-loss-rising`), failures, interruptions, the end. `data` carries a warning's or failure's
   * `code` and an error's `hint`.
   */
  log?: RunLogEntry[];
}

export interface RunLogEntry {
  id: number;
  at: number;
  level: 'debug' | 'info' | 'warn' | 'error';
  /** run.started, run.warning, run.failed, run.interrupted, run.disk-full, run.paused, run.cancelled, run.completed */
  kind: string;
  message: string;
  data: unknown;
}

export interface MetricSeriesPoint {
  step: number;
  value: number;
  at: number;
}

/** What a trainer process reports; main/trainer/protocol.ts sends exactly these. */
export type TrainerEvent =
  | { type: 'started'; backend: string; device: string; threads: number; fromStep: number }
  | {
      type: 'step';
      step: number;
      totalSteps: number;
      loss: number;
      lr: number;
      gradNorm: number;
      trainedTokens: number;
      tokensPerSecond: number;
      etaSeconds: number;
      memoryBytes: number;
      epoch: number;
    }
  | { type: 'eval'; step: number; loss: number | null; stopRate: number | null }
  | { type: 'sample'; step: number; prompt: string; output: string; stopped: boolean }
  | { type: 'checkpoint'; step: number; path: string; sizeBytes: number; evalLoss: number | null }
  | { type: 'warning'; code: string; message: string }
  | { type: 'paused'; step: number; reason: 'requested' | 'disk-full'; message?: string }
  | { type: 'cancelled'; step: number }
  | { type: 'completed'; step: number }
  | { type: 'failed'; code: string; message: string; hint?: string };

export type RunEventPayload = { runId: number } & (TrainerEvent | { type: 'status'; run: RunSummary });

/** What `runs.plan` adds to a definition: how long it should take, from this machine's speed. */
export interface RunPlanInfo {
  definition: RunDefinitionInfo;
  estimate: {
    /** Tokens the run will train on (all epochs). */
    trainedTokens: number;
    /** Expected training speed on the chosen backend. */
    tokensPerSecond: number;
    seconds: number;
    /** How the speed was obtained, e.g. "measured in run 12" or "rough figure for this CPU". */
    basis: string;
  };
}

/** One fixed eval prompt answered by several checkpoints of a run (or the base model). */
export interface CheckpointComparison {
  prompts: string[];
  columns: {
    /** `base` is the model without the adapter. */
    checkpoint: { id: number; step: number; evalLoss: number | null } | 'base';
    replies: { text: string; stopped: boolean; tokens: number }[];
    /** Share of replies that ended with the end-of-turn token. */
    stopRate: number;
    meanReplyTokens: number;
  }[];
}

const runRequest = z
  .object({
    modelDir: z.string().min(1),
    dataFile: z.string().min(1).optional(),
    evalFile: z.string().min(1).optional(),
    datasetVersionId: z.number().int().min(1).optional(),
    template: z.enum(['chatml', 'model', 'llama3', 'mistral', 'alpaca']).optional(),
    preset: z.enum(['reference', 'quick', 'thorough']).default('quick'),
    overrides: z.array(z.string()).default([]),
    backend: z.enum(['auto', 'cpu', 'cuda']).default('auto'),
    name: z.string().min(1).max(200).optional(),
  })
  .strict();

export const runDetailCommands = {
  /**
   * Everything `runs.create` would store (settings, plan, warnings, fit) and a time estimate,
   * without storing anything: the settings form calls it as values change. A run that cannot fit
   * or cannot start is an error with the reason and what to change.
   */
  'runs.plan': command<RunPlanInfo>()(runRequest),
  'runs.create': command<{ run: RunSummary; definition: RunDefinitionInfo }>()(runRequest),
  /** Answer the run's fixed eval prompts with each chosen checkpoint (greedy), side by side. */
  'runs.compare': command<CheckpointComparison>()(
    z
      .object({
        runId,
        /** Checkpoint ids; `base` adds the model without the adapter. */
        checkpoints: z
          .array(z.union([z.number().int().min(1), z.literal('base')]))
          .min(1)
          .max(8),
        /** Default: the run's fixed eval prompts. */
        prompts: z.array(z.string().min(1)).min(1).max(16).optional(),
        maxNewTokens: z.number().int().min(1).max(2048).default(128),
      })
      .strict(),
  ),
  'runs.start': command<RunSummary>()(z.object({ runId }).strict()),
  'runs.pause': command<RunSummary>()(z.object({ runId }).strict()),
  'runs.resume': command<RunSummary>()(z.object({ runId }).strict()),
  'runs.cancel': command<RunSummary>()(z.object({ runId }).strict()),
  'runs.get': command<RunDetailsInfo>()(z.object({ runId }).strict()),
  'runs.metrics': command<Record<string, MetricSeriesPoint[]>>()(z.object({ runId }).strict()),
};

export interface RunEvents {
  'runs.event': RunEventPayload;
}
