// Which checkpoint of a run a person means: an id, `last`, or `best` (lowest eval loss; the last one
// when none was evaluated). Chat, comparison and export all choose the same way.
import path from 'node:path';
import type { CheckpointRow } from '../store/repos/checkpoints.js';
import { RunError } from './define.js';

export type CheckpointChoice = number | 'best' | 'last';

export function chooseCheckpoint(
  checkpoints: readonly CheckpointRow[],
  choice: CheckpointChoice,
  runId: number,
): CheckpointRow {
  if (typeof choice === 'number') {
    const found = checkpoints.find((c) => c.id === choice);
    if (!found) {
      throw new RunError(
        'not-found',
        `Run ${runId} has no checkpoint ${choice}.`,
        checkpoints.length
          ? `Its checkpoints are ${checkpoints.map((c) => `${c.id} (step ${c.step})`).join(', ')}.`
          : 'It has saved no checkpoint yet.',
      );
    }
    return found;
  }
  const last = checkpoints.reduce<CheckpointRow | undefined>(
    (a, c) => (!a || c.step > a.step ? c : a),
    undefined,
  );
  if (!last) {
    throw new RunError(
      'no-checkpoint',
      `Run ${runId} has not saved a checkpoint yet, so there is no trained model to use.`,
      'Wait until it saves one (its page shows when), or use the base model.',
    );
  }
  if (choice === 'last') return last;
  const scored = checkpoints.filter((c) => c.evalLoss !== null && Number.isFinite(c.evalLoss));
  return scored.reduce((best, c) => (c.evalLoss! < best.evalLoss! ? c : best), scored[0] ?? last);
}

/** The PEFT adapter folder inside a checkpoint folder (the trainer writes it there). */
export const adapterDirOf = (checkpoint: Pick<CheckpointRow, 'path'>) =>
  path.join(checkpoint.path, 'adapter');
