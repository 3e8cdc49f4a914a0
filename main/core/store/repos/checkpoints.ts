// Checkpoints a run saved (adapter + optimizer state on disk under runs/<id>/), newest last.
import type { Database } from 'better-sqlite3';
import type { Clock } from './common.js';

export interface CheckpointRow {
  id: number;
  runId: number;
  step: number;
  path: string;
  sizeBytes: number;
  evalLoss: number | null;
  createdAt: number;
}

export interface NewCheckpoint {
  runId: number;
  step: number;
  path: string;
  sizeBytes: number;
  evalLoss?: number | null;
}

interface CheckpointRecord {
  id: number;
  run_id: number;
  step: number;
  path: string;
  size_bytes: number;
  eval_loss: number | null;
  created_at: number;
}

const toCheckpoint = (r: CheckpointRecord): CheckpointRow => ({
  id: r.id,
  runId: r.run_id,
  step: r.step,
  path: r.path,
  sizeBytes: r.size_bytes,
  evalLoss: r.eval_loss,
  createdAt: r.created_at,
});

function prepare(db: Database) {
  return {
    insert: db.prepare<Record<string, unknown>, CheckpointRecord>(`
      INSERT INTO checkpoints (run_id, step, path, size_bytes, eval_loss, created_at)
      VALUES (@runId, @step, @path, @sizeBytes, @evalLoss, @createdAt)
      RETURNING *`),
    get: db.prepare<[number], CheckpointRecord>('SELECT * FROM checkpoints WHERE id = ?'),
    listForRun: db.prepare<[number], CheckpointRecord>(
      'SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step, id',
    ),
    latest: db.prepare<[number], CheckpointRecord>(
      'SELECT * FROM checkpoints WHERE run_id = ? ORDER BY step DESC, id DESC LIMIT 1',
    ),
    remove: db.prepare<[number]>('DELETE FROM checkpoints WHERE id = ?'),
  };
}

export class CheckpointsRepo {
  readonly #sql: ReturnType<typeof prepare>;

  constructor(
    db: Database,
    private readonly now: Clock,
  ) {
    this.#sql = prepare(db);
  }

  add(checkpoint: NewCheckpoint): CheckpointRow {
    const record = this.#sql.insert.get({
      runId: checkpoint.runId,
      step: checkpoint.step,
      path: checkpoint.path,
      sizeBytes: checkpoint.sizeBytes,
      evalLoss: checkpoint.evalLoss ?? null,
      createdAt: this.now(),
    });
    return toCheckpoint(record!);
  }

  get(id: number): CheckpointRow | undefined {
    const record = this.#sql.get.get(id);
    return record && toCheckpoint(record);
  }

  /** By step, oldest first. */
  listForRun(runId: number): CheckpointRow[] {
    return this.#sql.listForRun.all(runId).map(toCheckpoint);
  }

  /** The checkpoint with the highest step: where a resume starts. */
  latest(runId: number): CheckpointRow | undefined {
    const record = this.#sql.latest.get(runId);
    return record && toCheckpoint(record);
  }

  /** Removes the row (exports made from it keep theirs, checkpoint_id NULL); the files are the caller's. */
  remove(id: number): boolean {
    return this.#sql.remove.run(id).changes > 0;
  }
}
