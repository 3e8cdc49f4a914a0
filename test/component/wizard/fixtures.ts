// Answers for the fake API in the wizard's component tests, shaped like main's.
import type {
  DatasetExample,
  DatasetImportResult,
  DatasetLengths,
  DatasetPreview,
  DatasetVersion,
  ModelSummary,
  RunSummary,
  ValidationReport,
} from '../../../main/api/contract';

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

export function run(id: number, overrides: Partial<RunSummary> = {}): RunSummary {
  return {
    id,
    name: `run ${id}`,
    status: 'completed',
    backend: 'cpu',
    device: 'cpu',
    createdAt: Date.now() - 3_600_000,
    startedAt: Date.now() - 3_500_000,
    finishedAt: Date.now() - 600_000,
    error: null,
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
