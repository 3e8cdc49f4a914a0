// Out of memory: recognising the engine's error, the smaller micro-batch with the same effective
// batch, the calibration search over a tryStep callback, and the shape a run's log says it uses now.
import { describe, expect, it } from 'vitest';
import { calibrateMicroBatch, calibrationMessage } from '../../../main/core/runs/calibrate.js';
import {
  type BatchShape,
  currentShape,
  engineOutOfMemoryMessage,
  fallbackMessage,
  isOutOfMemory,
  MICRO_BATCH_EVENT,
  outOfMemoryFailure,
  smallerMicroBatch,
} from '../../../main/core/runs/oom.js';

const oom = () => new Error(engineOutOfMemoryMessage('a training step', 12.3e9, 7.9e9));

describe('smaller micro-batch', () => {
  it('halves the micro-batch and keeps micro-batch × accumulation', () => {
    expect(smallerMicroBatch({ microBatch: 4, gradAccum: 2 })).toEqual({ microBatch: 2, gradAccum: 4 });
    expect(smallerMicroBatch({ microBatch: 2, gradAccum: 2 })).toEqual({ microBatch: 1, gradAccum: 4 });
    expect(smallerMicroBatch({ microBatch: 8, gradAccum: 1 })).toEqual({ microBatch: 4, gradAccum: 2 });
  });

  it('finds a divisor of the effective batch when halving does not divide it', () => {
    expect(smallerMicroBatch({ microBatch: 3, gradAccum: 2 })).toEqual({ microBatch: 1, gradAccum: 6 });
    expect(smallerMicroBatch({ microBatch: 5, gradAccum: 2 })).toEqual({ microBatch: 2, gradAccum: 5 });
    expect(smallerMicroBatch({ microBatch: 5, gradAccum: 1 })).toEqual({ microBatch: 1, gradAccum: 5 });
    expect(smallerMicroBatch({ microBatch: 6, gradAccum: 2 })).toEqual({ microBatch: 3, gradAccum: 4 });
    for (let micro = 2; micro <= 12; micro++) {
      for (let accum = 1; accum <= 7; accum++) {
        const next = smallerMicroBatch({ microBatch: micro, gradAccum: accum })!;
        expect(next.microBatch * next.gradAccum, `${micro}×${accum}`).toBe(micro * accum);
        expect(next.microBatch).toBeLessThanOrEqual(micro / 2);
        expect(Number.isInteger(next.gradAccum)).toBe(true);
      }
    }
  });

  it('has nothing smaller than micro-batch 1', () => {
    expect(smallerMicroBatch({ microBatch: 1, gradAccum: 16 })).toBeNull();
  });
});

describe('out-of-memory errors', () => {
  it("recognises the CUDA arena's message, CUDA's own and a failed host allocation", () => {
    expect(oom().message).toBe(
      'the GPU does not have enough free memory for a training step: needs ≈12.3 GB, 7.9 GB free; lower max length or enable gradient checkpointing',
    );
    expect(isOutOfMemory(oom())).toBe(true);
    expect(isOutOfMemory(new Error('CUDA error: out of memory (cudaMalloc)'))).toBe(true);
    expect(isOutOfMemory(new Error('std::bad_alloc'))).toBe(true);
    expect(isOutOfMemory(new Error('the loss became NaN'))).toBe(false);
    expect(isOutOfMemory(undefined)).toBe(false);
  });

  it('the log line and the failure say what happened and what to do, with the numbers', () => {
    const line = fallbackMessage(6, { microBatch: 4, gradAccum: 4 }, { microBatch: 2, gradAccum: 8 }, 4);
    expect(line).toMatch(
      /^Ran out of memory at step 6 with micro-batch 4; continuing from step 4 with micro-batch 2 and gradient accumulation 8 — the same effective batch/,
    );
    expect(line).toMatch(/no example is skipped or repeated/);
    const failure = outOfMemoryFailure(oom().message, 3, {
      totalBytes: 2 * 2 ** 30,
      availableBytes: 3 * 2 ** 30,
    });
    expect(failure.code).toBe('out-of-memory');
    expect(failure.message).toMatch(/step 3 with micro-batch 1/);
    expect(failure.hint).toMatch(/2\.0 GiB with 3\.0 GiB free/);
    expect(failure.hint).toMatch(/max length/);
    expect(failure.hint).toMatch(/gradient checkpointing/);
  });

  it("a run's log of micro-batch changes gives the shape it trains with now", () => {
    const planned = { microBatch: 4, gradAccum: 2 };
    expect(currentShape(planned, [])).toEqual(planned);
    const log = [
      { kind: 'run.started', data: null },
      {
        kind: MICRO_BATCH_EVENT,
        data: { microBatch: 2, gradAccum: 4, reason: 'out-of-memory', fromStep: 4 },
      },
      { kind: 'run.warning', data: { microBatch: 7, gradAccum: 7 } },
      {
        kind: MICRO_BATCH_EVENT,
        data: { microBatch: 1, gradAccum: 8, reason: 'out-of-memory', fromStep: 8 },
      },
    ];
    expect(currentShape(planned, log)).toEqual({ microBatch: 1, gradAccum: 8 });
  });
});

