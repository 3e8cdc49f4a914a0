// Running out of memory during training: how to recognise it, the smaller micro-batch that keeps the
// effective batch (micro-batch × gradient accumulation) the same, and the words a person reads when
// a run falls back to it or cannot go smaller. RunService restarts the trainer from its last
// checkpoint with the smaller micro-batch; the trainer's calibration (calibrate.ts) uses the same
// arithmetic before training starts.

/** How many examples go through the model at once, and how many of those make an optimizer step. */
export interface BatchShape {
  microBatch: number;
  gradAccum: number;
}

/**
 * The engine's out-of-memory errors: the CUDA arena's "the GPU does not have enough free memory for
 * …: needs ≈X GB, Y GB free; lower max length or enable gradient checkpointing", CUDA's own "out of
 * memory", and a host allocation that failed (std::bad_alloc).
 */
const OUT_OF_MEMORY = /does not have enough free memory|out of memory|bad_alloc|cannot allocate memory/i;

export function isOutOfMemory(error: unknown): boolean {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : '';
  return OUT_OF_MEMORY.test(message);
}

/** The text the CUDA arena throws (native/src/cuda/arena.h); the trainer's oomAtStep fault uses it. */
export function engineOutOfMemoryMessage(purpose: string, neededBytes: number, freeBytes: number): string {
  return (
    `the GPU does not have enough free memory for ${purpose}: needs ≈${(neededBytes / 1e9).toFixed(1)} GB, ` +
    `${(freeBytes / 1e9).toFixed(1)} GB free; lower max length or enable gradient checkpointing`
  );
}

/**
 * About half the micro-batch, with the accumulation raised so that micro-batch × accumulation stays
 * exactly the same: the new micro-batch is the largest divisor of the effective batch that is at
 * most half the old one (4 × 2 → 2 × 4; 3 × 2 → 1 × 6; 5 × 2 → 2 × 5). Null at micro-batch 1.
 */
export function smallerMicroBatch(shape: BatchShape): BatchShape | null {
  if (shape.microBatch <= 1) return null;
  const effective = shape.microBatch * shape.gradAccum;
  for (let micro = Math.floor(shape.microBatch / 2); micro >= 1; micro--) {
    if (effective % micro === 0) return { microBatch: micro, gradAccum: effective / micro };
  }
  return { microBatch: 1, gradAccum: effective };
}

/** A change of micro-batch a run went through, kept in its log (event data) and applied on resume. */
export interface MicroBatchChange extends BatchShape {
  reason: 'out-of-memory' | 'calibration';
  /** The optimizer step the run continues from with the new shape. */
  fromStep: number;
}

export const MICRO_BATCH_EVENT = 'run.micro-batch';

/** The log line when a run restarts with a smaller micro-batch after running out of memory. */
export function fallbackMessage(
  atStep: number,
  before: BatchShape,
  after: BatchShape,
  fromStep: number,
): string {
  return (
    `Ran out of memory at step ${atStep} with micro-batch ${before.microBatch}; continuing from step ${fromStep} ` +
    `with micro-batch ${after.microBatch} and gradient accumulation ${after.gradAccum} — the same effective batch ` +
    `(${after.microBatch * after.gradAccum} examples per step). The rest of this pass over the data is cut into the ` +
    'smaller batches, so no example is skipped or repeated, but the examples averaged in each step may group ' +
    'differently, so the losses will not match a run without the change exactly.'
  );
}

const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/** The failure at micro-batch 1: what happened and what to change, with the fit check's numbers. */
export function outOfMemoryFailure(
  message: string,
  atStep: number,
  fit: { totalBytes: number; availableBytes: number },
): { code: 'out-of-memory'; message: string; hint: string } {
  return {
    code: 'out-of-memory',
    message: `Ran out of memory at step ${atStep} with micro-batch 1, the smallest there is (${message}).`,
    hint:
      `Before the start the estimate was ${gib(fit.totalBytes)} with ${gib(fit.availableBytes)} free. ` +
      'Start a new run that needs less: a lower max length (--set maxLen=…), gradient checkpointing ' +
      '(--set gradientCheckpointing=true), or close other programs that use the memory.',
  };
}

/**
 * The shape a run trains with now: the definition's, or the last change its log recorded (events of
 * kind MICRO_BATCH_EVENT, oldest first). The definition stored at creation is left as it was, so the
 * log says what changed and when.
 */
export function currentShape(
  planned: BatchShape,
  log: readonly { kind: string; data: unknown }[],
): BatchShape {
  let shape = planned;
  for (const event of log) {
    if (event.kind !== MICRO_BATCH_EVENT) continue;
    const change = event.data as Partial<MicroBatchChange> | null;
    if (change?.microBatch && change.gradAccum) {
      shape = { microBatch: change.microBatch, gradAccum: change.gradAccum };
    }
  }
  return shape;
}
