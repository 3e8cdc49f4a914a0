// DatasetService: import a file as a new dataset version, list and show datasets, page through a
// version's examples, edit a version into a new one, and report what blocks training.
//
// Import runs in two phases. Parse: the source streams through the reader and the mapping into a
// spool file (memory stays flat, whatever the file size); any bad input stops here, before the
// database is touched. Store: one synchronous transaction creates the dataset and its version from
// the spool, so a failure leaves the database exactly as it was.
import { basename, extname } from 'node:path';
import type {
  DatasetListItem,
  DatasetRow,
  DatasetVersionRow,
  NewVersionExample,
  Split,
  Store,
  VersionExample,
} from '../store/index.js';
import type { ChatMessage } from '../store/repos/datasets.js';
import type { ImportedMessage } from './conversation.js';
import { DataError } from './errors.js';
import { type DetectedFormat, detectFormat } from './import/detect.js';
import { checkMapping, detectMapping, type Mapping, parseMapOption, toMessages } from './import/mapping.js';
import { readSource, type SourceRecord } from './import/source.js';
import { removeStaleSpools, Spool } from './import/spool.js';
import {
  checkExample,
  duplicateIssue,
  type ExampleLocation,
  ReportBuilder,
  type ValidationIssue,
  type ValidationReport,
} from './validate.js';

export interface ImportOptions {
  /** Dataset name; default: the file name without its extension. */
  name?: string;
  /** Add the import as the next version of this dataset instead of creating a new dataset. */
  datasetId?: number;
  /** A mapping, or the `--map` text; default: detected. */
  map?: Mapping | string;
  /** A separate evaluation file (same columns), as the reference recipe uses. */
  evalFile?: string;
  /** Share of examples held out for evaluation (0 < r < 1), chosen with `seed`. */
  splitRatio?: number;
  seed?: number;
  /** Called at most a few times a second while reading, and once per phase. */
  onProgress?: (progress: ImportProgress) => void;
}

export interface ImportProgress {
  phase: 'reading' | 'storing' | 'checking';
  /** The file being read (reading only). */
  file?: string;
  /** Examples read so far, over all files. */
  examples: number;
}

/** What was stored with each example besides its messages: where it came from. */
export interface SourceRowData {
  file?: string;
  line?: number;
  row: number;
  values: Record<string, unknown>;
}

export interface ImportResult {
  dataset: DatasetRow;
  version: DatasetVersionRow;
  report: ValidationReport;
  mapping: Mapping;
  /** Known layout the mapping matched (reference, alpaca, openai, sharegpt…) or "custom" for --map. */
  layout: string;
  reason: string;
  format: DetectedFormat;
  evalFormat: DetectedFormat | null;
}

export interface ExampleView {
  ordinal: number;
  split: Split | null;
  messages: ImportedMessage[];
  source: SourceRowData | null;
  issues: ValidationIssue[];
}

export interface VersionDetails {
  dataset: DatasetRow;
  version: DatasetVersionRow;
  versions: DatasetVersionRow[];
  report: ValidationReport;
}

export interface EditRequest {
  update?: { ordinal: number; messages: ImportedMessage[] }[];
  add?: { messages: ImportedMessage[]; split?: Split | null }[];
  remove?: number[];
  note?: string;
}

interface SpooledExample {
  m: ImportedMessage[];
  s: SourceRowData;
}

const SAMPLE_RECORDS = 50;
const PAGE = 500;

/** Deterministic PRNG for seeded splits (mulberry32). */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function locationOf(source: unknown): ExampleLocation | undefined {
  if (!source || typeof source !== 'object') return undefined;
  const s = source as Partial<SourceRowData>;
  const location: ExampleLocation = {};
  if (typeof s.file === 'string') location.file = s.file;
  if (typeof s.line === 'number') location.line = s.line;
  if (typeof s.row === 'number') location.row = s.row;
  return location;
}