describe('calibration', () => {
  /** A device where micro-batches up to `fits` fit; records what was tried. */
  const device = (fits: number) => {
    const tried: number[] = [];
    return {
      tried,
      tryStep: async (microBatch: number) => {
        tried.push(microBatch);
        if (microBatch > fits) throw oom();
      },
    };
  };

  it('keeps the planned micro-batch when it fits, after one try', async () => {
    const d = device(8);
    const planned: BatchShape = { microBatch: 4, gradAccum: 4 };
    const result = await calibrateMicroBatch(planned, d.tryStep);
    expect(result.chosen).toEqual(planned);
    expect(d.tried).toEqual([4]);
    expect(calibrationMessage(planned, result, 512)).toMatch(
      /micro-batch 4 fits at the longest example \(512 tokens\)/,
    );
  });

  it('halves while out of memory, keeping the effective batch', async () => {
    const d = device(2);
    const planned = { microBatch: 8, gradAccum: 2 };
    const result = await calibrateMicroBatch(planned, d.tryStep);
    expect(d.tried).toEqual([8, 4, 2]);
    expect(result.chosen).toEqual({ microBatch: 2, gradAccum: 8 });
    expect(result.tried).toEqual([
      { microBatch: 8, fits: false },
      { microBatch: 4, fits: false },
      { microBatch: 2, fits: true },
    ]);
    expect(calibrationMessage(planned, result, 900)).toMatch(
      /micro-batch 8 and 4 did not fit .*900 tokens.*micro-batch 2 and gradient accumulation 8 — the same effective batch \(16/,
    );
  });

  it('goes from an odd micro-batch to a divisor of the effective batch', async () => {
    const d = device(1);
    const result = await calibrateMicroBatch({ microBatch: 3, gradAccum: 2 }, d.tryStep);
    expect(result.chosen).toEqual({ microBatch: 1, gradAccum: 6 });
    expect(d.tried).toEqual([3, 1]);
  });

  it('throws the out-of-memory error when not even micro-batch 1 fits', async () => {
    const d = device(0);
    await expect(calibrateMicroBatch({ microBatch: 4, gradAccum: 1 }, d.tryStep)).rejects.toThrow(
      /does not have enough free memory/,
    );
    expect(d.tried).toEqual([4, 2, 1]);
  });

  it('does not mistake another error for lack of memory', async () => {
    const tried: number[] = [];
    const failing = async (m: number) => {
      tried.push(m);
      throw new Error('the model file is damaged');
    };
    await expect(calibrateMicroBatch({ microBatch: 4, gradAccum: 1 }, failing)).rejects.toThrow(/damaged/);
    expect(tried).toEqual([4]);
  });
});
