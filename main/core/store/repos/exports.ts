// Exports of a run (PEFT folder, GGUF files, Ollama folder): one row per attempt, with its outcome.
import type { Database } from 'better-sqlite3';
import {
  type Clock,
  type ErrorData,
  fromJson,
  fromJsonOrNull,
  type ListOptions,
  toJson,
  toJsonOrNull,
} from './common.js';

export type ExportKind = 'peft' | 'gguf-adapter' | 'gguf-base' | 'gguf-merged' | 'hf-merged' | 'ollama';
export type ExportStatus = 'running' | 'completed' | 'failed';

export interface ExportRow {
  id: number;
  runId: number;
  checkpointId: number | null;
  kind: ExportKind;
  path: string;
  status: ExportStatus;
  error: ErrorData | null;
  meta: Record<string, unknown>;
  createdAt: number;
  finishedAt: number | null;
}

export interface NewExport {
  runId: number;
  checkpointId?: number | null;
  kind: ExportKind;
  path: string;
  meta?: Record<string, unknown>;
}

export interface ExportOutcome {
  status: 'completed' | 'failed';
  error?: ErrorData | null;
  /** Replaces the stored meta when given (e.g. file sizes, verification result). */
  meta?: Record<string, unknown>;
}

interface ExportRecord {
  id: number;
  run_id: number;
  checkpoint_id: number | null;
  kind: ExportKind;
  path: string;
  status: ExportStatus;
  error: string | null;
  meta: string;
  created_at: number;
  finished_at: number | null;
}

const toExport = (r: ExportRecord): ExportRow => ({
  id: r.id,
  runId: r.run_id,
  checkpointId: r.checkpoint_id,
  kind: r.kind,
  path: r.path,
  status: r.status,
  error: fromJsonOrNull(r.error),
  meta: fromJson(r.meta),
  createdAt: r.created_at,
  finishedAt: r.finished_at,
});

function prepare(db: Database) {
  return {
    insert: db.prepare<Record<string, unknown>, ExportRecord>(`
      INSERT INTO exports (run_id, checkpoint_id, kind, path, status, meta, created_at)
      VALUES (@runId, @checkpointId, @kind, @path, 'running', @meta, @createdAt)
      RETURNING *`),
    get: db.prepare<[number], ExportRecord>('SELECT * FROM exports WHERE id = ?'),
    listForRun: db.prepare<[number], ExportRecord>('SELECT * FROM exports WHERE run_id = ? ORDER BY id'),
    listRecent: db.prepare<[number], ExportRecord>(
      'SELECT * FROM exports ORDER BY created_at DESC, id DESC LIMIT ?',
    ),
    finish: db.prepare<
      { id: number; status: ExportStatus; error: string | null; meta: string | null; now: number },
      ExportRecord
    >(`
      UPDATE exports SET status = @status, error = @error, meta = coalesce(@meta, meta), finished_at = @now
      WHERE id = @id
      RETURNING *`),
  };
}

export class ExportsRepo {
  readonly #sql: ReturnType<typeof prepare>;

  constructor(
    db: Database,
    private readonly now: Clock,
  ) {
    this.#sql = prepare(db);
  }

  /** Records an export that has started (status 'running'). */
  create(entry: NewExport): ExportRow {
    const record = this.#sql.insert.get({
      runId: entry.runId,
      checkpointId: entry.checkpointId ?? null,
      kind: entry.kind,
      path: entry.path,
      meta: toJson(entry.meta ?? {}),
      createdAt: this.now(),
    });
    return toExport(record!);
  }

  get(id: number): ExportRow | undefined {
    const record = this.#sql.get.get(id);
    return record && toExport(record);
  }

  /** Every run's exports, newest first. */
  list({ limit = 50 }: ListOptions = {}): ExportRow[] {
    return this.#sql.listRecent.all(limit).map(toExport);
  }

  /** Oldest first. */
  listForRun(runId: number): ExportRow[] {
    return this.#sql.listForRun.all(runId).map(toExport);
  }

  /** Returns the updated export, or undefined when there is no such export. */
  finish(id: number, outcome: ExportOutcome): ExportRow | undefined {
    const record = this.#sql.finish.get({
      id,
      status: outcome.status,
      error: toJsonOrNull(outcome.error),
      meta: outcome.meta === undefined ? null : toJson(outcome.meta),
      now: this.now(),
    });
    return record && toExport(record);
  }
}
