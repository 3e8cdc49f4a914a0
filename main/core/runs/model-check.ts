// A run's adapters only fit the model they were trained on: before using them (chat comparison,
// export), the model folder must still be the one the run recorded (its content hash).
import type { RunDefinition } from './define.js';
import { RunError } from './define.js';
import { modelContentHash } from './fit.js';

export function assertModelUnchanged(
  definition: Pick<RunDefinition, 'modelDir' | 'modelHash'>,
  runId: number,
): void {
  let hash: string;
  try {
    hash = modelContentHash(definition.modelDir);
  } catch (err) {
    throw new RunError(
      'model-missing',
      (err as Error).message,
      'Put the base model folder back where the run found it.',
    );
  }
  if (hash !== definition.modelHash) {
    throw new RunError(
      'model-changed',
      `The base model folder ${definition.modelDir} changed since run ${runId} was trained, so its adapters no longer fit it.`,
      'Restore the original model files, or train a new run on the model as it is now.',
    );
  }
}
