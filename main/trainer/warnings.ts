// Warnings the trainer raises while a run goes on: things a person should know before the run ends,
// that do not stop it. Each is sent once per trainer process as a 'warning' report; RunService keeps
// it in the run's log and the run page shows it.
import type { TrainerMessage } from './protocol.js';

export type TrainerWarning = Extract<TrainerMessage, { type: 'warning' }>;

export interface EvalPoint {
  step: number;
  loss: number;
}

/** A rise smaller than this share of the loss is noise, not a trend. */
const MIN_RISE = 0.005;

/**
 * The eval loss (on examples the model does not train on) went up at two checks in a row: the model
 * has started to memorise its training examples. Training goes on; the best checkpoint is kept.
 */
export function evalLossRisingWarning(history: readonly EvalPoint[]): TrainerWarning | undefined {
  if (history.length < 3) return undefined;
  const [a, b, c] = history.slice(-3) as [EvalPoint, EvalPoint, EvalPoint];
  const rose = (from: EvalPoint, to: EvalPoint) => to.loss > from.loss * (1 + MIN_RISE);
  if (!rose(a, b) || !rose(b, c)) return undefined;
  const best = history.reduce((min, p) => (p.loss < min.loss ? p : min));
  const f = (x: number) => x.toFixed(3);
  return {
    type: 'warning',
    code: 'eval-loss-rising',
    message:
      `The loss on the held-back examples went up at two checks in a row (${f(a.loss)} → ${f(b.loss)} → ${f(c.loss)}, steps ${a.step}–${c.step}): ` +
      `the model may be memorising your examples rather than learning from them. It was lowest at step ${best.step}; ` +
      'the checkpoint with the lowest loss is always kept. You can stop now and use it, or next time train for fewer epochs.',
  };
}
