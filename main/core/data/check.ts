// `tunesmith data check` as a service: a model's tokenizer, a template and a stream of examples in;
// the label audit and a few examples rendered with their trained spans out. The examples come from a
// stored dataset version, or from a file imported into a throwaway store (nothing is kept).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../store/index.js';
import { type AuditReport, type ExampleInput, LabelAuditor, type TooLongPolicy } from './audit.js';
import { DatasetService, type SourceRowData } from './datasets.js';
import { createTemplate, TEMPLATE_NAMES, type TemplateName } from './template/index.js';
import type { ChatTemplate } from './template/types.js';
import {
  loadModelTokenizer,
  type ModelTokenizer,
  SegmentEncoder,
  type TokenizedExample,
} from './tokenize.js';
import { checkExample, type ExampleLocation, exampleLabel } from './validate.js';

export interface DataCheckOptions {
  modelDir: string;
  template: TemplateName;
  maxLen: number;
  tooLong?: TooLongPolicy;
  /** How many examples to render with their trained spans marked (the first ones trained). */
  show?: number;
  /** Example numbers (1-based) to render as well, wherever they are. */
  pick?: readonly number[];
}

/** A run of tokens with one trained flag, decoded back to text (special tokens kept). */
export interface ShownSpan {
  text: string;
  trained: boolean;
  /** A special token (only when decodeSpans was given the special ids). */
  special?: boolean;
}

export interface ShownExample {
  example: number;
  where: string;
  tokens: number;
  trainedTokens: number;
  /** Empty when the example will not be trained (see the report's issues). */
  spans: ShownSpan[];
  trainedInRun: boolean;
}

export interface DataCheckResult {
  tokenizer: { dir: string; kind: string; hash: string };
  report: AuditReport;
  shown: ShownExample[];
}

/** The templates other than `name` that can be built for this tokenizer (for suggestions). */
function otherTemplates(model: ModelTokenizer, name: TemplateName): ChatTemplate[] {
  return TEMPLATE_NAMES.filter((n) => n !== name).flatMap((n) => {
    try {
      return [createTemplate(n, model.context, model.specialTokens)];
    } catch {
      return [];
    }
  });
}

export function openAuditor(
  model: ModelTokenizer,
  options: Pick<DataCheckOptions, 'template' | 'maxLen' | 'tooLong'>,
): LabelAuditor {
  const template = createTemplate(options.template, model.context, model.specialTokens);
  return new LabelAuditor(new SegmentEncoder(model), template, {
    maxLen: options.maxLen,
    tooLong: options.tooLong ?? 'report',
    alternatives: otherTemplates(model, options.template),
  });
}

export async function checkData(
  examples: Iterable<ExampleInput> | AsyncIterable<ExampleInput>,
  options: DataCheckOptions,
  model: ModelTokenizer = loadModelTokenizer(options.modelDir),
): Promise<DataCheckResult> {
  const auditor = openAuditor(model, options);
  const shown: ShownExample[] = [];
  const show = options.show ?? 0;
  const pick = new Set(options.pick ?? []);
  let firstShown = 0;
  for await (const example of examples) {
    const validation = checkExample({
      ordinal: example.ordinal,
      messages: example.messages,
      ...(example.location && { location: example.location }),
    });
    const audited = auditor.add(example, validation);
    const picked = pick.has(example.ordinal + 1);
    const first = audited !== null && firstShown < show;
    if (first) firstShown++;
    if (picked || first) {
      shown.push({
        example: example.ordinal + 1,
        where: exampleLabel(example.ordinal, example.location),
        tokens: audited?.tokens.ids.length ?? 0,
        trainedTokens: audited?.tokens.trained.reduce((a, b) => a + b, 0) ?? 0,
        spans: audited ? decodeSpans(model, audited.tokens) : [],
        trainedInRun: audited !== null,
      });
    }
  }
  return {
    tokenizer: { dir: model.dir, kind: model.kind, hash: model.hash },
    report: auditor.report(),
    shown,
  };
}

/**
 * The tokens as text, cut where the trained flag changes — and, given `special` token ids, around
 * every special token (each one a span of its own, flagged). Decoding prefixes and taking the
 * difference keeps the spaces that decoders strip from the start of a decoded run.
 */
export function decodeSpans(
  model: ModelTokenizer,
  tokens: TokenizedExample,
  special: ReadonlySet<number> = new Set(),
): ShownSpan[] {
  const ids = Array.from(tokens.ids);
  const decode = (end: number) =>
    end === 0
      ? ''
      : model.tokenizer.decode(ids.slice(0, end), {
          skip_special_tokens: false,
          clean_up_tokenization_spaces: false,
        });
  const spans: ShownSpan[] = [];
  let start = 0;
  let before = '';
  for (let i = 1; i <= ids.length; i++) {
    const cut =
      i === ids.length ||
      tokens.trained[i] !== tokens.trained[start] ||
      special.has(ids[i]!) ||
      special.has(ids[start]!);
    if (!cut) continue;
    const upTo = decode(i);
    const span: ShownSpan = { text: upTo.slice(before.length), trained: tokens.trained[start] === 1 };
    if (special.has(ids[start]!)) span.special = true;
    spans.push(span);
    before = upTo;
    start = i;
  }
  return spans;
}

export function locationOf(source: unknown): ExampleLocation | undefined {
  if (!source || typeof source !== 'object') return undefined;
  const s = source as Partial<SourceRowData>;
  const location: ExampleLocation = {};
  if (typeof s.file === 'string') location.file = s.file;
  if (typeof s.line === 'number') location.line = s.line;
  if (typeof s.row === 'number') location.row = s.row;
  return location;
}

/** The examples of a stored dataset version, page by page. */
export function* versionExamples(store: Store, versionId: number, page = 500): Generator<ExampleInput> {
  for (let offset = 0; ; offset += page) {
    const rows = store.datasets.getVersionExamples(versionId, { offset, limit: page });
    for (const row of rows) {
      const location = locationOf(row.sourceRow);
      yield { ordinal: row.ordinal, messages: row.messages, ...(location && { location }) };
    }
    if (rows.length < page) return;
  }
}

/**
 * A file's examples through the importer (format and column detection, the same as `data import`),
 * stored in a throwaway database that is deleted when the iteration ends.
 */
export async function* fileExamples(file: string): AsyncGenerator<ExampleInput> {
  const dir = mkdtempSync(path.join(tmpdir(), 'tunesmith-check-'));
  const store = openStore(path.join(dir, 'check.db'));
  try {
    const { version } = await new DatasetService(store, { tempDir: dir }).importFile(file);
    yield* versionExamples(store, version.id);
  } finally {
    store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
