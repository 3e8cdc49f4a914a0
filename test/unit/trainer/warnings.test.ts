// The trainer's "eval loss rising" warning: raised on a real upward trend, not on noise.
import { describe, expect, it } from 'vitest';
import { evalLossRisingWarning } from '../../../main/trainer/warnings.js';

const points = (...losses: number[]) => losses.map((loss, i) => ({ step: (i + 1) * 50, loss }));

describe('eval loss rising warning', () => {
  it('warns after two rises in a row, naming the numbers and the best step', () => {
    const w = evalLossRisingWarning(points(2.1, 1.6, 1.4, 1.5, 1.7))!;
    expect(w.code).toBe('eval-loss-rising');
    expect(w.message).toContain('1.400 → 1.500 → 1.700');
    expect(w.message).toContain('steps 150–250');
    expect(w.message).toContain('lowest at step 150');
  });

  it('stays quiet while the loss falls, after one rise, with too few checks, or on noise', () => {
    expect(evalLossRisingWarning(points(2, 1.8, 1.6, 1.5))).toBeUndefined();
    expect(evalLossRisingWarning(points(2, 1.5, 1.6, 1.55))).toBeUndefined();
    expect(evalLossRisingWarning(points(1.5, 1.6))).toBeUndefined();
    expect(evalLossRisingWarning(points(1.5, 1.501, 1.502))).toBeUndefined();
  });
});
