// Runs, checkpoints, samples and exports as main returns them, for the run pages' component tests.
import type {
  CheckpointComparison,
  ExportDetails,
  ExportSummary,
  MetricSeriesPoint,
  RunDefinitionInfo,
  RunDetailsInfo,
  RunSummary,
} from '../../../main/api/contract';

const T0 = Date.UTC(2026, 0, 10, 9, 0, 0);

export function runSummary(id: number, patch: Partial<RunSummary> = {}): RunSummary {
  return {
    id,
    name: `tiny-llama · Quick ${id}`,
    status: 'completed',
    backend: 'cpu',
    device: 'CPU (16 threads)',
    createdAt: T0 + id * 3_600_000,
    startedAt: T0 + id * 3_600_000 + 1000,
    finishedAt: T0 + id * 3_600_000 + 1000 + id * 60_000,
    error: null,
    ...patch,
  };
}

export function definition(
  patch: Partial<RunDefinitionInfo> = {},
  hyper: Record<string, unknown> = {},
): RunDefinitionInfo {
  return {
    modelDir: '/home/me/models/tiny-llama',
    modelHash: 'abcdef0123456789',
    datasetVersionId: 3,
    split: { train: 90, eval: 10, source: 'split' },
    template: 'chatml',
    preset: 'quick',
    overrides: [],
    hyper: { lr: 2e-4, schedule: 'cosine', loraR: 16, epochs: 3, maxSteps: null, seed: 42, ...hyper },
    plan: {
      trainExamples: 90,
      evalExamples: 10,
      stepsPerEpoch: 23,
      totalSteps: 69,
      epochs: 3,
      effectiveBatch: 4,
    },
    backend: 'cpu',
    warnings: [],
    fit: { device: 'CPU', totalBytes: 16 * 1024 ** 3, availableBytes: 8 * 1024 ** 3 },
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
    path: `/home/me/.tunesmith/runs/1/checkpoints/step-${step}`,
    sizeBytes: 12 * 1024 ** 2,
    evalLoss,
    createdAt: T0 + step * 1000,
  };
}

export function sample(
  id: number,
  step: number,
  prompt: string,
  output: string,
  stopped = true,
): RunDetailsInfo['samples'][number] {
  return { id, step, prompt, output, stopped, createdAt: T0 + step * 1000 };
}

export function runDetails(id: number, patch: Partial<RunDetailsInfo> = {}): RunDetailsInfo {
  return {
    run: runSummary(id),
    definition: definition(),
    interrupted: false,
    latest: { step: 69, loss: 0.8123, evalLoss: 1.0456, stopRate: 0.67 },
    checkpoints: [checkpoint(11, 23, 1.31), checkpoint(12, 46, 1.02), checkpoint(13, 69, 1.05)],
    samples: [
      sample(1, 23, 'What is the capital of France?', 'Paris is a city in', false),
      sample(2, 23, 'Say hello', 'Hello!'),
      sample(3, 46, 'What is the capital of France?', 'The capital of France is Paris.'),
      sample(4, 46, 'Say hello', 'Hello there!'),
      sample(5, 46, 'Count to three', '\n\n\n\n', false),
    ],
    ...patch,
  };
}

export function series(values: number[], everySteps = 1): MetricSeriesPoint[] {
  return values.map((value, i) => ({ step: (i + 1) * everySteps, value, at: T0 + i * 1000 }));
}

export function metrics(lossValues = [2.5, 1.9, 1.4, 1.1]): Record<string, MetricSeriesPoint[]> {
  return {
    loss: series(lossValues),
    eval_loss: series([1.8, 1.2], 2),
    lr: series([1e-4, 2e-4, 2e-4, 1e-4]),
    grad_norm: series([0.9, 0.7, 0.5, 0.4]),
    tokens_per_second: series([120, 130, 128, 131]),
    memory_bytes: series([1e9, 1e9, 1e9, 1e9]),
    stop_rate: series([0.33, 0.67], 2),
  };
}

export function exportSummary(id: number, runId: number, patch: Partial<ExportSummary> = {}): ExportSummary {
  return {
    id,
    runId,
    kind: 'ollama',
    path: `/home/me/.tunesmith/exports/run-${runId}-ollama`,
    status: 'completed',
    createdAt: T0 + 10 * 3_600_000,
    finishedAt: T0 + 10 * 3_600_000 + 5000,
    ...patch,
  };
}

export function exportDetails(id: number, patch: Partial<ExportDetails> = {}): ExportDetails {
  const summary = exportSummary(id, 5);
  return {
    export: summary,
    format: 'ollama',
    files: [
      { path: `${summary.path}/adapter.gguf`, bytes: 6 * 1024 ** 2 },
      { path: `${summary.path}/Modelfile`, bytes: 412 },
    ],
    notes: [],
    verification: {
      passed: true,
      checks: [
        { name: 'next-token probabilities', passed: true, detail: 'max |Δp| 2.1e-7 (tolerance 1e-4)' },
      ],
    },
    ollamaCommand: 'ollama create support-bot -f Modelfile',
    error: null,
    lineage: {
      dataset: { id: 2, name: 'support-replies', versionId: 3, version: 4 },
      run: { id: 5, name: 'tiny-llama · Quick', status: 'completed' },
      checkpoint: { id: 12, step: 46, evalLoss: 1.02 },
      modelDir: '/home/me/models/tiny-llama',
      template: 'chatml',
    },
    ...patch,
  };
}

/** What runs.compare answers for the given columns: two prompts, stop rates as given. */
export function comparison(
  columns: {
    checkpoint: CheckpointComparison['columns'][number]['checkpoint'];
    stopRate: number;
    meanReplyTokens: number;
  }[],
): CheckpointComparison {
  return {
    prompts: ['What is the capital of France?', 'Say hello'],
    columns: columns.map((c, i) => ({
      ...c,
      replies: [
        { text: `answer ${i} to France`, stopped: c.stopRate > 0, tokens: 12 },
        { text: `answer ${i} to hello`, stopped: c.stopRate >= 1, tokens: 64 },
      ],
    })),
  };
}
