// Inspect a Hugging Face model folder before a run: what it is, how big, and everything that would
// stop the engine from loading it. A broken folder is reported as a list of problems (each naming the
// file), not thrown, so the person sees all of them at once; only a path that is not a folder throws.
import { readdir, readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { FormatError } from '../formats/errors.js';
import { numel } from '../formats/safetensors.js';
import { readWeightsLayout, type WeightsLayout } from '../formats/safetensors-index.js';
import { vocabularySize } from './bundled-tokenizers.js';
import {
  type Architecture,
  CAUSAL_LM_CLASS,
  CONFIG_FILE,
  type ModelConfig,
  readModelConfig,
} from './config.js';
import { ModelError, modelError } from './errors.js';
import { estimateTrainingMemory, type MemoryEstimate } from './memory.js';
import { expectedTensors, parameterCount } from './tensor-names.js';

export interface ModelProblem {
  severity: 'error' | 'warning';
  /** The file the problem is in (or the folder). */
  file: string;
  message: string;
}

export interface TokenizerSummary {
  present: boolean;
  hasChatTemplate: boolean;
  eosToken: string | null;
  /** max(id) + 1 of tokenizer.json, added tokens included. */
  vocabSize: number | null;
}

export interface ModelInspection {
  dir: string;
  /** No error-level problem: the engine can load this folder. */
  ok: boolean;
  architecture: Architecture | null;
  config: ModelConfig | null;
  parameterCount: number | null;
  /** The dtype of most parameters (F32, F16, BF16). */
  dtype: string | null;
  weights: { kind: WeightsLayout['kind']; tensorCount: number } | null;
  files: { name: string; sizeBytes: number }[];
  sizeBytes: number;
  tokenizer: TokenizerSummary;
  /** QLoRA (NF4, LoRA r 16 on all projections, micro-batch 1, checkpointing) on a GPU. */
  memory: { seqLen: number; estimate: MemoryEstimate }[];
  problems: ModelProblem[];
}

const WEIGHT_DTYPES = new Set(['F32', 'F16', 'BF16']);
/** How many missing or extra tensor names to spell out before summarising. */
const LIST_LIMIT = 5;
export const MEMORY_SEQ_LENS = [2048, 4096];

export async function inspectModelFolder(dirArg: string): Promise<ModelInspection> {
  const dir = path.resolve(dirArg);
  const files = await listFiles(dir);
  const problems: ModelProblem[] = [];
  const error = (file: string, message: string) => problems.push({ severity: 'error', file, message });
  const warning = (file: string, message: string) => problems.push({ severity: 'warning', file, message });

  let config: ModelConfig | null = null;
  try {
    config = await readModelConfig(dir);
  } catch (err) {
    if (!(err instanceof ModelError)) throw err;
    error(path.join(dir, CONFIG_FILE), err.message);
  }

  let layout: WeightsLayout | null = null;
  try {
    layout = await readWeightsLayout(dir);
    for (const w of layout.warnings) warning(layout.files[0]?.path ?? dir, w);
  } catch (err) {
    if (!(err instanceof FormatError)) throw err;
    error(err.path, err.message);
  }

  if (config?.ropeScaling && config.ropeScaling.type !== 'llama3') {
    error(
      path.join(dir, CONFIG_FILE),
      `rope_scaling type "${config.ropeScaling.type}" is not supported (only Llama-3 "llama3" scaling); use the model's original, unscaled config.`,
    );
  }
  if (config?.className && config.className !== CAUSAL_LM_CLASS[config.architecture]) {
    warning(
      path.join(dir, CONFIG_FILE),
      `architectures says ${config.className}, not ${CAUSAL_LM_CLASS[config.architecture]}: only the language-model weights will be used.`,
    );
  }
  if (config && layout) checkTensors(dir, config, layout, error, warning);

  const tokenizer = await inspectTokenizer(dir, error, warning);
  if (config && tokenizer.vocabSize !== null && tokenizer.vocabSize > config.vocabSize) {
    error(
      path.join(dir, 'tokenizer.json'),
      `the tokenizer has ${tokenizer.vocabSize} tokens but config.json's vocab_size is ${config.vocabSize}: tokens past the embedding table cannot be trained. Use the tokenizer that came with the model.`,
    );
  }

  return {
    dir,
    ok: problems.every((p) => p.severity !== 'error'),
    architecture: config?.architecture ?? null,
    config,
    parameterCount: config ? parameterCount(config) : null,
    dtype: layout ? dominantDtype(layout) : null,
    weights: layout ? { kind: layout.kind, tensorCount: layout.tensors.size } : null,
    files,
    sizeBytes: files.reduce((n, f) => n + f.sizeBytes, 0),
    tokenizer,
    memory: config
      ? MEMORY_SEQ_LENS.map((seqLen) => ({ seqLen, estimate: estimateTrainingMemory(config, { seqLen }) }))
      : [],
    problems,
  };
}

type Report = (file: string, message: string) => void;

function checkTensors(
  dir: string,
  config: ModelConfig,
  layout: WeightsLayout,
  error: Report,
  warning: Report,
) {
  const where =
    layout.kind === 'single'
      ? path.join(dir, 'model.safetensors')
      : path.join(dir, 'model.safetensors.index.json');
  const expected = expectedTensors(config);
  const missing: string[] = [];
  for (const t of expected) {
    const found = layout.tensors.get(t.name);
    if (!found) {
      missing.push(t.name);
      continue;
    }
    const { info, file } = found;
    if (info.shape.join(',') !== t.shape.join(',')) {
      error(
        file,
        `tensor "${t.name}" has shape [${info.shape.join(', ')}] but config.json implies [${t.shape.join(', ')}]; the weights and config.json do not belong together.`,
      );
    }
    if (!WEIGHT_DTYPES.has(info.dtype)) {
      error(
        file,
        `tensor "${t.name}" is ${info.dtype}; the engine loads F32, F16 or BF16 weights (convert pre-quantized checkpoints back, or download the original model).`,
      );
    }
  }
  if (missing.length > 0) {
    error(
      where,
      `${missing.length} tensor${missing.length === 1 ? ' is' : 's are'} missing: ${summarise(missing)}. Download the complete model (every shard), and check that config.json matches it.`,
    );
  }
  const known = new Set(expected.map((t) => t.name));
  const extra = [...layout.tensors.keys()].filter((name) => !known.has(name));
  if (extra.length > 0) {
    warning(
      where,
      `${extra.length} tensor${extra.length === 1 ? '' : 's'} not used by a ${config.architecture} model will be ignored: ${summarise(extra)}.`,
    );
  }
}

function summarise(names: string[]): string {
  const shown = names.slice(0, LIST_LIMIT).map((n) => `"${n}"`);
  return names.length > LIST_LIMIT
    ? `${shown.join(', ')} and ${names.length - LIST_LIMIT} more`
    : shown.join(', ');
}

function dominantDtype(layout: WeightsLayout): string | null {
  const bytes = new Map<string, number>();
  for (const { info } of layout.tensors.values()) {
    bytes.set(info.dtype, (bytes.get(info.dtype) ?? 0) + numel(info.shape));
  }
  return [...bytes].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null;
}

async function inspectTokenizer(dir: string, error: Report, warning: Report): Promise<TokenizerSummary> {
  const tokenizerFile = path.join(dir, 'tokenizer.json');
  const configFile = path.join(dir, 'tokenizer_config.json');
  const summary: TokenizerSummary = {
    present: false,
    hasChatTemplate: false,
    eosToken: null,
    vocabSize: null,
  };

  const tokenizer = await readJson(tokenizerFile);
  if (tokenizer.kind === 'missing') {
    error(
      tokenizerFile,
      'tokenizer.json is missing; Tunesmith needs the fast-tokenizer file. Download it with the model (tokenizer.model alone is not enough).',
    );
  } else if (tokenizer.kind === 'bad') {
    error(tokenizerFile, `tokenizer.json is not valid JSON (${tokenizer.reason}); download it again.`);
  } else {
    summary.present = true;
    summary.vocabSize = vocabularySize(tokenizer.value as Parameters<typeof vocabularySize>[0]);
  }

  const tokenizerConfig = await readJson(configFile);
  let template: unknown;
  if (tokenizerConfig.kind === 'ok') {
    const c = tokenizerConfig.value as Record<string, unknown>;
    template = c.chat_template;
    const eos = c.eos_token;
    summary.eosToken =
      typeof eos === 'string'
        ? eos
        : typeof (eos as { content?: unknown })?.content === 'string'
          ? (eos as { content: string }).content
          : null;
  } else if (tokenizerConfig.kind === 'bad') {
    error(
      configFile,
      `tokenizer_config.json is not valid JSON (${tokenizerConfig.reason}); download it again.`,
    );
  } else {
    warning(
      configFile,
      'tokenizer_config.json is missing: no end-of-sequence token or chat template is known, so the ChatML template will be used.',
    );
  }
  // Newer transformers keep the template in its own file.
  if (template === undefined) {
    const jinja = await readFile(path.join(dir, 'chat_template.jinja'), 'utf8').catch(() => undefined);
    const json = await readJson(path.join(dir, 'chat_template.json'));
    template =
      jinja ?? (json.kind === 'ok' ? (json.value as { chat_template?: unknown }).chat_template : undefined);
  }
  summary.hasChatTemplate =
    (typeof template === 'string' && template.length > 0) || (Array.isArray(template) && template.length > 0);
  if (!summary.hasChatTemplate && tokenizerConfig.kind === 'ok') {
    warning(configFile, 'the model has no chat template; Tunesmith will format conversations as ChatML.');
  }
  return summary;
}

type JsonRead = { kind: 'ok'; value: unknown } | { kind: 'missing' } | { kind: 'bad'; reason: string };

async function readJson(file: string): Promise<JsonRead> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return { kind: 'missing' };
  }
  try {
    return { kind: 'ok', value: JSON.parse(text) };
  } catch (err) {
    return { kind: 'bad', reason: (err as Error).message };
  }
}

async function listFiles(dir: string): Promise<{ name: string; sizeBytes: number }[]> {
  let names: string[];
  try {
    if (!(await stat(dir)).isDirectory()) throw new Error('not a folder');
    names = await readdir(dir);
  } catch {
    throw modelError(
      'not-a-folder',
      dir,
      `${dir} is not a folder.`,
      'Give the path of a Hugging Face model folder (the one holding config.json).',
    );
  }
  const files: { name: string; sizeBytes: number }[] = [];
  for (const name of names.sort()) {
    const s = await stat(path.join(dir, name)).catch(() => null);
    if (s?.isFile()) files.push({ name, sizeBytes: s.size });
  }
  return files;
}