/** Passes on at most five reading updates a second. */
function throttle(onProgress: ((p: ImportProgress) => void) | undefined): (p: ImportProgress) => void {
  if (!onProgress) return () => {};
  let last = 0;
  return (p) => {
    const now = Date.now();
    if (now - last < 200) return;
    last = now;
    onProgress(p);
  };
}

/** What identifies a version's contents (an id is reused after a delete). */
const versionKey = (v: DatasetVersionRow) => `${v.datasetId}/${v.version}/${v.createdAt}/${v.exampleCount}`;

const notFound = (what: string) =>
  new DataError(
    'not-found',
    `There is no ${what}.`,
    'Run `tunesmith data list` to see the datasets and their versions.',
  );

export class DatasetService {
  readonly #store: Store;
  readonly #tempDir: string | undefined;
  /** Reports by version id, with what identifies the version (an id is reused after a delete). */
  readonly #reports = new Map<
    number,
    { key: string; report: ValidationReport; issueOrdinals: readonly number[] }
  >();

  readonly #duplicatesByVersion = new Map<number, { key: string; duplicates: Map<number, number> }>();

  constructor(store: Store, options: { tempDir?: string } = {}) {
    this.#store = store;
    this.#tempDir = options.tempDir;
    if (options.tempDir) removeStaleSpools(options.tempDir);
  }

  list(limit = 50): DatasetListItem[] {
    return this.#store.datasets.list({ limit });
  }

