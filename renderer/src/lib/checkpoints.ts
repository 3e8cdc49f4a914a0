// Which checkpoints matter most: the best (lowest eval loss) and the last.
import type { RunDetailsInfo } from '../../../main/api/contract';

type Checkpoint = RunDetailsInfo['checkpoints'][number];

/** The checkpoint with the lowest eval loss; without eval losses, the last one. */
export function bestCheckpointId(checkpoints: Checkpoint[]): number | null {
  let best: Checkpoint | null = null;
  for (const c of checkpoints) {
    if (c.evalLoss !== null && (best?.evalLoss == null || c.evalLoss < best.evalLoss)) best = c;
  }
  return (best ?? lastCheckpoint(checkpoints))?.id ?? null;
}

export function lastCheckpoint(checkpoints: Checkpoint[]): Checkpoint | null {
  return checkpoints.reduce<Checkpoint | null>(
    (last, c) => (last === null || c.step > last.step ? c : last),
    null,
  );
}

/** What to compare first: the base model, the best and the last checkpoint. */
export function defaultComparison(checkpoints: Checkpoint[]): (number | 'base')[] {
  const ids = new Set<number>();
  const best = bestCheckpointId(checkpoints);
  if (best !== null) ids.add(best);
  const last = lastCheckpoint(checkpoints);
  if (last) ids.add(last.id);
  return ['base', ...ids];
}
