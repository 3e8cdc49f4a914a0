// A run planned but not stored (`runs.plan`): the same definition `runs.create` makes (settings, plan,
// warnings, fit check — the same errors when it cannot fit or start) plus how long it should take.
// The token files it prepares are the cache `runs.create` reuses; nothing else is written.
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import type { DatasetService } from '../data/datasets.js';
import { readTokenFile } from '../data/token-file.js';
import type { ModelTokenizer } from '../data/tokenize.js';
import { readModelConfig } from '../models/config.js';
import { parameterCount } from '../models/tensor-names.js';
import type { Store } from '../store/index.js';
import { type CreateRunRequest, defineRun, type RunDefinition, RunError } from './define.js';

export interface RunEstimate {
  trainedTokens: number;
  tokensPerSecond: number;
  seconds: number;
  basis: string;
}

export interface RunPlan {
  definition: RunDefinition;
  estimate: RunEstimate;
}

export interface PlanRunDeps {
  store: Store;
  datasets: DatasetService;
  cacheDir: string;
  /** Planning is repeated as settings change: a cached tokenizer saves a second or two each time. */
  loadTokenizer?: (modelDir: string) => ModelTokenizer;
}

/** The trainer's per-step speed metric: trained tokens per second of step time (see trainer/index.ts). */
const SPEED_METRIC = 'tokens_per_second';

export async function planRun(deps: PlanRunDeps, request: CreateRunRequest): Promise<RunPlan> {
  // Planning must not import the file again on every change of a setting: the app imports first.
  const { dataFile, evalFile, ...rest } = request;
  if (dataFile !== undefined && request.datasetVersionId === undefined) {
    throw new RunError(
      'plan-needs-dataset',
      'A run can only be planned on data that is already imported.',
      'Import the file first (datasets.import or datasets.upload) and plan with its datasetVersionId.',
    );
  }
  const definition = await defineRun(deps, rest);
  const perEpoch = trainedTokensPerEpoch(definition.trainTokenFile);
  // Trained tokens (the reply tokens the loss is taken on), not every token: the trainer's speed
  // metric counts the same, so tokens ÷ speed is the time spent in training steps. Summed over the
  // run's epochs (fractional when maxSteps cuts the last one). Evaluations and samples add a little.
  const trainedTokens = Math.round(perEpoch * definition.plan.epochs);
  const speed = measuredSpeed(deps.store, definition) ?? (await roughSpeed(definition));
  return {
    definition,
    estimate: {
      trainedTokens,
      tokensPerSecond: speed.tokensPerSecond,
      seconds: speed.tokensPerSecond > 0 ? trainedTokens / speed.tokensPerSecond : 0,
      basis: speed.basis,
    },
  };
}

/** The audit stored next to a token file (prepareTokenFile writes it), when it can be read. */
function storedAudit(tokenFile: string): { trainedTokens: number; totalTokens: number } | null {
  const reportFile = `${tokenFile.replace(/\.tokens$/, '')}.audit.json`;
  if (!existsSync(reportFile)) return null;
  try {
    const report = JSON.parse(readFileSync(reportFile, 'utf8')) as {
      trainedTokens?: unknown;
      totalTokens?: unknown;
    };
    if (typeof report.trainedTokens === 'number' && typeof report.totalTokens === 'number') {
      return { trainedTokens: report.trainedTokens, totalTokens: report.totalTokens };
    }
  } catch {
    // Unreadable: the caller counts from the token file.
  }
  return null;
}

/** Trained tokens in one pass over the training examples. */
export function trainedTokensPerEpoch(tokenFile: string): number {
  const audit = storedAudit(tokenFile);
  if (audit) return audit.trainedTokens;
  let trained = 0;
  for (const flag of readTokenFile(tokenFile).trained) trained += flag;
  return trained;
}

/** The median step speed of the newest run of this model on this backend, its first step left out. */
function measuredSpeed(store: Store, d: RunDefinition): { tokensPerSecond: number; basis: string } | null {
  const runId = store.runs.latestMeasured(d.modelHash, d.backend, SPEED_METRIC);
  if (runId === undefined) return null;
  const values = store.metrics
    .series(runId, SPEED_METRIC)
    .map((p) => p.value)
    .filter((v) => Number.isFinite(v) && v > 0);
  // The first step also pays for warming up (allocations, caches).
  const steady = (values.length > 1 ? values.slice(1) : values).sort((a, b) => a - b);
  if (steady.length === 0) return null;
  const median = steady[Math.floor((steady.length - 1) / 2)]!;
  return {
    tokensPerSecond: median,
    basis: `measured in run ${runId} (same model, ${d.backend === 'cpu' ? 'CPU' : 'GPU'}); other settings may change it`,
  };
}

/**
 * A rough figure before any run of this model: training costs about 6 floating-point operations
 * per parameter per token (forward, backward, recomputed activations), at an effective rate
 * guessed for the backend. Only the trained share of the tokens counts as trained tokens.
 */
async function roughSpeed(d: RunDefinition): Promise<{ tokensPerSecond: number; basis: string }> {
  const params = parameterCount(await readModelConfig(d.modelDir));
  const effectiveFlops = d.backend === 'cuda' ? 100e12 : 10e9 * Math.max(1, os.availableParallelism());
  const trainedShare = trainedShareOf(d.trainTokenFile);
  return {
    tokensPerSecond: (effectiveFlops / (6 * Math.max(1, params))) * trainedShare,
    basis:
      d.backend === 'cuda'
        ? 'a rough figure for a GPU; the first run of this model measures the real speed'
        : 'a rough figure for this CPU; the first run of this model measures the real speed',
  };
}

/** The share of a token file's tokens that are trained (half, when its audit is not there). */
function trainedShareOf(tokenFile: string): number {
  const audit = storedAudit(tokenFile);
  return audit && audit.totalTokens > 0 ? audit.trainedTokens / audit.totalTokens : 0.5;
}