  async importFile(path: string, options: ImportOptions = {}): Promise<ImportResult> {
    if (options.evalFile && options.splitRatio !== undefined) {
      throw new DataError(
        'bad-option',
        'Give either a separate evaluation file or a split ratio, not both.',
        'Leave out --eval to hold out a share of the examples, or leave out the ratio to use the eval file.',
      );
    }
    if (options.splitRatio !== undefined && !(options.splitRatio > 0 && options.splitRatio < 1)) {
      throw new DataError(
        'bad-option',
        `The split ratio must be between 0 and 1, not ${options.splitRatio}.`,
        'For example 0.1 holds out one example in ten for evaluation.',
      );
    }
    const target = options.datasetId === undefined ? null : this.#store.datasets.get(options.datasetId);
    if (options.datasetId !== undefined && !target) throw notFound(`dataset ${options.datasetId}`);
    const spool = new Spool<SpooledExample>(this.#tempDir);
    try {
      const named = options.evalFile !== undefined;
      const progress = throttle(options.onProgress);
      const main = await this.#parse(path, spool, options.map, named, progress);
      const trainCount = spool.count;
      const evalPart = options.evalFile
        ? await this.#parse(options.evalFile, spool, main.mapping, true, progress)
        : null;
      const evalCount = spool.count - trainCount;
      if (trainCount === 0) {
        throw new DataError(
          'no-examples',
          `${basename(path)} holds no examples (only a header, or blank lines).`,
          'Add rows below the header and import it again.',
        );
      }
      if (evalPart && evalCount === 0) {
        throw new DataError(
          'no-examples',
          `The evaluation file ${basename(options.evalFile ?? '')} holds no examples.`,
          'Add rows to it, or import without --eval.',
        );
      }
      const splits = this.#splits(trainCount, evalCount, options);
      const name = options.name?.trim() || basename(path, extname(path));
      options.onProgress?.({ phase: 'storing', examples: spool.count });
      const { dataset, version } = this.#store.transaction(() => {
        const dataset = target ?? this.#store.datasets.create(name);
        const version = this.#store.datasets.addVersion({
          datasetId: dataset.id,
          parentVersionId: target ? (this.#store.datasets.listVersions(target.id).at(-1)?.id ?? null) : null,
          sourcePath: options.evalFile ? `${path}\n${options.evalFile}` : path,
          sourceFormat: main.format.format,
          mapping: main.mapping,
          note: `Imported from ${basename(path)}${options.evalFile ? ` with evaluation file ${basename(options.evalFile)}` : ''}`,
          examples: (function* () {
            let i = 0;
            for (const example of spool.read()) {
              yield { messages: example.m as ChatMessage[], sourceRow: example.s, split: splits(i++) };
            }
          })(),
        });
        return { dataset: this.#store.datasets.get(dataset.id) ?? dataset, version };
      });
      options.onProgress?.({ phase: 'checking', examples: spool.count });
      return {
        dataset,
        version,
        report: this.report(version.id),
        mapping: main.mapping,
        layout: main.layout,
        reason: main.reason,
        format: main.format,
        evalFormat: evalPart?.format ?? null,
      };
    } finally {
      spool.dispose();
    }
  }

  /** Streams one file through its reader and the mapping into the spool. */
  async #parse(
    path: string,
    spool: Spool<SpooledExample>,
    map: Mapping | string | undefined,
    named: boolean,
    progress: (p: ImportProgress) => void,
  ) {
    const format = await detectFormat(path);
    const file = basename(path);
    const records = readSource(path, format);
    let mapping: Mapping | null = typeof map === 'string' ? parseMapOption(map) : (map ?? null);
    let layout = 'custom';
    let reason = 'The columns were given with --map.';
    const pending: SourceRecord[] = [];
    const emit = (record: SourceRecord, m: Mapping) => {
      const source: SourceRowData = { row: record.row, values: record.values };
      if (record.line !== undefined) source.line = record.line;
      if (named) source.file = file;
      spool.push({ m: toMessages(record.values, m), s: source });
    };
    const decide = () => {
      if (pending.length === 0 && mapping === null) {
        throw new DataError(
          'no-examples',
          `${file} holds no examples (only a header, or blank lines).`,
          'Add examples to the file and import it again.',
        );
      }
      const sample = pending.slice(0, SAMPLE_RECORDS).map((r) => r.values);
      const columns = [...new Set(sample.flatMap((v) => Object.keys(v)))];
      if (mapping === null) {
        const proposal = detectMapping(columns, sample, file);
        ({ mapping, layout, reason } = proposal);
      } else if (columns.length) {
        checkMapping(mapping, columns, file);
      }
      for (const r of pending) emit(r, mapping!);
      pending.length = 0;
      return mapping!;
    };
    let decided: Mapping | null = null;
    for await (const batch of records) {
      progress({ phase: 'reading', file, examples: spool.count + pending.length });
      for (const record of batch) {
        if (decided) emit(record, decided);
        else {
          pending.push(record);
          if (pending.length >= SAMPLE_RECORDS) decided = decide();
        }
      }
    }
    if (!decided) decided = decide();
    return { format, mapping: decided, layout, reason };
  }

  /** Split of example i: the eval file's examples, a seeded share, or none. */
  #splits(trainCount: number, evalCount: number, options: ImportOptions): (i: number) => Split | null {
    if (evalCount > 0) return (i) => (i < trainCount ? 'train' : 'eval');
    if (options.splitRatio === undefined) return () => null;
    // Selection sampling: exactly k of n, chosen in one pass with a seeded generator.
    const n = trainCount;
    const k = Math.min(n - 1, Math.max(1, Math.round(n * options.splitRatio)));
    const next = random(options.seed ?? 42);
    let chosen = 0;
    return (i) => {
      if (chosen < k && next() * (n - i) < k - chosen) {
        chosen++;
        return 'eval';
      }
      return 'train';
    };
  }

  #version(versionId: number): DatasetVersionRow {
    const version = this.#store.datasets.getVersion(versionId);
    if (!version) throw notFound(`dataset version ${versionId}`);
    return version;
  }

  /** The version with its dataset, its sibling versions and its validation report. */
  get(versionId: number): VersionDetails {
    const version = this.#version(versionId);
    const dataset = this.#store.datasets.get(version.datasetId);
    if (!dataset) throw notFound(`dataset ${version.datasetId}`);
    return {
      dataset,
      version,
      versions: this.#store.datasets.listVersions(dataset.id),
      report: this.report(versionId),
    };
  }

  /** The newest version of a dataset. */
  latestVersion(datasetId: number): DatasetVersionRow {
    const versions = this.#store.datasets.listVersions(datasetId);
    const latest = versions[versions.length - 1];
    if (!latest)
      throw notFound(
        this.#store.datasets.get(datasetId) ? `version of dataset ${datasetId}` : `dataset ${datasetId}`,
      );
    return latest;
  }

  /**
   * A page of the version's examples. With `search` (case-insensitive text in any turn) and/or
   * `onlyIssues` (examples with a validation issue), the page is cut from the matches, in order, and
   * `total` counts the matches; without them `offset` is the first ordinal and `total` the version's size.
   */
  examples(
    versionId: number,
    offset = 0,
    limit = 50,
    filter: { search?: string; onlyIssues?: boolean } = {},
  ): { total: number; examples: ExampleView[] } {
    const version = this.#version(versionId);
    const filtered = filter.search !== undefined || filter.onlyIssues === true;
    let total = version.exampleCount;
    let rows: VersionExample[];
    if (filtered) {
      let matches: readonly number[] | null =
        filter.search === undefined ? null : this.#store.datasets.searchOrdinals(versionId, filter.search);
      if (filter.onlyIssues) {
        const withIssues = this.#issueOrdinals(versionId);
        if (matches === null) matches = withIssues;
        else {
          const flagged = new Set(withIssues);
          matches = matches.filter((o) => flagged.has(o));
        }
      }
      total = matches!.length;
      rows = this.#store.datasets.getExamplesAt(versionId, matches!.slice(offset, offset + limit));
    } else {
      rows = this.#store.datasets.getVersionExamples(versionId, { offset, limit });
    }
    const duplicates = this.#duplicates(version);
    const examples = rows.map((e) => ({
      ordinal: e.ordinal,
      split: e.split,
      messages: e.messages,
      source: (e.sourceRow as SourceRowData | null) ?? null,
      issues: this.#issuesOf(e, duplicates.get(e.ordinal)),
    }));
    return { total, examples };
  }

  /** Later copies of an earlier example: ordinal → the first one's ordinal (a version never changes). */
  #duplicates(version: DatasetVersionRow): Map<number, number> {
    const key = versionKey(version);
    const cached = this.#duplicatesByVersion.get(version.id);
    if (cached?.key === key) return cached.duplicates;
    const duplicates = new Map(
      this.#store.datasets.duplicates(version.id).map((d) => [d.ordinal, d.firstOrdinal]),
    );
    this.#duplicatesByVersion.set(version.id, { key, duplicates });
    return duplicates;
  }

  /** Ordinals of the examples with at least one issue (computed with the report). */
  #issueOrdinals(versionId: number): readonly number[] {
    this.report(versionId);
    return this.#reports.get(versionId)?.issueOrdinals ?? [];
  }

  #issuesOf(e: VersionExample, duplicateOf: number | undefined): ValidationIssue[] {
    const location = locationOf(e.sourceRow);
    const issues = checkExample({ ordinal: e.ordinal, messages: e.messages, ...(location && { location }) });
    if (duplicateOf !== undefined) issues.push(duplicateIssue(e.ordinal, duplicateOf, location));
    return issues;
  }

  /** Every rule over every example of the version (a version never changes: computed once). */
  report(versionId: number): ValidationReport {
    const version = this.#version(versionId);
    const key = versionKey(version);
    const cached = this.#reports.get(versionId);
    if (cached?.key === key) return cached.report;
    const duplicates = this.#duplicates(version);
    const builder = new ReportBuilder();
    const issueOrdinals: number[] = [];
    for (let offset = 0; ; ) {
      const page = this.#store.datasets.getVersionExamples(versionId, { offset, limit: PAGE });
      for (const e of page) {
        builder.countExample();
        const issues = this.#issuesOf(e, duplicates.get(e.ordinal));
        if (issues.length > 0) issueOrdinals.push(e.ordinal);
        builder.add(issues);
      }
      const last = page[page.length - 1];
      if (!last || page.length < PAGE) break;
      offset = last.ordinal + 1;
    }
    const report = builder.build();
    this.#reports.set(versionId, { key, report, issueOrdinals });
    return report;
  }

  /** Training calls this: it refuses a version with blocking problems, naming the examples. */
  assertTrainable(versionId: number): void {
    const report = this.report(versionId);
    if (report.blockingCount === 0) return;
    const numbers = report.blockingOrdinals.slice(0, 20).map((o) => o + 1);
    const more = report.blockingCount - numbers.length;
    throw new DataError(
      'dataset-has-errors',
      `${report.blockingCount} example${report.blockingCount === 1 ? ' has' : 's have'} problems that stop training: example${numbers.length === 1 ? '' : 's'} ${numbers.join(', ')}${more > 0 ? ` and ${more} more` : ''}.`,
      `Fix or delete them (see \`tunesmith data show ${this.#version(versionId).datasetId}\`), which makes a new version, and train on that version.`,
    );
  }

  /** A new version: the parent's examples with these changes; unchanged examples are shared, not copied. */
  editVersion(
    versionId: number,
    edit: EditRequest,
  ): { version: DatasetVersionRow; report: ValidationReport } {
    const parent = this.#version(versionId);
    const count = parent.exampleCount;
    const check = (ordinal: number, what: string) => {
      if (!Number.isInteger(ordinal) || ordinal < 0 || ordinal >= count) {
        throw new DataError(
          'bad-edit',
          `Cannot ${what} example ${ordinal + 1}: version ${parent.version} has examples 1 to ${count}.`,
          'Check the example numbers and try again.',
        );
      }
    };
    const removed = new Set<number>();
    for (const o of edit.remove ?? []) {
      check(o, 'delete');
      removed.add(o);
    }
    const updated = new Map<number, ImportedMessage[]>();
    for (const u of edit.update ?? []) {
      check(u.ordinal, 'change');
      if (removed.has(u.ordinal)) {
        throw new DataError(
          'bad-edit',
          `Example ${u.ordinal + 1} is both changed and deleted.`,
          'Either change it or delete it.',
        );
      }
      updated.set(u.ordinal, u.messages);
    }
    const added = edit.add ?? [];
    if (removed.size === 0 && updated.size === 0 && added.length === 0) {
      throw new DataError(
        'bad-edit',
        'The edit changes nothing, so no new version was made.',
        'Change, add or delete at least one example.',
      );
    }
    const hasSplits = parent.trainCount !== null;
    const store = this.#store;
    const examples = function* (): Generator<NewVersionExample> {
      for (let offset = 0; offset < count; offset += PAGE) {
        for (const e of store.datasets.getVersionExamples(versionId, { offset, limit: PAGE })) {
          if (removed.has(e.ordinal)) continue;
          const messages = updated.get(e.ordinal);
          yield messages
            ? { messages: messages as ChatMessage[], sourceRow: e.sourceRow, split: e.split }
            : { exampleId: e.exampleId, split: e.split };
        }
      }
      for (const a of added) {
        yield { messages: a.messages as ChatMessage[], split: a.split ?? (hasSplits ? 'train' : null) };
      }
    };
    const parts = [
      updated.size && `${updated.size} changed`,
      added.length && `${added.length} added`,
      removed.size && `${removed.size} deleted`,
    ].filter(Boolean);
    const version = store.datasets.addVersion({
      datasetId: parent.datasetId,
      parentVersionId: parent.id,
      sourcePath: parent.sourcePath,
      sourceFormat: parent.sourceFormat,
      mapping: parent.mapping,
      note: edit.note?.trim() || `Edited version ${parent.version}: ${parts.join(', ')}`,
      examples: examples(),
    });
    return { version, report: this.report(version.id) };
  }
}
