// Plain-data answers for the run, chat and export commands, shaped like main's (see the contract).
import type {
  ExportDetails,
  RunDefinitionInfo,
  RunDetailsInfo,
  RunPlanInfo,
  RunSummary,
} from '../../main/api/contract';

export function runSummary(patch: Partial<RunSummary> = {}): RunSummary {
  return {
    id: 7,
    name: 'tiny · Quick',
    status: 'running',
    backend: 'cpu',
    device: 'CPU',
    createdAt: 1_700_000_000_000,
    startedAt: 1_700_000_001_000,
    finishedAt: null,
    error: null,
    ...patch,
  };
}

export function definition(patch: Partial<RunDefinitionInfo> = {}): RunDefinitionInfo {
  return {
    modelDir: '/models/tiny',
    modelHash: 'abc',
    datasetVersionId: 3,
    split: { train: 160, eval: 16, source: 'split' },
    template: 'chatml',
    preset: 'quick',
    overrides: [],
    hyper: { lr: 2e-4, loraR: 8, maxLen: 2048, epochs: 3, maxSteps: null, schedule: 'cosine' },
    plan: {
      trainExamples: 160,
      evalExamples: 16,
      stepsPerEpoch: 40,
      totalSteps: 120,
      epochs: 3,
      effectiveBatch: 4,
    },
    backend: 'cpu',
    warnings: [],
    fit: { device: 'cpu', totalBytes: 3 * 2 ** 30, availableBytes: 12 * 2 ** 30 },
    ...patch,
  };
}

export function planInfo(seconds: number, patch: Partial<RunDefinitionInfo> = {}): RunPlanInfo {
  return {
    definition: definition(patch),
    estimate: {
      trainedTokens: 480_000,
      tokensPerSecond: 480_000 / seconds,
      seconds,
      basis: 'measured in run 2',
    },
  };
}

export function runDetails(patch: Partial<RunDetailsInfo> = {}): RunDetailsInfo {
  return {
    run: runSummary(),
    definition: definition(),
    interrupted: false,
    latest: { step: 0, loss: null, evalLoss: null, stopRate: null },
    checkpoints: [],
    samples: [],
    ...patch,
  };
}

export function checkpoint(
  id: number,
  step: number,
  evalLoss: number | null,
): RunDetailsInfo['checkpoints'][number] {
  return {
    id,
    step,
    path: `/home/runs/7/checkpoint-${step}`,
    sizeBytes: 2_000_000,
    evalLoss,
    createdAt: 1_700_000_100_000,
  };
}

export function exportDetails(patch: Partial<ExportDetails> = {}): ExportDetails {
  return {
    export: {
      id: 4,
      runId: 7,
      kind: 'ollama',
      path: '/home/exports/run-7-ollama',
      status: 'completed',
      createdAt: 1_700_000_200_000,
      finishedAt: 1_700_000_260_000,
    },
    format: 'ollama',
    files: [
      { path: '/home/exports/run-7-ollama/Modelfile', bytes: 300 },
      { path: '/home/exports/run-7-ollama/adapter.gguf', bytes: 2_100_000 },
    ],
    notes: ['The Modelfile uses the chatml template the adapter was trained with.'],
    verification: {
      passed: true,
      checks: [
        { name: 'Loads in llama.cpp', passed: true, detail: 'adapter and base model load' },
        {
          name: 'Same next-token probabilities',
          passed: true,
          detail: 'max |Δp| 2.1e-7 (tolerance 1e-4), same top token',
        },
      ],
    },
    ollamaCommand: 'ollama create tiny-tuned -f Modelfile',
    error: null,
    lineage: {
      dataset: { id: 1, name: 'support', versionId: 3, version: 1 },
      run: { id: 7, name: 'tiny · Quick', status: 'completed' },
      checkpoint: { id: 11, step: 120, evalLoss: 1.2 },
      modelDir: '/models/tiny',
      template: 'chatml',
    },
    ...patch,
  };
}
