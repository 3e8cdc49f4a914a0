// Per-step training metrics (loss, learning rate, grad norm …), one row per (run, step, name).
// Written in batches through MetricsWriter; read back as a series for charts.
import type { Database, Transaction } from 'better-sqlite3';
import type { Clock } from './common.js';
import { MetricsWriter, type MetricsWriterOptions } from './metrics-writer.js';

export interface MetricPoint {
  runId: number;
  step: number;
  name: string;
  /** NaN is stored as NULL (SQLite has no NaN) and read back as NaN. */
  value: number;
  /** Unix ms; defaults to the time the point is written. */
  at?: number;
}

export interface SeriesPoint {
  step: number;
  value: number;
  at: number;
}

export interface SeriesOptions {
  /** Only steps >= fromStep: a chart that already has the beginning asks for the rest. */
  fromStep?: number;
}

interface MetricRecord {
  step: number;
  value: number | null;
  at: number;
}

function prepare(db: Database) {
  return {
    insert: db.prepare<{ runId: number; step: number; name: string; value: number; at: number }>(
      'INSERT INTO metrics (run_id, step, name, value, at) VALUES (@runId, @step, @name, @value, @at)',
    ),
    series: db.prepare<{ runId: number; name: string; fromStep: number }, MetricRecord>(`
      SELECT step, value, at FROM metrics
      WHERE run_id = @runId AND name = @name AND step >= @fromStep
      ORDER BY step, rowid`),
  };
}

export class MetricsRepo {
  readonly #sql: ReturnType<typeof prepare>;
  readonly #insertMany: Transaction<(points: readonly MetricPoint[]) => void>;
  readonly #writers = new Set<MetricsWriter>();

  constructor(
    db: Database,
    private readonly now: Clock,
  ) {
    this.#sql = prepare(db);
    this.#insertMany = db.transaction((points: readonly MetricPoint[]) => {
      for (const point of points) this.#insertOne(point);
    });
  }

  /** One row in its own (autocommit) transaction. Prefer a writer for anything per step. */
  insert(point: MetricPoint): void {
    this.#insertOne(point);
  }

  /** All rows in one transaction: all are stored, or none. */
  insertMany(points: readonly MetricPoint[]): void {
    this.#insertMany(points);
  }

  series(runId: number, name: string, { fromStep = 0 }: SeriesOptions = {}): SeriesPoint[] {
    return this.#sql.series.all({ runId, name, fromStep }).map((r) => ({
      step: r.step,
      value: r.value ?? Number.NaN,
      at: r.at,
    }));
  }

  /** A buffering writer; Store.close() flushes and closes the writers it handed out. */
  writer(options: MetricsWriterOptions = {}): MetricsWriter {
    const writer = new MetricsWriter(
      (points) => this.insertMany(points),
      options,
      this.now,
      () => this.#writers.delete(writer),
    );
    this.#writers.add(writer);
    return writer;
  }

  /** Flushes and closes every open writer (Store.close calls this). */
  closeWriters(): void {
    for (const writer of [...this.#writers]) writer.close();
  }

  #insertOne(point: MetricPoint): void {
    this.#sql.insert.run({
      runId: point.runId,
      step: point.step,
      name: point.name,
      value: point.value,
      at: point.at ?? this.now(),
    });
  }
}
