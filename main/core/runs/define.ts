// Defining a run: the exact model (folder + content hash), the dataset version and its split, the
// template, the preset with its overrides, the plan (steps, epochs), the sanity warnings and the fit
// check, and the token files the trainer reads. Everything a run needs to start or resume is in the
// RunDefinition stored as the run's config.
import os from 'node:os';
import path from 'node:path';
import type { SamplePrompt } from '../../trainer/protocol.js';
import { endTokenId } from '../data/audit.js';
import { openAuditor } from '../data/check.js';
import type { DatasetService } from '../data/datasets.js';
import { createTemplate, type TemplateName } from '../data/template/index.js';
import { prepareTokenFile, requireTokenFile, type TokenFile } from '../data/token-file.js';
import { loadModelTokenizer, type ModelTokenizer } from '../data/tokenize.js';
import { defaultTemplate, promptIds } from '../engine/generate.js';
import { loadNative } from '../engine/native.js';
import { readModelConfig } from '../models/config.js';
import type { Store } from '../store/index.js';
import {
  applyOverrides,
  type Hyperparameters,
  PRESETS,
  type PresetName,
  planTraining,
  RunConfigError,
  type RunWarning,
  sanityWarnings,
  type TrainingPlan,
} from './config.js';
import { checkFit, type FitCheck, fitError, modelContentHash } from './fit.js';

export interface CreateRunRequest {
  modelDir: string;
  /** A CSV/JSONL/Parquet file, imported as a new dataset version (or an existing version id). */
  dataFile?: string;
  evalFile?: string;
  datasetVersionId?: number;
  template?: TemplateName;
  preset?: PresetName;
  /** `key=value` settings over the preset. */
  overrides?: readonly string[];
  backend?: 'auto' | 'cpu' | 'cuda';
  name?: string;
  /** Memory the fit check compares with; default: free system memory (CPU) or GPU free memory. */
  availableBytes?: number;
}

/** What a run stores as its config (runs.config). */
export interface RunDefinition {
  modelDir: string;
  modelHash: string;
  datasetVersionId: number;
  split: { train: number; eval: number; source: 'eval-file' | 'split' | 'none' };
  template: TemplateName;
  preset: PresetName;
  overrides: string[];
  hyper: Hyperparameters;
  plan: TrainingPlan;
  backend: 'cpu' | 'cuda';
  warnings: RunWarning[];
  fit: { device: string; totalBytes: number; availableBytes: number; estimate: FitCheck['estimate'] };
  trainTokenFile: string;
  evalTokenFile: string | null;
  samplePrompts: SamplePrompt[];
  stopTokens: number[];
  /** Measure the micro-batch on the GPU before training (calibrate.ts). Absent = on. */
  calibrate?: boolean;
}

