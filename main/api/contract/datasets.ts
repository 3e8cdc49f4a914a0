// Datasets: import a file as a version, look at a version (report, examples), edit it into a new
// version. `datasets.list` lives in library.ts with the other lists.
import { z } from 'zod';
import { command } from './define.js';

/** One turn. The role may be unknown right after an import; validation reports it. */
export interface ChatTurn {
  role: string;
  content: string;
}

export type DatasetSplit = 'train' | 'eval';

export interface ValidationIssue {
  /** 0-based position in the version; messages count from 1. */
  ordinal: number;
  severity: 'error' | 'warning';
  rule: string;
  message: string;
}

export interface ValidationReport {
  exampleCount: number;
  errorCount: number;
  warningCount: number;
  /** Examples with at least one error: training refuses the version until they are fixed. */
  blockingCount: number;
  blockingOrdinals: number[];
  byRule: Record<string, { severity: 'error' | 'warning'; count: number }>;
  /** The first issues (at most 200), by example. */
  issues: ValidationIssue[];
  truncated: boolean;
}

export interface DatasetInfo {
  id: number;
  name: string;
  createdAt: number;
  updatedAt: number;
}

export interface DatasetVersion {
  id: number;
  datasetId: number;
  version: number;
  parentVersionId: number | null;
  sourcePath: string | null;
  sourceFormat: string | null;
  mapping: unknown;
  note: string | null;
  exampleCount: number;
  trainCount: number | null;
  evalCount: number | null;
  createdAt: number;
}

export interface DetectedSourceFormat {
  format: 'csv' | 'tsv' | 'jsonl' | 'json' | 'parquet';
  delimiter?: string;
  reason: string;
}

export interface DatasetImportResult {
  dataset: DatasetInfo;
  version: DatasetVersion;
  report: ValidationReport;
  mapping: unknown;
  layout: string;
  reason: string;
  format: DetectedSourceFormat;
  evalFormat: DetectedSourceFormat | null;
}

export interface DatasetVersionDetails {
  dataset: DatasetInfo;
  version: DatasetVersion;
  versions: DatasetVersion[];
  report: ValidationReport;
}

export interface DatasetExample {
  ordinal: number;
  split: DatasetSplit | null;
  messages: ChatTurn[];
  /** Where it came from: file line or row, and the original columns or object. */
  source: { file?: string; line?: number; row: number; values: Record<string, unknown> } | null;
  issues: ValidationIssue[];
}

export interface DatasetExamplesPage {
  total: number;
  examples: DatasetExample[];
}

export interface DatasetEditResult {
  version: DatasetVersion;
  report: ValidationReport;
}

export interface DatasetPreviewSpan {
  text: string;
  /** The model learns to produce these tokens (the assistant's reply and its end token). */
  trained: boolean;
  /** A special token (e.g. `<|im_end|>`), shown as a visible marker. */
  special?: boolean;
}

/** One example rendered exactly as training will see it. */
export interface DatasetPreview {
  ordinal: number;
  template: string;
  /** The end-of-turn token that ends each trained reply, e.g. `<|im_end|>`. */
  endToken: string;
  tokens: number;
  trainedTokens: number;
  maxLen: number;
  /** False when training will skip or cut this example (see `problem`). */
  trainedInRun: boolean;
  problem: string | null;
  spans: DatasetPreviewSpan[];
}

/** Token lengths of a version's examples under a model's tokenizer and template. */
export interface DatasetLengths {
  template: string;
  maxLen: number;
  count: number;
  min: number;
  median: number;
  p95: number;
  max: number;
  /** Examples longer than maxLen. */
  overMaxLen: number;
  /** Equal-width bins from 0 up to at least max(maxLen, max). */
  bins: { from: number; to: number; count: number }[];
}

const id = z.number().int().min(1);
const ordinal = z.number().int().min(0);
const messages = z.array(z.object({ role: z.string(), content: z.string() }).strict());
const split = z.enum(['train', 'eval']).nullable();

