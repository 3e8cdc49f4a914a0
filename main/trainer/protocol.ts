// The messages between a run's parent (RunService, which owns SQLite) and its trainer process (which
// owns the engine and writes checkpoint files). The job travels in the first message; after that the
// trainer only reports, and the parent only asks it to pause or cancel.
import type { TrainerEvent } from '../api/contract/runs.js';
import type { Hyperparameters } from '../core/runs/config.js';
import type { BatchShape } from '../core/runs/oom.js';
import type { Resplit } from './batch-stream.js';

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
  /** Measure the micro-batch on the GPU before training (ignored on the CPU). Default true. */
  calibrate?: boolean;
  /**
   * The micro-batch the run started with: the size a checkpoint without `position.microBatch`
   * (written before micro-batch changes existed) was cut with. Default hyper.microBatch.
   */
  firstMicroBatch?: number;
}

/** Where the data stream stands after an optimizer step; stored in each checkpoint. */
export interface DataPosition {
  step: number;
  /** Micro-batches consumed since the start of the run (epochs wrap the seeded order). */
  microBatches: number;
  epoch: number;
  /** The micro-batch size the stream was cut with (absent in older checkpoints). */
  microBatch?: number;
  /** The rest of an epoch re-cut after a micro-batch change (batch-stream.ts). */
  resplit?: Resplit;
}

export interface CheckpointMeta {
  step: number;
  evalLoss: number | null;
  position: DataPosition;
  modelHash: string;
  savedAt: number;
}

export type ParentMessage = { type: 'start'; job: TrainerJob } | { type: 'pause' } | { type: 'cancel' };

/**
 * The trainer's memory check before training: RunService keeps the chosen shape for resumes and
 * passes it on to listeners as a warning (when the micro-batch changed) or an info line in the log.
 */
export interface CalibrationMessage {
  type: 'calibration';
  chosen: BatchShape;
  planned: BatchShape;
  message: string;
}

export type TrainerMessage = TrainerEvent | CalibrationMessage;