export class RunError extends Error {
  override readonly name = 'RunError';
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

export interface DefineRunDeps {
  store: Store;
  datasets: DatasetService;
  /** Where token files are cached (the home folder's cache/). */
  cacheDir: string;
  /** Loads a model folder's tokenizer (default: from disk; `runs.plan` passes a cache). */
  loadTokenizer?: (modelDir: string) => ModelTokenizer;
}

/** Imports the data if needed, tokenizes it, checks settings and memory; throws what to change. */
export async function defineRun(deps: DefineRunDeps, request: CreateRunRequest): Promise<RunDefinition> {
  const modelDir = path.resolve(request.modelDir);
  const modelHash = modelContentHash(modelDir);
  const config = await readModelConfig(modelDir);
  const backend = chooseBackend(request.backend ?? 'auto');

  let versionId: number;
  let splitSource: RunDefinition['split']['source'];
  if (request.dataFile) {
    const imported = await deps.datasets.importFile(
      request.dataFile,
      request.evalFile ? { evalFile: request.evalFile } : { splitRatio: 0.1, seed: 42 },
    );
    versionId = imported.version.id;
    splitSource = request.evalFile ? 'eval-file' : 'split';
  } else if (request.datasetVersionId !== undefined) {
    versionId = request.datasetVersionId;
    splitSource = 'split';
  } else {
    throw new RunError('no-data', 'A run needs data.', 'Pass --data FILE (and --eval FILE) or --dataset ID.');
  }
  deps.datasets.assertTrainable(versionId);
  const rows = versionRows(deps.store, versionId);
  const trainRows = rows.filter((r) => r.split !== 'eval');
  const evalRows = rows.filter((r) => r.split === 'eval');
  if (evalRows.length === 0) splitSource = 'none';

  const preset = request.preset ?? 'quick';
  const overrides = [...(request.overrides ?? [])];
  const hyper = applyOverrides(PRESETS[preset].build(trainRows.length), overrides);

  const tokenizer = (deps.loadTokenizer ?? loadModelTokenizer)(modelDir);
  const template = request.template ?? defaultTemplate(tokenizer);
  const chat = createTemplate(template, tokenizer.context, tokenizer.specialTokens);
  const tokenFile = async (split: 'train' | 'eval', selected: typeof rows) => {
    const prepared = await prepareTokenFile({
      cacheDir: deps.cacheDir,
      key: {
        dataset: `version:${versionId}:${split}`,
        tokenizerHash: tokenizer.hash,
        template,
        maxLen: hyper.maxLen,
        tooLong: 'exclude',
      },
      auditor: () => openAuditor(tokenizer, { template, maxLen: hyper.maxLen, tooLong: 'exclude' }),
      examples: () => selected.map((r) => ({ ordinal: r.ordinal, messages: r.messages })),
    });
    return { file: requireTokenFile(prepared), report: prepared.report };
  };
  const train = await tokenFile('train', trainRows);
  const evaluation: { file: TokenFile; report: unknown } | null = evalRows.length
    ? await tokenFile('eval', evalRows)
    : null;

  const plan = planTraining(hyper, train.file.examples, evaluation?.file.examples ?? 0);
  const warnings = sanityWarnings(hyper, plan, {
    longest: train.report.longest,
    overMaxLen: train.report.excluded,
    total: train.report.examples,
  });
  const available = request.availableBytes ?? availableBytes(backend);
  const fit = checkFit(config, hyper, backend, available);
  if (!fit.fits) throw fitError(fit);

  const stopTokens = [endTokenId(tokenizer, chat)];
  const promptSource = evalRows.length ? evalRows : trainRows;
  const samplePrompts: SamplePrompt[] = promptSource.slice(0, hyper.samples).map((r) => {
    const firstReply = r.messages.findIndex((m) => m.role === 'assistant');
    const before = r.messages.slice(0, firstReply < 0 ? r.messages.length : firstReply);
    const question = before.filter((m) => m.role === 'user').at(-1)?.content ?? '';
    return { text: question, ids: Array.from(promptIds(tokenizer, chat, before as never)) };
  });

  const definition: RunDefinition = {
    modelDir,
    modelHash,
    datasetVersionId: versionId,
    split: { train: train.file.examples, eval: evaluation?.file.examples ?? 0, source: splitSource },
    template,
    preset,
    overrides,
    hyper,
    plan,
    backend,
    warnings,
    fit: {
      device: fit.device,
      totalBytes: fit.estimate.total,
      availableBytes: fit.availableBytes,
      estimate: fit.estimate,
    },
    trainTokenFile: train.file.path,
    evalTokenFile: evaluation?.file.path ?? null,
    samplePrompts,
    stopTokens,
  };
  return definition;
}

function versionRows(store: Store, versionId: number) {
  const rows = [];
  for (let offset = 0; ; offset += 500) {
    const page = store.datasets.getVersionExamples(versionId, { offset, limit: 500 });
    rows.push(...page);
    if (page.length < 500) return rows;
  }
}

function chooseBackend(choice: 'auto' | 'cpu' | 'cuda'): 'cpu' | 'cuda' {
  if (choice === 'cpu') return 'cpu';
  const probe = loadNative().probe();
  if (probe.backends.includes('cuda')) return 'cuda';
  if (choice === 'cuda') {
    throw new RunConfigError(
      'no-cuda',
      `CUDA cannot be used: ${probe.error ?? 'no GPU found'}.`,
      'Use --backend cpu or auto.',
    );
  }
  return 'cpu';
}

function availableBytes(backend: 'cpu' | 'cuda'): number {
  if (backend === 'cpu') return os.freemem();
  const device = loadNative().probe().devices[0];
  return device?.freeMemoryBytes ?? 0;
}