export const datasetDetailCommands = {
  /** Import a CSV/TSV/JSONL/JSON/Parquet file as a new dataset (one transaction). */
  'datasets.import': command<DatasetImportResult>()(
    z
      .object({
        path: z.string().min(1),
        name: z.string().optional(),
        /** Add the import as the next version of this dataset. */
        datasetId: id.optional(),
        /** `system=col,user=col[+col],assistant=col` or `messages=field`; detected when absent. */
        map: z.string().optional(),
        evalPath: z.string().min(1).optional(),
        splitRatio: z.number().gt(0).lt(1).optional(),
        seed: z.number().int().optional(),
      })
      .strict(),
  ),
  /** A version (or a dataset's newest version) with its siblings and its validation report. */
  'datasets.get': command<DatasetVersionDetails>()(
    z
      .object({ versionId: id.optional(), datasetId: id.optional() })
      .strict()
      .refine((v) => (v.versionId === undefined) !== (v.datasetId === undefined), {
        message: 'give exactly one of versionId and datasetId',
      }),
  ),
  /**
   * A page of examples. With `search` and/or `onlyIssues` the page is taken from the matching
   * examples (in order), and `total` counts the matches.
   */
  'datasets.examples': command<DatasetExamplesPage>()(
    z
      .object({
        versionId: id,
        offset: ordinal.default(0),
        limit: z.number().int().min(1).max(500).default(50),
        /** Case-insensitive text anywhere in the example's turns. */
        search: z.string().min(1).max(500).optional(),
        /** Only examples with at least one validation issue (errors or warnings). */
        onlyIssues: z.boolean().optional(),
      })
      .strict(),
  ),
  /**
   * Import a file sent by the client (drag-and-drop in a browser, where there is no path). The
   * server keeps the file under <home>/uploads and imports it like `datasets.import`.
   */
  'datasets.upload': command<DatasetImportResult>()(
    z
      .object({
        fileName: z
          .string()
          .min(1)
          .max(255)
          .regex(/^[^/\\]+$/, 'a file name, not a path'),
        /** The file's bytes: text as is (`utf8`), or any file as `base64` (Parquet). */
        content: z.string(),
        encoding: z.enum(['utf8', 'base64']).default('utf8'),
        name: z.string().optional(),
        datasetId: id.optional(),
        map: z.string().optional(),
        splitRatio: z.number().gt(0).lt(1).optional(),
        seed: z.number().int().optional(),
      })
      .strict(),
  ),
  /** One example rendered with a model's tokenizer and a template, trained tokens marked. */
  'datasets.preview': command<DatasetPreview>()(
    z
      .object({
        versionId: id,
        ordinal,
        modelDir: z.string().min(1),
        /** Default: the model's own chat template when it has one, else ChatML. */
        template: z.enum(['chatml', 'model', 'llama3', 'mistral', 'alpaca']).optional(),
        maxLen: z.number().int().min(16).max(131_072).default(4096),
      })
      .strict(),
  ),
  /** The token-length histogram of a version (for the data step and the max length setting). */
  'datasets.lengths': command<DatasetLengths>()(
    z
      .object({
        versionId: id,
        modelDir: z.string().min(1),
        template: z.enum(['chatml', 'model', 'llama3', 'mistral', 'alpaca']).optional(),
        maxLen: z.number().int().min(16).max(131_072).default(4096),
        bins: z.number().int().min(5).max(200).default(40),
      })
      .strict(),
  ),
  /** Change, add or delete examples: makes a new version; the old one stays. */
  'datasets.edit': command<DatasetEditResult>()(
    z
      .object({
        versionId: id,
        update: z.array(z.object({ ordinal, messages }).strict()).optional(),
        add: z.array(z.object({ messages, split: split.optional() }).strict()).optional(),
        remove: z.array(ordinal).optional(),
        note: z.string().optional(),
      })
      .strict(),
  ),
};
