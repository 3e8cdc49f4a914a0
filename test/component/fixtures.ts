// Answers for the fake API in the component tests, shaped like main's (see main/api/contract.ts):
// models and datasets for the wizard's first steps, runs, checkpoints, samples, plans and exports.
// A run's defaults are a finished run with its history; newRunDetails is one that has just started.
import type {
  CheckpointComparison,
  DatasetExample,
  DatasetImportResult,
  DatasetLengths,
  DatasetPreview,
  DatasetVersion,
  ExportDetails,
  ExportSummary,
  MetricSeriesPoint,
  ModelSummary,
  RunDefinitionInfo,
  RunDetailsInfo,
  RunPlanInfo,
  RunSummary,
  ValidationReport,
} from '../../main/api/contract';

export function model(id: number, overrides: Partial<ModelSummary> = {}): ModelSummary {
  return {
    id,
    name: `model-${id}`,
    path: `/models/model-${id}`,
    architecture: 'qwen2',
    source: 'local',
    status: 'ready',
    usable: true,
    sizeBytes: 988 * 1024 ** 2,
    params: 494_000_000,
    repoId: null,
    revision: null,
    commit: null,
    chatTemplate: 'model',
    fit: {
      device: 'cpu',
      availableBytes: 16 * 1024 ** 3,
      memory: [{ seqLen: 2048, bytes: 3 * 1024 ** 3, fits: true }],
      fits: true,
      verdict:
        'No usable GPU: trains on the CPU (slow); needs 3.0 GB at 2k tokens of the 16.0 GB of free memory.',
    },
    note: null,
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
}

export function report(overrides: Partial<ValidationReport> = {}): ValidationReport {
  return {
    exampleCount: 3,
    errorCount: 0,
    warningCount: 0,
    blockingCount: 0,
    blockingOrdinals: [],
    byRule: {},
    issues: [],
    truncated: false,
    ...overrides,
  };
}

export function version(id: number, overrides: Partial<DatasetVersion> = {}): DatasetVersion {
  return {
    id,
    datasetId: 1,
    version: id,
    parentVersionId: id > 1 ? id - 1 : null,
    sourcePath: '/data/examples.csv',
    sourceFormat: 'csv',
    mapping: { kind: 'columns', system: null, user: ['question'], assistant: 'answer' },
    note: null,
    exampleCount: 3,
    trainCount: null,
    evalCount: null,
    createdAt: 1_700_000_000_000,
    ...overrides,
  };
}

/** Example `ordinal`: question "Question N", answer "Answer N" (N counts from 1). */
export function example(ordinal: number, overrides: Partial<DatasetExample> = {}): DatasetExample {
  return {
    ordinal,
    split: null,
    messages: [
      { role: 'user', content: `Question ${ordinal + 1}` },
      { role: 'assistant', content: `Answer ${ordinal + 1}` },
    ],
    source: {
      row: ordinal + 2,
      values: { question: `Question ${ordinal + 1}`, answer: `Answer ${ordinal + 1}` },
    },
    issues: [],
    ...overrides,
  };
}

export function importResult(overrides: Partial<DatasetImportResult> = {}): DatasetImportResult {
  return {
    dataset: { id: 1, name: 'examples', createdAt: 1, updatedAt: 1 },
    version: version(1),
    report: report(),
    mapping: { kind: 'columns', system: null, user: ['question'], assistant: 'answer' },
    layout: 'columns',
    reason: 'Column names suggest the roles: question → user, answer → assistant reply.',
    format: {
      format: 'csv',
      delimiter: ',',
      reason: 'The file name ends in .csv and its lines hold commas.',
    },
    evalFormat: null,
    ...overrides,
  };
}

export function preview(overrides: Partial<DatasetPreview> = {}): DatasetPreview {
  return {
    ordinal: 0,
    template: 'chatml',
    endToken: '<|im_end|>',
    tokens: 24,
    trainedTokens: 4,
    maxLen: 2048,
    trainedInRun: true,
    problem: null,
    spans: [
      { text: '<|im_start|>', trained: false, special: true },
      { text: 'user\nQuestion 1', trained: false },
      { text: '<|im_end|>', trained: false, special: true },
      { text: '\n', trained: false },
      { text: '<|im_start|>', trained: false, special: true },
      { text: 'assistant\n', trained: false },
      { text: 'Answer 1', trained: true },
      { text: '<|im_end|>', trained: true, special: true },
    ],
    ...overrides,
  };
}

export function lengths(overrides: Partial<DatasetLengths> = {}): DatasetLengths {
  return {
    template: 'chatml',
    maxLen: 2048,
    count: 100,
    min: 40,
    median: 300,
    p95: 1500,
    max: 3000,
    overMaxLen: 4,
    bins: Array.from({ length: 10 }, (_, i) => ({ from: i * 320, to: (i + 1) * 320, count: 10 - i })),
    ...overrides,
  };
}

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
    hyper: {
      lr: 2e-4,
      schedule: 'cosine',
      loraR: 16,
      maxLen: 2048,
      epochs: 3,
      maxSteps: null,
      seed: 42,
      ...hyper,
    },
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

/** A run that has just started: training, no checkpoint or sample yet. */
export function newRunDetails(id: number, patch: Partial<RunDetailsInfo> = {}): RunDetailsInfo {
  return runDetails(id, {
    run: runSummary(id, { status: 'running', finishedAt: null }),
    latest: { step: 0, loss: null, evalLoss: null, stopRate: null },
    checkpoints: [],
    samples: [],
    ...patch,
  });
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

export function exportDetails(id: number, patch: Partial<ExportDetails> = {}, runId = 5): ExportDetails {
  const summary = exportSummary(id, runId);
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
    ollamaName: 'support-bot',
    ollamaAvailable: false,
    error: null,
    lineage: {
      dataset: { id: 2, name: 'support-replies', versionId: 3, version: 4 },
      run: { id: runId, name: 'tiny-llama · Quick', status: 'completed' },
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
