// Datasets and their versions. An import or an edit adds a version; a version lists its examples by
// ordinal. Example rows are shared: a version derived from a parent refers to the parent's unchanged
// examples by id, so editing ten rows of 100k writes ten examples and 100k small index rows.
import { createHash } from 'node:crypto';
import type { Database, Transaction } from 'better-sqlite3';
import { type Clock, fromJson, fromJsonOrNull, type ListOptions, toJson, toJsonOrNull } from './common.js';

export type ChatRole = 'system' | 'user' | 'assistant';
export interface ChatMessage {
  role: ChatRole;
  content: string;
}
export type Split = 'train' | 'eval';

export interface DatasetRow {
  id: number;
  name: string;
  createdAt: number;
  updatedAt: number;
}

/** A dataset as a list shows it: with its newest version, if any. */
export interface DatasetListItem extends DatasetRow {
  latestVersion: { id: number; version: number; exampleCount: number; createdAt: number } | null;
}

export interface DatasetVersionRow {
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

export interface VersionExample {
  ordinal: number;
  exampleId: number;
  split: Split | null;
  messages: ChatMessage[];
  sourceRow: unknown;
  contentHash: string;
}

/** One example of a new version: an existing example (shared, by id) or a new one. */
export type NewVersionExample =
  | { exampleId: number; split?: Split | null }
  | { messages: ChatMessage[]; sourceRow?: unknown; split?: Split | null };

export interface NewDatasetVersion {
  datasetId: number;
  parentVersionId?: number | null;
  sourcePath?: string | null;
  sourceFormat?: string | null;
  mapping?: unknown;
  note?: string | null;
  examples: Iterable<NewVersionExample>;
}

export interface PageOptions {
  /** The first ordinal to return (ordinals run 0, 1, 2 … within a version). */
  offset?: number;
  limit?: number;
}

/** sha256 of the normalized messages: equal conversations hash equally (duplicate detection). */
export function exampleContentHash(messages: readonly ChatMessage[]): string {
  const canonical = messages.map(({ role, content }) => ({ role, content }));
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}

interface DatasetRecord {
  id: number;
  name: string;
  created_at: number;
  updated_at: number;
}

interface DatasetListRecord extends DatasetRecord {
  version_id: number | null;
  version: number | null;
  example_count: number | null;
  version_created_at: number | null;
}

interface VersionRecord {
  id: number;
  dataset_id: number;
  version: number;
  parent_version_id: number | null;
  source_path: string | null;
  source_format: string | null;
  mapping: string | null;
  note: string | null;
  example_count: number;
  train_count: number | null;
  eval_count: number | null;
  created_at: number;
}

interface VersionExampleRecord {
  ordinal: number;
  example_id: number;
  split: Split | null;
  messages: string;
  source_row: string | null;
  content_hash: string;
}

const toDataset = (r: DatasetRecord): DatasetRow => ({
  id: r.id,
  name: r.name,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toVersion = (r: VersionRecord): DatasetVersionRow => ({
  id: r.id,
  datasetId: r.dataset_id,
  version: r.version,
  parentVersionId: r.parent_version_id,
  sourcePath: r.source_path,
  sourceFormat: r.source_format,
  mapping: fromJsonOrNull(r.mapping),
  note: r.note,
  exampleCount: r.example_count,
  trainCount: r.train_count,
  evalCount: r.eval_count,
  createdAt: r.created_at,
});

const toVersionExample = (r: VersionExampleRecord): VersionExample => ({
  ordinal: r.ordinal,
  exampleId: r.example_id,
  split: r.split,
  messages: fromJson(r.messages),
  sourceRow: fromJsonOrNull(r.source_row),
  contentHash: r.content_hash,
});

/** Whether `text` contains `needle` (already lower-cased), ignoring case in every script. */
function casefoldContains(text: unknown, needle: unknown): number {
  return typeof text === 'string' && typeof needle === 'string' && text.toLowerCase().includes(needle)
    ? 1
    : 0;
}

function prepare(db: Database) {
  db.function('tunesmith_casefold_contains', { deterministic: true }, casefoldContains);
  return {
    insertDataset: db.prepare<{ name: string; now: number }, DatasetRecord>(
      'INSERT INTO datasets (name, created_at, updated_at) VALUES (@name, @now, @now) RETURNING *',
    ),
    getDataset: db.prepare<[number], DatasetRecord>('SELECT * FROM datasets WHERE id = ?'),
    listDatasets: db.prepare<[number], DatasetListRecord>(`
      SELECT d.*, v.id AS version_id, v.version, v.example_count, v.created_at AS version_created_at
      FROM datasets AS d
      LEFT JOIN dataset_versions AS v
        ON v.dataset_id = d.id AND v.version = (SELECT max(version) FROM dataset_versions WHERE dataset_id = d.id)
      ORDER BY d.updated_at DESC, d.id DESC
      LIMIT ?`),
    touchDataset: db.prepare<{ id: number; now: number }>(
      'UPDATE datasets SET updated_at = @now WHERE id = @id',
    ),
    removeDataset: db.prepare<[number]>('DELETE FROM datasets WHERE id = ?'),
    removeOrphanExamples: db.prepare<[]>(
      'DELETE FROM examples WHERE id NOT IN (SELECT example_id FROM dataset_version_examples)',
    ),
    nextVersion: db
      .prepare<[number], number>(
        'SELECT coalesce(max(version), 0) + 1 FROM dataset_versions WHERE dataset_id = ?',
      )
      .pluck(),
    insertVersion: db.prepare<Record<string, unknown>, VersionRecord>(`
      INSERT INTO dataset_versions (dataset_id, version, parent_version_id, source_path, source_format, mapping,
                                    note, example_count, train_count, eval_count, created_at)
      VALUES (@datasetId, @version, @parentVersionId, @sourcePath, @sourceFormat, @mapping,
              @note, 0, NULL, NULL, @createdAt)
      RETURNING *`),
    setVersionCounts: db.prepare<
      { id: number; exampleCount: number; trainCount: number | null; evalCount: number | null },
      VersionRecord
    >(`
      UPDATE dataset_versions SET example_count = @exampleCount, train_count = @trainCount, eval_count = @evalCount
      WHERE id = @id RETURNING *`),
    getVersion: db.prepare<[number], VersionRecord>('SELECT * FROM dataset_versions WHERE id = ?'),
    listVersions: db.prepare<[number], VersionRecord>(
      'SELECT * FROM dataset_versions WHERE dataset_id = ? ORDER BY version',
    ),
    insertExample: db
      .prepare<{ messages: string; sourceRow: string | null; contentHash: string }, number>(
        'INSERT INTO examples (messages, source_row, content_hash) VALUES (@messages, @sourceRow, @contentHash) RETURNING id',
      )
      .pluck(),
    insertVersionExample: db.prepare<{
      versionId: number;
      ordinal: number;
      exampleId: number;
      split: Split | null;
    }>(
      'INSERT INTO dataset_version_examples (version_id, ordinal, example_id, split) VALUES (@versionId, @ordinal, @exampleId, @split)',
    ),
    duplicates: db.prepare<[number], { ordinal: number; firstOrdinal: number }>(`
      SELECT ordinal, first_ordinal AS firstOrdinal FROM (
        SELECT dve.ordinal, min(dve.ordinal) OVER (PARTITION BY e.content_hash) AS first_ordinal
        FROM dataset_version_examples AS dve JOIN examples AS e ON e.id = dve.example_id
        WHERE dve.version_id = ?)
      WHERE ordinal > first_ordinal
      ORDER BY ordinal`),
    // One pass over the version: a turn's content contains the (lower-cased) needle. SQLite's lower()
    // folds ASCII only; a needle with other letters goes through casefoldContains() instead.
    // rawNeedle, when given, first rules out rows whose stored JSON text lacks the needle (cheap; the
    // needle then has no character JSON escapes, so a match in a content is a match in the text).
    matchingOrdinals: db
      .prepare<{ versionId: number; needle: string; rawNeedle: string | null }, number>(`
      SELECT dve.ordinal
      FROM dataset_version_examples AS dve JOIN examples AS e ON e.id = dve.example_id
      WHERE dve.version_id = @versionId AND (@rawNeedle IS NULL OR instr(lower(e.messages), @rawNeedle) > 0)
        AND EXISTS (
        SELECT 1 FROM json_each(e.messages) AS turn
        WHERE instr(lower(json_extract(turn.value, '$.content')), @needle) > 0)
      ORDER BY dve.ordinal`)
      .pluck(),
    matchingOrdinalsFolded: db
      .prepare<{ versionId: number; needle: string }, number>(`
      SELECT dve.ordinal
      FROM dataset_version_examples AS dve JOIN examples AS e ON e.id = dve.example_id
      WHERE dve.version_id = @versionId AND EXISTS (
        SELECT 1 FROM json_each(e.messages) AS turn
        WHERE tunesmith_casefold_contains(json_extract(turn.value, '$.content'), @needle))
      ORDER BY dve.ordinal`)
      .pluck(),
    examplesAt: db.prepare<{ versionId: number; ordinals: string }, VersionExampleRecord>(`
      SELECT dve.ordinal, dve.example_id, dve.split, e.messages, e.source_row, e.content_hash
      FROM dataset_version_examples AS dve JOIN examples AS e ON e.id = dve.example_id
      WHERE dve.version_id = @versionId AND dve.ordinal IN (SELECT value FROM json_each(@ordinals))
      ORDER BY dve.ordinal`),
    versionExamples: db.prepare<{ versionId: number; offset: number; limit: number }, VersionExampleRecord>(`
      SELECT dve.ordinal, dve.example_id, dve.split, e.messages, e.source_row, e.content_hash
      FROM dataset_version_examples AS dve JOIN examples AS e ON e.id = dve.example_id
      WHERE dve.version_id = @versionId AND dve.ordinal >= @offset
      ORDER BY dve.ordinal
      LIMIT @limit`),
  };
}

export class DatasetsRepo {
  readonly #sql: ReturnType<typeof prepare>;
  readonly #addVersion: Transaction<(input: NewDatasetVersion) => VersionRecord>;
  readonly #remove: Transaction<(id: number) => boolean>;

  constructor(
    db: Database,
    private readonly now: Clock,
  ) {
    this.#sql = prepare(db);
    this.#addVersion = db.transaction((input: NewDatasetVersion) => this.#insertVersion(input));
    this.#remove = db.transaction((id: number) => {
      const removed = this.#sql.removeDataset.run(id).changes > 0;
      if (removed) this.#sql.removeOrphanExamples.run();
      return removed;
    });
  }

  create(name: string): DatasetRow {
    return toDataset(this.#sql.insertDataset.get({ name, now: this.now() })!);
  }

  get(id: number): DatasetRow | undefined {
    const record = this.#sql.getDataset.get(id);
    return record && toDataset(record);
  }

  /** Most recently changed first. */
  list({ limit = 50 }: ListOptions = {}): DatasetListItem[] {
    return this.#sql.listDatasets.all(limit).map((r) => ({
      ...toDataset(r),
      latestVersion:
        r.version_id === null
          ? null
          : {
              id: r.version_id,
              version: r.version!,
              exampleCount: r.example_count!,
              createdAt: r.version_created_at!,
            },
    }));
  }

  /**
   * Deletes the dataset, its versions and the examples no other version uses. Runs that trained on
   * it keep their rows (their dataset_version_id becomes NULL).
   */
  remove(id: number): boolean {
    return this.#remove(id);
  }

  /**
   * Adds version (last + 1) with its examples in one transaction: all of it is stored, or none.
   * Counts of train/eval are NULL when no example has a split.
   */
  addVersion(input: NewDatasetVersion): DatasetVersionRow {
    return toVersion(this.#addVersion(input));
  }

  getVersion(versionId: number): DatasetVersionRow | undefined {
    const record = this.#sql.getVersion.get(versionId);
    return record && toVersion(record);
  }

  /** Oldest first. */
  listVersions(datasetId: number): DatasetVersionRow[] {
    return this.#sql.listVersions.all(datasetId).map(toVersion);
  }

  getVersionExamples(versionId: number, { offset = 0, limit = 100 }: PageOptions = {}): VersionExample[] {
    return this.#sql.versionExamples.all({ versionId, offset, limit }).map(toVersionExample);
  }

  /**
   * Ordinals (ascending) of the examples with a turn whose content contains `text`, ignoring case.
   * One scan of the version's examples; an ASCII needle is matched by SQLite itself.
   */
  searchOrdinals(versionId: number, text: string): number[] {
    const needle = text.toLowerCase();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the ASCII range is the point
    const ascii = /^[\x00-\x7f]*$/.test(needle);
    if (!ascii) return this.#sql.matchingOrdinalsFolded.all({ versionId, needle });
    // biome-ignore lint/suspicious/noControlCharactersInRegex: characters JSON text escapes
    const rawNeedle = /["\\\x00-\x1f]/.test(needle) ? null : needle;
    return this.#sql.matchingOrdinals.all({ versionId, needle, rawNeedle });
  }

  /** The examples at these ordinals (those that exist), by ordinal. */
  getExamplesAt(versionId: number, ordinals: readonly number[]): VersionExample[] {
    if (ordinals.length === 0) return [];
    return this.#sql.examplesAt.all({ versionId, ordinals: JSON.stringify(ordinals) }).map(toVersionExample);
  }

  /** Examples whose messages equal an earlier example's in the same version, with that earlier ordinal. */
  duplicates(versionId: number): { ordinal: number; firstOrdinal: number }[] {
    return this.#sql.duplicates.all(versionId);
  }

  #insertVersion(input: NewDatasetVersion): VersionRecord {
    const parentVersionId = input.parentVersionId ?? null;
    if (parentVersionId !== null) {
      const parent = this.#sql.getVersion.get(parentVersionId);
      if (parent?.dataset_id !== input.datasetId) {
        throw new Error(`Version ${parentVersionId} is not a version of dataset ${input.datasetId}.`);
      }
    }
    const now = this.now();
    const version = this.#sql.insertVersion.get({
      datasetId: input.datasetId,
      version: this.#sql.nextVersion.get(input.datasetId)!,
      parentVersionId,
      sourcePath: input.sourcePath ?? null,
      sourceFormat: input.sourceFormat ?? null,
      mapping: toJsonOrNull(input.mapping),
      note: input.note ?? null,
      createdAt: now,
    })!;

    let ordinal = 0;
    let trainCount = 0;
    let evalCount = 0;
    for (const example of input.examples) {
      const exampleId =
        'exampleId' in example
          ? example.exampleId
          : this.#sql.insertExample.get({
              messages: toJson(example.messages),
              sourceRow: toJsonOrNull(example.sourceRow),
              contentHash: exampleContentHash(example.messages),
            })!;
      const split = example.split ?? null;
      if (split === 'train') trainCount++;
      if (split === 'eval') evalCount++;
      this.#sql.insertVersionExample.run({ versionId: version.id, ordinal, exampleId, split });
      ordinal++;
    }
    this.#sql.touchDataset.run({ id: input.datasetId, now });
    const hasSplits = trainCount + evalCount > 0;
    return this.#sql.setVersionCounts.get({
      id: version.id,
      exampleCount: ordinal,
      trainCount: hasSplits ? trainCount : null,
      evalCount: hasSplits ? evalCount : null,
    })!;
  }
}
