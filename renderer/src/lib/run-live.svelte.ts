// One run as the run page follows it: `runs.get` + `runs.metrics` once, then `runs.event` keeps
// it current. Step and eval events append to the metric series (growable typed arrays, handed to
// the charts at most once a second so they redraw calmly at 10 events per second); samples,
// checkpoints and status changes refetch the details, since only the store knows their ids.
import type { RunDetailsInfo, RunEventPayload, TrainerEvent } from '../../../main/api/contract';
import type { Api } from './api';
import { GrowableSeries } from './growable-series';
import { type Problem, problemOf } from './problem';

/** Metric name (`loss`, `eval_loss`, `lr` …) → steps and values. */
export type MetricSeries = Record<string, { x: Float64Array; y: Float64Array }>;
type StepEvent = Extract<TrainerEvent, { type: 'step' }>;
export type RunAction = 'runs.start' | 'runs.pause' | 'runs.resume' | 'runs.cancel';

const FLUSH_MS = 1000;
const REFETCH_MS = 300;

export class RunLive {
  details = $state.raw<RunDetailsInfo | null>(null);
  metrics = $state.raw<MetricSeries>({});
  /** The latest step event of a running run: progress, speed, time left. */
  lastStep = $state.raw<StepEvent | null>(null);
  error = $state.raw<Problem | null>(null);
  readonly runId: number;
  readonly #api: Api;
  readonly #series = new Map<string, GrowableSeries>();
  #pending: { name: string; step: number; value: number }[] = [];
  #statusEvents = 0;
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #refetchTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(api: Api, runId: number) {
    this.#api = api;
    this.runId = runId;
  }

  /** Load, then follow the run's events; returns the function that stops following. */
  follow(): () => void {
    const off = this.#api.on('runs.event', (event) => {
      if (event.runId === this.runId) this.handle(event);
    });
    void this.load();
    return () => {
      off();
      clearTimeout(this.#flushTimer);
      clearTimeout(this.#refetchTimer);
    };
  }

  async load(): Promise<void> {
    try {
      const [details, metrics] = await Promise.all([
        this.#api.call('runs.get', { runId: this.runId }),
        this.#api.call('runs.metrics', { runId: this.runId }),
      ]);
      this.details = details;
      this.#series.clear();
      for (const [name, points] of Object.entries(metrics)) this.#seriesOf(name).reset(points);
      // Events that arrived while loading: keep those newer than what the store returned.
      this.#pending = this.#pending.filter((p) => p.step > (this.#series.get(p.name)?.lastX ?? -1));
      this.#publish();
      this.error = null;
    } catch (err) {
      this.error = problemOf(err);
    }
  }

  async refetchDetails(): Promise<void> {
    try {
      this.details = await this.#api.call('runs.get', { runId: this.runId });
    } catch (err) {
      this.error = problemOf(err);
    }
  }

  /**
   * Start, pause, resume or stop the run. The answer is the run's summary as it was when main
   * answered; a status event that came first is newer (a pause answers "running" just after the
   * trainer said "paused"), so the answer only counts when no status event arrived meanwhile.
   */
  async act(name: RunAction): Promise<void> {
    const seen = this.#statusEvents;
    const run = await this.#api.call(name, { runId: this.runId });
    if (this.details && this.#statusEvents === seen)
      this.details = { ...this.details, run, interrupted: false };
    this.#scheduleRefetch();
  }

  handle(event: RunEventPayload): void {
    switch (event.type) {
      case 'step':
        this.lastStep = event;
        this.#queue(event.step, {
          loss: event.loss,
          lr: event.lr,
          grad_norm: event.gradNorm,
          tokens_per_second: event.tokensPerSecond,
          memory_bytes: event.memoryBytes,
        });
        return;
      case 'eval':
        this.#queue(event.step, { eval_loss: event.loss, stop_rate: event.stopRate });
        this.#flush();
        this.#scheduleRefetch();
        return;
      case 'status':
        this.#statusEvents += 1;
        if (this.details) this.details = { ...this.details, run: event.run };
        this.#scheduleRefetch();
        return;
      case 'started':
      case 'warning':
        return;
      default:
        // sample, checkpoint, paused, cancelled, completed, failed
        this.#flush();
        this.#scheduleRefetch();
    }
  }

  #queue(step: number, values: Record<string, number | null>): void {
    for (const [name, value] of Object.entries(values)) {
      if (value !== null && Number.isFinite(value)) this.#pending.push({ name, step, value });
    }
    this.#flushTimer ??= setTimeout(() => this.#flush(), FLUSH_MS);
  }

  #flush(): void {
    clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pending.length === 0) return;
    // A resumed run repeats steps from its checkpoint: GrowableSeries replaces the old ones.
    for (const { name, step, value } of this.#pending) this.#seriesOf(name).push(step, value);
    this.#pending = [];
    this.#publish();
  }

  #seriesOf(name: string): GrowableSeries {
    let series = this.#series.get(name);
    if (!series) {
      series = new GrowableSeries();
      this.#series.set(name, series);
    }
    return series;
  }

  /** New views (no copies) for the charts; a new object, so they redraw. */
  #publish(): void {
    this.metrics = Object.fromEntries([...this.#series].map(([name, series]) => [name, series.view()]));
  }

  #scheduleRefetch(): void {
    clearTimeout(this.#refetchTimer);
    this.#refetchTimer = setTimeout(() => void this.refetchDetails(), REFETCH_MS);
  }
}
