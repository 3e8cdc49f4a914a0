// Fine-tuning runs: what was trained (model, dataset version, config) and where it stands.
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

export type RunStatus = 'created' | 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';
export const FINISHED_RUN_STATUSES: readonly RunStatus[] = ['completed', 'failed', 'cancelled'];

export interface RunRow {
  id: number;
  name: string;
  modelId: number | null;
  datasetVersionId: number | null;
  config: Record<string, unknown>;
  status: RunStatus;
  backend: string | null;
  device: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: ErrorData | null;
}

export interface NewRun {
  name: string;
  modelId?: number | null;
  datasetVersionId?: number | null;
  config: Record<string, unknown>;
  status?: 'created' | 'queued';
}

export interface StatusChange {
  /** Stored as given; a change without an error clears the previous one. */
  error?: ErrorData | null;
  /** Kept when not given (the trainer reports them once it has started). */
  backend?: string;
  device?: string;
}

interface RunRecord {
  id: number;
  name: string;
  model_id: number | null;
  dataset_version_id: number | null;
  config: string;
  status: RunStatus;
  backend: string | null;
  device: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  error: string | null;
}

const toRun = (r: RunRecord): RunRow => ({
  id: r.id,
  name: r.name,
  modelId: r.model_id,
  datasetVersionId: r.dataset_version_id,
  config: fromJson(r.config),
  status: r.status,
  backend: r.backend,
  device: r.device,
  createdAt: r.created_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  error: fromJsonOrNull(r.error),
});

function prepare(db: Database) {
  return {
    insert: db.prepare<Record<string, unknown>, RunRecord>(`
      INSERT INTO runs (name, model_id, dataset_version_id, config, status, created_at)
      VALUES (@name, @modelId, @datasetVersionId, @config, @status, @createdAt)
      RETURNING *`),
    get: db.prepare<[number], RunRecord>('SELECT * FROM runs WHERE id = ?'),
    listRecent: db.prepare<[number], RunRecord>(
      'SELECT * FROM runs ORDER BY created_at DESC, id DESC LIMIT ?',
    ),
    // started_at is the first start (a resumed run keeps it); finished_at is set by a finishing
    // status and cleared by any other, since a resumed or re-queued run is no longer finished.
    setStatus: db.prepare<
      {
        id: number;
        status: RunStatus;
        now: number;
        error: string | null;
        backend: string | null;
        device: string | null;
      },
      RunRecord
    >(`
      UPDATE runs SET
        status = @status,
        started_at = CASE WHEN @status = 'running' THEN coalesce(started_at, @now) ELSE started_at END,
        finished_at = CASE WHEN @status IN ('completed', 'failed', 'cancelled') THEN @now ELSE NULL END,
        error = @error,
        backend = coalesce(@backend, backend),
        device = coalesce(@device, device)
      WHERE id = @id
      RETURNING *`),
    remove: db.prepare<[number]>('DELETE FROM runs WHERE id = ?'),
    latestMeasured: db
      .prepare<{ modelHash: string; backend: string; metric: string }, number>(`
      SELECT r.id FROM runs AS r
      WHERE r.status IN ('running', 'completed')
        AND json_extract(r.config, '$.modelHash') = @modelHash
        AND json_extract(r.config, '$.backend') = @backend
        AND EXISTS (SELECT 1 FROM metrics AS m WHERE m.run_id = r.id AND m.name = @metric)
      ORDER BY r.created_at DESC, r.id DESC
      LIMIT 1`)
      .pluck(),
  };
}

export class RunsRepo {
  readonly #sql: ReturnType<typeof prepare>;

  constructor(
    db: Database,
    private readonly now: Clock,
  ) {
    this.#sql = prepare(db);
  }

  create(run: NewRun): RunRow {
    const record = this.#sql.insert.get({
      name: run.name,
      modelId: run.modelId ?? null,
      datasetVersionId: run.datasetVersionId ?? null,
      config: toJson(run.config),
      status: run.status ?? 'created',
      createdAt: this.now(),
    });
    return toRun(record!);
  }

  get(id: number): RunRow | undefined {
    const record = this.#sql.get.get(id);
    return record && toRun(record);
  }

  /** Newest first. */
  listRecent({ limit = 50 }: ListOptions = {}): RunRow[] {
    return this.#sql.listRecent.all(limit).map(toRun);
  }

  /** Returns the updated run, or undefined when there is no such run. */
  setStatus(id: number, status: RunStatus, change: StatusChange = {}): RunRow | undefined {
    const record = this.#sql.setStatus.get({
      id,
      status,
      now: this.now(),
      error: toJsonOrNull(change.error),
      backend: change.backend ?? null,
      device: change.device ?? null,
    });
    return record && toRun(record);
  }

  /**
   * The newest running or completed run of this model (by its content hash) on this backend that
   * recorded `metric`: where a measured training speed comes from.
   */
  latestMeasured(modelHash: string, backend: string, metric: string): number | undefined {
    return this.#sql.latestMeasured.get({ modelHash, backend, metric });
  }

  /** Deletes the run with its metrics, checkpoints, samples, exports and events (rows, not files). */
  remove(id: number): boolean {
    return this.#sql.remove.run(id).changes > 0;
  }
}
