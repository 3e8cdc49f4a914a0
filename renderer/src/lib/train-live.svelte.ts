// One run as the Train step follows it. `runs.get` and `runs.metrics` give the whole story so far
// (a reload or a resumed run shows the whole curve); `runs.event` then appends to it. Metrics live
// in growable Float64Arrays and the chart's views are refreshed at most once per animation frame.
// Events that arrive while the first load is in flight are replayed after it.
import type {
  MetricSeriesPoint,
  RunDetailsInfo,
  RunEventPayload,
  RunSummary,
  TrainerEvent,
} from '../../../main/api/contract';
import type { Api } from './api';
import { smoothed } from './chart-data';
import { GrowableSeries } from './growable-series';
import { type Problem, problemOf } from './problem';

export type StepEvent = Extract<TrainerEvent, { type: 'step' }>;
export type Sample = RunDetailsInfo['samples'][number];
type SeriesView = { x: Float64Array; y: Float64Array };

const EMPTY: SeriesView = { x: new Float64Array(0), y: new Float64Array(0) };
const LOSS_SMOOTHING = 0.9;

export class TrainLive {
  details = $state.raw<RunDetailsInfo | null>(null);
  run = $state.raw<RunSummary | null>(null);
  lastStep = $state.raw<StepEvent | null>(null);
  samples = $state.raw<Sample[]>([]);
  /** Eval loss and stop rate by step. */
  evals = $state.raw<Map<number, { loss: number | null; stopRate: number | null }>>(new Map());
  warnings = $state.raw<string[]>([]);
  loss = $state.raw<SeriesView>(EMPTY);
  lossSmoothed = $state.raw<SeriesView>(EMPTY);
  evalLoss = $state.raw<SeriesView>(EMPTY);
  lr = $state.raw<SeriesView>(EMPTY);
  /** Why the run stopped (a failed or interrupted run). */
  problem = $state.raw<Problem | null>(null);
  /** A load or a button that failed. */
  actionError = $state.raw<Problem | null>(null);
  loading = $state(true);
  busy = $state(false);

  readonly runId: number;
  readonly #api: Api;
  readonly #series = {
    loss: new GrowableSeries(),
    eval_loss: new GrowableSeries(),
    lr: new GrowableSeries(),
  };
  #smoothBuffer = new Float64Array(0);
  #pending: RunEventPayload[] | null = [];
  #frame = 0;
  #refetch: ReturnType<typeof setTimeout> | undefined;
  #unsubscribe: (() => void) | undefined;

  constructor(api: Api, runId: number) {
    this.#api = api;
    this.runId = runId;
  }

  get checkpoints(): RunDetailsInfo['checkpoints'] {
    return this.details?.checkpoints ?? [];
  }

  get totalSteps(): number {
    return this.lastStep?.totalSteps ?? this.details?.definition.plan.totalSteps ?? 0;
  }

  get step(): number {
    return Math.max(this.lastStep?.step ?? 0, this.details?.latest.step ?? 0);
  }

  async start(): Promise<void> {
    this.#unsubscribe = this.#api.on('runs.event', (event) => {
      if (event.runId !== this.runId) return;
      if (this.#pending) this.#pending.push(event);
      else this.#apply(event);
    });
    await this.reload();
  }

  /** The whole run again from the store (first load, and after it stops). */
  async reload(): Promise<void> {
    try {
      const [details, metrics] = await Promise.all([
        this.#api.call('runs.get', { runId: this.runId }),
        this.#api.call('runs.metrics', { runId: this.runId }),
      ]);
      this.#setDetails(details);
      this.#setMetrics(metrics);
      this.actionError = null;
    } catch (err) {
      this.actionError = problemOf(err);
    } finally {
      this.loading = false;
      const pending = this.#pending ?? [];
      this.#pending = null;
      for (const event of pending) this.#apply(event);
      this.#scheduleFlush();
    }
  }

  pause = () => this.#command('runs.pause');
  resume = () => this.#command('runs.resume');
  cancel = () => this.#command('runs.cancel');

  dispose(): void {
    this.#unsubscribe?.();
    cancelAnimationFrame(this.#frame);
    clearTimeout(this.#refetch);
  }

  async #command(name: 'runs.pause' | 'runs.resume' | 'runs.cancel'): Promise<void> {
    this.busy = true;
    this.actionError = null;
    try {
      this.run = await this.#api.call(name, { runId: this.runId });
      if (name === 'runs.resume') this.problem = null;
    } catch (err) {
      this.actionError = problemOf(err);
    } finally {
      this.busy = false;
    }
  }

  #setDetails(details: RunDetailsInfo): void {
    this.details = details;
    this.run = details.run;
    this.samples = details.samples;
    this.warnings = details.definition.warnings.map((w) => w.message);
    this.problem = details.run.error ? problemOf(details.run.error) : null;
  }

  #setMetrics(metrics: Record<string, MetricSeriesPoint[]>): void {
    this.#series.loss.reset(metrics.loss);
    this.#series.eval_loss.reset(metrics.eval_loss);
    this.#series.lr.reset(metrics.lr);
    const evals = new Map<number, { loss: number | null; stopRate: number | null }>();
    for (const p of metrics.eval_loss ?? []) evals.set(p.step, { loss: p.value, stopRate: null });
    for (const p of metrics.stop_rate ?? []) {
      evals.set(p.step, { loss: evals.get(p.step)?.loss ?? null, stopRate: p.value });
    }
    this.evals = evals;
  }

  #apply(event: RunEventPayload): void {
    switch (event.type) {
      case 'step':
        this.lastStep = event;
        this.#series.loss.push(event.step, event.loss);
        this.#series.lr.push(event.step, event.lr);
        this.#scheduleFlush();
        break;
      case 'eval':
        if (event.loss !== null) this.#series.eval_loss.push(event.step, event.loss);
        this.evals = new Map(this.evals).set(event.step, { loss: event.loss, stopRate: event.stopRate });
        this.#scheduleFlush();
        break;
      case 'sample':
        this.samples = [...this.samples, { id: -this.samples.length - 1, createdAt: Date.now(), ...event }];
        break;
      case 'checkpoint':
        this.#scheduleRefetch();
        break;
      case 'warning':
        this.warnings = [...this.warnings, event.message];
        break;
      case 'failed':
        this.problem = problemOf(event);
        break;
      case 'status':
        this.run = event.run;
        if (event.run.error) this.problem = problemOf(event.run.error);
        // A run that stopped: reload, so the chart has every step (live step events are thinned).
        if (event.run.status !== 'running') this.#scheduleRefetch();
        break;
    }
  }

  /** Checkpoint ids and a stopped run's full metrics come from the store; one reload for a burst. */
  #scheduleRefetch(): void {
    clearTimeout(this.#refetch);
    this.#refetch = setTimeout(() => void this.reload(), 250);
  }

  #scheduleFlush(): void {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      this.loss = this.#series.loss.view();
      this.evalLoss = this.#series.eval_loss.view();
      this.lr = this.#series.lr.view();
      if (this.#smoothBuffer.length < this.loss.y.length) {
        this.#smoothBuffer = new Float64Array(Math.max(1024, this.loss.y.length * 2));
      }
      const smooth = smoothed(
        this.loss.y,
        LOSS_SMOOTHING,
        this.#smoothBuffer.subarray(0, this.loss.y.length),
      );
      this.lossSmoothed = { x: this.loss.x, y: smooth };
    });
  }
}
