// A log of what happened, per run or app-wide (run_id NULL): shown in the UI and in `doctor`.
import type { Database } from 'better-sqlite3';
import { type Clock, fromJsonOrNull, toJsonOrNull } from './common.js';

export type EventLevel = 'debug' | 'info' | 'warn' | 'error';

export interface EventRow {
  id: number;
  runId: number | null;
  at: number;
  level: EventLevel;
  kind: string;
  message: string;
  data: unknown;
}

export interface NewEvent {
  runId?: number | null;
  level: EventLevel;
  /** A short machine-readable tag, e.g. 'run.started', 'checkpoint.saved'. */
  kind: string;
  message: string;
  data?: unknown;
  at?: number;
}

export interface EventQuery {
  /** Only this run's events; omit for all events. */
  runId?: number;
  /** Only events with a larger id: a view that has events up to N asks for the rest. */
  afterId?: number;
  limit?: number;
}

interface EventRecord {
  id: number;
  run_id: number | null;
  at: number;
  level: EventLevel;
  kind: string;
  message: string;
  data: string | null;
}

const toEvent = (r: EventRecord): EventRow => ({
  id: r.id,
  runId: r.run_id,
  at: r.at,
  level: r.level,
  kind: r.kind,
  message: r.message,
  data: fromJsonOrNull(r.data),
});

function prepare(db: Database) {
  return {
    insert: db.prepare<Record<string, unknown>, EventRecord>(`
      INSERT INTO events (run_id, at, level, kind, message, data)
      VALUES (@runId, @at, @level, @kind, @message, @data)
      RETURNING *`),
    listAll: db.prepare<{ afterId: number; limit: number }, EventRecord>(
      'SELECT * FROM events WHERE id > @afterId ORDER BY id LIMIT @limit',
    ),
    listForRun: db.prepare<{ runId: number; afterId: number; limit: number }, EventRecord>(
      'SELECT * FROM events WHERE run_id = @runId AND id > @afterId ORDER BY id LIMIT @limit',
    ),
  };
}

export class EventsRepo {
  readonly #sql: ReturnType<typeof prepare>;

  constructor(
    db: Database,
    private readonly now: Clock,
  ) {
    this.#sql = prepare(db);
  }

  add(event: NewEvent): EventRow {
    const record = this.#sql.insert.get({
      runId: event.runId ?? null,
      at: event.at ?? this.now(),
      level: event.level,
      kind: event.kind,
      message: event.message,
      data: toJsonOrNull(event.data),
    });
    return toEvent(record!);
  }

  /** Oldest first. */
  list({ runId, afterId = 0, limit = 1000 }: EventQuery = {}): EventRow[] {
    const records =
      runId === undefined
        ? this.#sql.listAll.all({ afterId, limit })
        : this.#sql.listForRun.all({ runId, afterId, limit });
    return records.map(toEvent);
  }
}
