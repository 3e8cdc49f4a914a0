// The messages between a run's parent (RunService, which owns SQLite) and its trainer process (which
// owns the engine and writes checkpoint files). The job travels in the first message; after that the
// trainer only reports, and the parent only asks it to pause or cancel.
import type { TrainerEvent } from '../api/contract/runs.js';
import type { Hyperparameters } from '../core/runs/config.js';

export interface SamplePrompt {
  /** What a person reads: the question. */
  text: string;
  /** The templated prompt up to where the reply starts. */
  ids: number[];
}

export interface TrainerJob {
  runId: number;
  runDir: string;
  modelDir: string;
  /** Checked against the model folder before loading: a swapped model would resume wrongly. */
  modelHash: string;
  hyper: Hyperparameters;
  totalSteps: number;
  trainTokenFile: string;
  evalTokenFile: string | null;
  samplePrompts: SamplePrompt[];
  stopTokens: number[];
  /** A checkpoint folder to continue from, or null for a fresh start. */
  resumeFrom: string | null;
  backend: 'cpu' | 'cuda';
  /** Test hooks (TUNESMITH_TRAINER_FAULT): poison the loss at a step, fail a checkpoint write. */
  fault?: { nanAtStep?: number; checkpointFailsAtStep?: number; slowMs?: number };
}

/** Where the data stream stands after an optimizer step; stored in each checkpoint. */
export interface DataPosition {
  step: number;
  /** Micro-batches consumed since the start of the run (epochs wrap the seeded order). */
  microBatches: number;
  epoch: number;
}

export interface CheckpointMeta {
  step: number;
  evalLoss: number | null;
  position: DataPosition;
  modelHash: string;
  savedAt: number;
}

export type ParentMessage = { type: 'start'; job: TrainerJob } | { type: 'pause' } | { type: 'cancel' };

export type TrainerMessage = TrainerEvent;
