// Buffers metric points and commits them in one transaction when `maxRows` are waiting or the oldest
// has waited `maxDelayMs`, and on flush()/close(). One transaction per batch is what makes per-step
// metrics cheap (see test/bench/store.bench.ts); a crash loses at most the rows not yet flushed.
import type { Clock } from './common.js';
import type { MetricPoint } from './metrics.js';

export interface MetricsWriterOptions {
  /** Flush when this many rows are waiting. Default 500. */
  maxRows?: number;
  /** Flush when the oldest waiting row is this old. Default 1000 ms. */
  maxDelayMs?: number;
  /** Called after each committed batch. */
  onFlush?: (batch: { rows: number; committedRows: number }) => void;
  /**
   * Called when a timer-driven flush fails; the batch is dropped. Without it, the error is thrown by
   * the next add(), flush() or close() instead, so it is never lost.
   */
  onError?: (error: unknown, droppedRows: number) => void;
}

export class MetricsWriter {
  readonly #insertBatch: (points: readonly MetricPoint[]) => void;
  readonly #now: Clock;
  readonly #onClose: () => void;
  readonly #maxRows: number;
  readonly #maxDelayMs: number;
  readonly #onFlush: MetricsWriterOptions['onFlush'];
  readonly #onError: MetricsWriterOptions['onError'];
  #buffer: MetricPoint[] = [];
  #oldestAt = 0;
  #timer: NodeJS.Timeout | undefined;
  #deferredError: unknown;
  #committedRows = 0;
  #closed = false;

  constructor(
    insertBatch: (points: readonly MetricPoint[]) => void,
    options: MetricsWriterOptions,
    now: Clock,
    onClose: () => void,
  ) {
    this.#insertBatch = insertBatch;
    this.#now = now;
    this.#onClose = onClose;
    this.#maxRows = Math.max(1, options.maxRows ?? 500);
    this.#maxDelayMs = Math.max(0, options.maxDelayMs ?? 1000);
    this.#onFlush = options.onFlush;
    this.#onError = options.onError;
  }

  get pendingRows(): number {
    return this.#buffer.length;
  }

  get committedRows(): number {
    return this.#committedRows;
  }

  add(point: MetricPoint): void {
    this.#throwDeferred();
    if (this.#closed) throw new Error('This MetricsWriter is closed.');
    const now = this.#now();
    if (this.#buffer.length === 0) {
      this.#oldestAt = now;
      // The timer covers a quiet trainer; the age check below covers a busy event loop.
      this.#timer = setTimeout(() => this.#flushFromTimer(), this.#maxDelayMs);
      this.#timer.unref();
    }
    this.#buffer.push(point.at === undefined ? { ...point, at: now } : point);
    if (this.#buffer.length >= this.#maxRows || now - this.#oldestAt >= this.#maxDelayMs) this.flush();
  }

  /** Adds one point per entry of `values`, all at the same step. */
  addStep(runId: number, step: number, values: Readonly<Record<string, number>>, at?: number): void {
    for (const [name, value] of Object.entries(values)) {
      this.add(at === undefined ? { runId, step, name, value } : { runId, step, name, value, at });
    }
  }

  /** Commits what is waiting; returns the number of rows committed. If the commit fails it throws and
   *  the batch is dropped (retrying a batch that breaks a constraint would fail forever). */
  flush(): number {
    this.#throwDeferred();
    return this.#commit();
  }

  /** Flushes and stops accepting points. Safe to call twice. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onClose();
    this.#throwDeferred();
    this.#commit();
  }

  #commit(): number {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#buffer;
    if (batch.length === 0) return 0;
    this.#buffer = [];
    this.#insertBatch(batch);
    this.#committedRows += batch.length;
    this.#onFlush?.({ rows: batch.length, committedRows: this.#committedRows });
    return batch.length;
  }

  #flushFromTimer(): void {
    this.#timer = undefined;
    const rows = this.#buffer.length;
    try {
      this.#commit();
    } catch (error) {
      if (this.#onError) this.#onError(error, rows);
      else this.#deferredError ??= error;
    }
  }

  #throwDeferred(): void {
    if (this.#deferredError === undefined) return;
    const error = this.#deferredError;
    this.#deferredError = undefined;
    throw error;
  }
}
