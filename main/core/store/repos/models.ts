// Base models Tunesmith knows about: a folder on disk (local, downloaded, or the built-in demo).
import type { Database } from 'better-sqlite3';
import { type Clock, fromJson, type ListOptions, toJson } from './common.js';

export type ModelSource = 'local' | 'download' | 'demo';
export type ModelStatus = 'ready' | 'downloading' | 'incomplete' | 'missing';

export interface ModelRow {
  id: number;
  name: string;
  path: string;
  architecture: string;
  source: ModelSource;
  params: number | null;
  configHash: string | null;
  sizeBytes: number;
  status: ModelStatus;
  meta: Record<string, unknown>;
  createdAt: number;
}

export interface NewModel {
  name: string;
  path: string;
  architecture: string;
  source: ModelSource;
  params?: number | null;
  configHash?: string | null;
  sizeBytes: number;
  status?: ModelStatus;
  meta?: Record<string, unknown>;
}

interface ModelRecord {
  id: number;
  name: string;
  path: string;
  architecture: string;
  source: ModelSource;
  params: number | null;
  config_hash: string | null;
  size_bytes: number;
  status: ModelStatus;
  meta: string;
  created_at: number;
}

const toModel = (r: ModelRecord): ModelRow => ({
  id: r.id,
  name: r.name,
  path: r.path,
  architecture: r.architecture,
  source: r.source,
  params: r.params,
  configHash: r.config_hash,
  sizeBytes: r.size_bytes,
  status: r.status,
  meta: fromJson(r.meta),
  createdAt: r.created_at,
});

function prepare(db: Database) {
  return {
    insert: db.prepare<Record<string, unknown>, ModelRecord>(`
      INSERT INTO models (name, path, architecture, source, params, config_hash, size_bytes, status, meta, created_at)
      VALUES (@name, @path, @architecture, @source, @params, @configHash, @sizeBytes, @status, @meta, @createdAt)
      RETURNING *`),
    get: db.prepare<[number], ModelRecord>('SELECT * FROM models WHERE id = ?'),
    getByPath: db.prepare<[string], ModelRecord>('SELECT * FROM models WHERE path = ?'),
    list: db.prepare<[number], ModelRecord>('SELECT * FROM models ORDER BY name, id LIMIT ?'),
    setStatus: db.prepare<{ id: number; status: ModelStatus }>(
      'UPDATE models SET status = @status WHERE id = @id',
    ),
    update: db.prepare<Record<string, unknown>>(`
      UPDATE models SET name = @name, architecture = @architecture, params = @params,
        config_hash = @configHash, size_bytes = @sizeBytes, status = @status, meta = @meta
      WHERE id = @id`),
    remove: db.prepare<[number]>('DELETE FROM models WHERE id = ?'),
  };
}

export class ModelsRepo {
  readonly #sql: ReturnType<typeof prepare>;

  constructor(
    db: Database,
    private readonly now: Clock,
  ) {
    this.#sql = prepare(db);
  }

  add(model: NewModel): ModelRow {
    const record = this.#sql.insert.get({
      name: model.name,
      path: model.path,
      architecture: model.architecture,
      source: model.source,
      params: model.params ?? null,
      configHash: model.configHash ?? null,
      sizeBytes: model.sizeBytes,
      status: model.status ?? 'ready',
      meta: toJson(model.meta ?? {}),
      createdAt: this.now(),
    });
    return toModel(record!);
  }

  get(id: number): ModelRow | undefined {
    const record = this.#sql.get.get(id);
    return record && toModel(record);
  }

  getByPath(path: string): ModelRow | undefined {
    const record = this.#sql.getByPath.get(path);
    return record && toModel(record);
  }

  /** By name. */
  list({ limit = 50 }: ListOptions = {}): ModelRow[] {
    return this.#sql.list.all(limit).map(toModel);
  }

  /** Returns false when there is no such model. */
  updateStatus(id: number, status: ModelStatus): boolean {
    return this.#sql.setStatus.run({ id, status }).changes > 0;
  }

  /** Changes what a model row says about its folder (path, source and creation time stay). */
  update(
    id: number,
    patch: Partial<
      Pick<NewModel, 'name' | 'architecture' | 'params' | 'configHash' | 'sizeBytes' | 'status' | 'meta'>
    >,
  ): ModelRow | undefined {
    const current = this.get(id);
    if (!current) return undefined;
    const next = { ...current, ...patch };
    this.#sql.update.run({
      id,
      name: next.name,
      architecture: next.architecture,
      params: next.params ?? null,
      configHash: next.configHash ?? null,
      sizeBytes: next.sizeBytes,
      status: next.status ?? current.status,
      meta: toJson(next.meta ?? {}),
    });
    return this.get(id);
  }

  /** Runs that used the model keep their rows; their model_id becomes NULL. */
  remove(id: number): boolean {
    return this.#sql.remove.run(id).changes > 0;
  }
}
