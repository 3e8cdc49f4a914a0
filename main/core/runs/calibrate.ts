// The measured memory check before training on a GPU: a few forward/backward steps at the longest
// sequence of the dataset with the planned micro-batch; out of memory → the next smaller micro-batch
// (the effective batch kept, oom.ts) and try again. The trainer supplies the step; this is only the
// search, so it is tested without a GPU. On the CPU there is no calibration: the fit check before
// the start compares the estimate with the free memory.
import { type BatchShape, isOutOfMemory, smallerMicroBatch } from './oom.js';

export interface Calibration {
  /** The shape to train with (the planned one when it fit). */
  chosen: BatchShape;
  /** Each micro-batch tried, in order, and whether it fit. */
  tried: { microBatch: number; fits: boolean }[];
}

/**
 * Tries `planned`, then ever smaller micro-batches while `tryStep` runs out of memory. Any other error,
 * and running out of memory at micro-batch 1, is thrown as it came.
 */
export async function calibrateMicroBatch(
  planned: BatchShape,
  tryStep: (microBatch: number) => Promise<void>,
  outOfMemory: (error: unknown) => boolean = isOutOfMemory,
): Promise<Calibration> {
  const tried: Calibration['tried'] = [];
  let shape = planned;
  for (;;) {
    try {
      await tryStep(shape.microBatch);
      tried.push({ microBatch: shape.microBatch, fits: true });
      return { chosen: shape, tried };
    } catch (err) {
      const smaller = outOfMemory(err) ? smallerMicroBatch(shape) : null;
      if (!smaller) throw err;
      tried.push({ microBatch: shape.microBatch, fits: false });
      shape = smaller;
    }
  }
}

/** The log line after a calibration. */
export function calibrationMessage(planned: BatchShape, result: Calibration, longest: number): string {
  const { chosen } = result;
  if (chosen.microBatch === planned.microBatch) {
    return `Memory check on the GPU: micro-batch ${chosen.microBatch} fits at the longest example (${longest} tokens).`;
  }
  const failed = result.tried.filter((t) => !t.fits).map((t) => t.microBatch);
  return (
    `Memory check on the GPU: micro-batch ${failed.join(' and ')} did not fit at the longest example (${longest} tokens); ` +
    `training with micro-batch ${chosen.microBatch} and gradient accumulation ${chosen.gradAccum} — the same effective batch ` +
    `(${chosen.microBatch * chosen.gradAccum} examples per step).`
  );
}

export const CALIBRATION_SKIPPED_ON_CPU =
  'Memory check: no measured calibration on the CPU; the estimate checked before the start covers it.';
