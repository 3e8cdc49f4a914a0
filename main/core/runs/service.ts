// Runs as a service: define a run (model + hash, dataset version + split, template, preset and
// overrides, fit check, warnings), start its trainer process, turn the trainer's reports into SQLite
// rows (metrics batched) and throttled events, and control it: pause, resume, cancel. A trainer that
// dies without saying goodbye leaves its run paused with error code "interrupted" and its last good
// checkpoint, which `resume` continues from. (The runs table has no 'interrupted' status; a paused run
// carrying that error is what interrupted means here.)
// Out of memory during training: the trainer restarts from the last checkpoint with a smaller
// micro-batch and the same effective batch (oom.ts), once per halving, until micro-batch 1.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { TrainerEvent } from '../../api/contract/runs.js';
import type { CalibrationMessage, TrainerJob, TrainerMessage } from '../../trainer/protocol.js';
import type { DatasetService } from '../data/datasets.js';
import type { HomePaths } from '../home.js';
import type { EventLevel, EventRow, Store } from '../store/index.js';
import type { CheckpointRow } from '../store/repos/checkpoints.js';
import type { SeriesPoint } from '../store/repos/metrics.js';
import type { MetricsWriter } from '../store/repos/metrics-writer.js';
import type { RunRow } from '../store/repos/runs.js';
import type { SampleRow } from '../store/repos/samples.js';
import { CALIBRATION_SKIPPED_ON_CPU } from './calibrate.js';
import { PRESETS } from './config.js';
import { type CreateRunRequest, defineRun, type RunDefinition, RunError } from './define.js';
import {
  defaultTrainerEntry,
  forkTrainer,
  type LaunchTrainer,
  type TrainerEntry,
  type TrainerHandle,
} from './launcher.js';
import {
  currentShape,
  fallbackMessage,
  isOutOfMemory,
  MICRO_BATCH_EVENT,
  type MicroBatchChange,
  outOfMemoryFailure,
  smallerMicroBatch,
} from './oom.js';

export { type CreateRunRequest, type RunDefinition, RunError };

export interface CreatedRun {
  run: RunRow;
  definition: RunDefinition;
}

/** Pushed to listeners: every trainer message (step messages at most 10 per second per run). */
export type RunEvent = { runId: number } & (TrainerEvent | { type: 'status'; run: RunRow });

export interface RunDetails {
  run: RunRow;
  definition: RunDefinition;
  /** Interrupted: the trainer died; `resume` continues from the last checkpoint. */
  interrupted: boolean;
  latest: { step: number; loss: number | null; evalLoss: number | null; stopRate: number | null };
  checkpoints: CheckpointRow[];
  samples: SampleRow[];
  /** The run's log: warnings, failures, interruptions, starts and ends. */
  log: EventRow[];
}

export interface RunServiceOptions {
  store: Store;
  paths: HomePaths;
  datasets: DatasetService;
  /** Extra environment for trainer processes (tests inject faults with TUNESMITH_TRAINER_FAULT). */
  trainerEnv?: NodeJS.ProcessEnv;
  /** How trainer processes start: child_process.fork by default, utilityProcess in the app. */
  launchTrainer?: LaunchTrainer;
  /** The trainer entry; by default the compiled one beside this module, or the source under tsx. */
  trainerEntry?: TrainerEntry;
}

interface ActiveRun {
  trainer: TrainerHandle;
  writer: MetricsWriter;
  done: Promise<RunRow>;
  lastStepEvent: number;
  finalMessage: boolean;
  /** pause() was sent: the trainer is saving a checkpoint and will exit. */
  pausing: boolean;
  /** The service closed: the trainer's last words and exit no longer touch the store. */
  closed: boolean;
  /** The last optimizer step the trainer reported. */
  lastStep: number;
  /** Ran out of memory; a smaller micro-batch was recorded: start the trainer again when it exits. */
  restart: boolean;
}

const METRIC_NAMES = [
  'loss',
  'lr',
  'grad_norm',
  'tokens_per_second',
  'memory_bytes',
  'eval_loss',
  'stop_rate',
] as const;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export class RunService {
  readonly #store: Store;
  readonly #paths: HomePaths;
  readonly #datasets: DatasetService;
  readonly #trainerEnv: NodeJS.ProcessEnv;
  readonly #launchTrainer: LaunchTrainer;
  readonly #trainerEntry: TrainerEntry | undefined;
  readonly #active = new Map<number, ActiveRun>();
  readonly #listeners = new Set<(event: RunEvent) => void>();
  /** Runs found 'running' at start whose trainer is gone; now paused as interrupted. */
  readonly interruptedAtStart: RunRow[];

  constructor(options: RunServiceOptions) {
    this.#store = options.store;
    this.#paths = options.paths;
    this.#datasets = options.datasets;
    this.#trainerEnv = options.trainerEnv ?? {};
    this.#launchTrainer = options.launchTrainer ?? forkTrainer;
    this.#trainerEntry = options.trainerEntry;
    this.interruptedAtStart = this.#recoverInterrupted();
  }

  subscribe(listener: (event: RunEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  runDir(runId: number): string {
    return path.join(this.#paths.runs, String(runId));
  }

  async create(request: CreateRunRequest): Promise<CreatedRun> {
    const definition = await defineRun(
      { store: this.#store, datasets: this.#datasets, cacheDir: this.#paths.cache },
      request,
    );
    const run = this.#store.runs.create({
      name: request.name ?? `${path.basename(definition.modelDir)} · ${PRESETS[definition.preset].title}`,
      datasetVersionId: definition.datasetVersionId,
      config: definition as unknown as Record<string, unknown>,
    });
    mkdirSync(this.runDir(run.id), { recursive: true });
    return { run, definition };
  }

  /** The run's definition, with the micro-batch it trains with now (after out-of-memory fallbacks). */
  definition(run: RunRow): RunDefinition {
    const stored = run.config as unknown as RunDefinition;
    const planned = { microBatch: stored.hyper.microBatch, gradAccum: stored.hyper.gradAccum };
    const shape = currentShape(planned, this.#store.events.list({ runId: run.id, limit: 1_000_000 }));
    if (shape.microBatch === planned.microBatch) return stored;
    return { ...stored, hyper: { ...stored.hyper, ...shape } };
  }

  /** Starts (or, after a pause or an interruption, resumes) the run's trainer. */
  start(runId: number): Promise<RunRow> {
    const run = this.#get(runId);
    const current = this.#active.get(runId);
    // Resumed while a pause is under way: start again once the pausing trainer has exited.
    if (current?.pausing) return current.done.then(() => this.start(runId));
    if (current) return current.done;
    if (run.status === 'running') {
      throw new RunError(
        'already-running',
        `Run ${runId} is already running in another process.`,
        'Follow it with `tunesmith runs show ID`, or cancel it with `tunesmith runs cancel ID`.',
      );
    }
    if (run.status === 'completed' || run.status === 'cancelled') {
      throw new RunError(
        'run-finished',
        `Run ${runId} is ${run.status}; it cannot continue.`,
        'Start a new run.',
      );
    }
    const definition = this.definition(run);
    if (!existsSync(path.join(definition.modelDir, 'config.json'))) {
      throw new RunError(
        'model-missing',
        `Run ${runId} trains the model in ${definition.modelDir}, which is gone (moved or deleted).`,
        'Put the model folder back where it was, then resume again.',
      );
    }
    return this.#spawn(runId, definition);
  }

  #spawn(runId: number, definition: RunDefinition): Promise<RunRow> {
    const checkpoint = this.#store.checkpoints.latest(runId);
    const job: TrainerJob = {
      runId,
      runDir: this.runDir(runId),
      modelDir: definition.modelDir,
      modelHash: definition.modelHash,
      hyper: definition.hyper,
      totalSteps: definition.plan.totalSteps,
      trainTokenFile: definition.trainTokenFile,
      evalTokenFile: definition.evalTokenFile,
      samplePrompts: definition.samplePrompts,
      stopTokens: definition.stopTokens,
      resumeFrom: checkpoint && existsSync(checkpoint.path) ? checkpoint.path : null,
      backend: definition.backend,
      calibrate: definition.calibrate !== false,
      firstMicroBatch: (this.#get(runId).config as unknown as RunDefinition).hyper.microBatch,
    };
    const trainer = this.#launchTrainer(this.#trainerEntry ?? defaultTrainerEntry(), {
      ...process.env,
      ...this.#trainerEnv,
    });
    mkdirSync(job.runDir, { recursive: true });
    // Another process (a CLI in a terminal) must see the run as alive, not interrupted.
    trainer.onSpawn((pid) => writeFileSync(path.join(job.runDir, 'trainer.pid'), String(pid)));
    this.#setStatus(runId, 'running');
    const writer = this.#store.metrics.writer({ maxDelayMs: 500 });
    let resolveDone!: (run: RunRow) => void;
    const active: ActiveRun = {
      trainer,
      writer,
      done: new Promise((resolve) => {
        resolveDone = resolve;
      }),
      lastStepEvent: 0,
      finalMessage: false,
      pausing: false,
      closed: false,
      lastStep: 0,
      restart: false,
    };
    this.#active.set(runId, active);
    trainer.onMessage((message) => {
      if (!active.closed) this.#onMessage(runId, active, message);
    });
    trainer.onExit((exit) => {
      if (active.closed) return;
      writer.close();
      this.#active.delete(runId);
      rmSync(path.join(job.runDir, 'trainer.pid'), { force: true });
      if (active.restart && this.#get(runId).status === 'running') {
        try {
          this.#spawn(runId, this.definition(this.#get(runId))).then(resolveDone);
          return;
        } catch (err) {
          this.#setStatus(runId, 'failed', { code: 'trainer-error', message: (err as Error).message });
        }
      }
      if (!active.finalMessage && this.#get(runId).status !== 'cancelled') {
        const last = this.#store.checkpoints.latest(runId);
        this.#interrupt(runId, {
          message: `The trainer stopped unexpectedly (${exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`}). ${last ? `The last good checkpoint is step ${last.step}.` : 'No checkpoint was saved yet.'}`,
          hint: `Run \`tunesmith runs resume ${runId}\` to continue${last ? ` from step ${last.step}` : ' from the start'}.`,
        });
      }
      resolveDone(this.#get(runId));
    });
    trainer.send({ type: 'start', job });
    return active.done;
  }

  /** The trainer finishes its current optimizer step, saves a checkpoint and stops. */
  pause(runId: number): RunRow {
    const active = this.#active.get(runId);
    if (!active) throw new RunError('not-running', `Run ${runId} is not running here.`);
    active.pausing = true;
    active.trainer.send({ type: 'pause' });
    return this.#get(runId);
  }

  async resume(runId: number): Promise<RunRow> {
    this.#assertResumable(runId);
    return this.start(runId);
  }

  /** Starts or resumes the run and returns at once (the API: progress comes as events). */
  launch(runId: number, { resume = false } = {}): RunRow {
    if (resume) this.#assertResumable(runId);
    this.start(runId).catch(() => {
      // The run's row carries the outcome.
    });
    return this.#get(runId);
  }

  #assertResumable(runId: number): void {
    if (this.#active.get(runId)?.pausing) return;
    const run = this.#get(runId);
    if (run.status !== 'paused' && run.status !== 'failed' && run.status !== 'created') {
      throw new RunError(
        'not-resumable',
        `Run ${runId} is ${run.status}; only paused or interrupted runs resume.`,
      );
    }
  }

  async cancel(runId: number): Promise<RunRow> {
    const active = this.#active.get(runId);
    if (active) {
      active.trainer.send({ type: 'cancel' });
      return active.done;
    }
    const run = this.#get(runId);
    if (run.status === 'completed') {
      throw new RunError('run-finished', `Run ${runId} has completed; there is nothing to cancel.`);
    }
    // A trainer followed by another process (a `tunesmith train` in another terminal): stop it.
    const pidFile = path.join(this.runDir(runId), 'trainer.pid');
    const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
    const updated = this.#setStatus(runId, 'cancelled');
    if (pid > 0 && isAlive(pid)) process.kill(pid, 'SIGTERM');
    return updated;
  }

  /** The trainer process of a running run (tests kill it). */
  trainerPid(runId: number): number | undefined {
    return this.#active.get(runId)?.trainer.pid;
  }

  /** Runs whose trainer this service started and that are still training (the app asks before quitting). */
  activeRuns(): number[] {
    return [...this.#active.keys()];
  }

  /** What happened to a run, oldest first: warnings, failures, interruptions, starts and ends. */
  log(runId: number, afterId = 0): EventRow[] {
    return this.#store.events.list({ runId, afterId });
  }

  waitFor(runId: number): Promise<RunRow> {
    return this.#active.get(runId)?.done ?? Promise.resolve(this.#get(runId));
  }

  get(runId: number): RunDetails {
    const run = this.#get(runId);
    const loss = this.series(runId, 'loss').at(-1);
    return {
      run,
      definition: this.definition(run),
      interrupted: run.status === 'paused' && run.error?.code === 'interrupted',
      latest: {
        step: loss?.step ?? 0,
        loss: loss?.value ?? null,
        evalLoss: this.series(runId, 'eval_loss').at(-1)?.value ?? null,
        stopRate: this.series(runId, 'stop_rate').at(-1)?.value ?? null,
      },
      checkpoints: this.#store.checkpoints.listForRun(runId),
      samples: this.#store.samples.listForRun(runId),
      log: this.log(runId),
    };
  }

  list(limit = 50): RunRow[] {
    return this.#store.runs.listRecent({ limit });
  }

  /** One value per step: after a resume, the re-run steps replace what the dead trainer wrote. */
  series(runId: number, name: string): SeriesPoint[] {
    const byStep = new Map<number, SeriesPoint>();
    for (const point of this.#store.metrics.series(runId, name)) byStep.set(point.step, point);
    return [...byStep.values()].sort((a, b) => a.step - b.step);
  }

  metrics(runId: number): Record<(typeof METRIC_NAMES)[number], SeriesPoint[]> {
    this.#get(runId);
    return Object.fromEntries(METRIC_NAMES.map((n) => [n, this.series(runId, n)])) as Record<
      (typeof METRIC_NAMES)[number],
      SeriesPoint[]
    >;
  }

  /** Stops every trainer this service started (they checkpoint nothing: resume uses the last one). */
  close(): void {
    for (const [runId, active] of this.#active) {
      active.closed = true;
      active.writer.close();
      if (!active.finalMessage) {
        const last = this.#store.checkpoints.latest(runId);
        this.#interrupt(runId, {
          message: `The run stopped when Tunesmith closed. ${last ? `The last good checkpoint is step ${last.step}.` : 'No checkpoint was saved yet.'}`,
          hint: `Run \`tunesmith runs resume ${runId}\` to continue.`,
        });
      }
      active.trainer.kill();
    }
    this.#active.clear();
  }

  #onMessage(runId: number, active: ActiveRun, message: TrainerMessage): void {
    const store = this.#store;
    switch (message.type) {
      case 'calibration':
        this.#calibrated(runId, message);
        return;
      case 'started':
        active.lastStep = message.fromStep;
        this.#setStatus(runId, 'running', undefined, { backend: message.backend, device: message.device });
        this.#record(
          runId,
          'info',
          'run.started',
          `Training ${message.fromStep > 0 ? `resumed from step ${message.fromStep}` : 'started'} on ${message.device}.` +
            (message.backend === 'cpu' && !this.#logged(runId, 'run.started')
              ? ` ${CALIBRATION_SKIPPED_ON_CPU}`
              : ''),
        );
        break;
      case 'step':
        active.lastStep = message.step;
        active.writer.add({ runId, step: message.step, name: 'loss', value: message.loss });
        active.writer.add({ runId, step: message.step, name: 'lr', value: message.lr });
        active.writer.add({ runId, step: message.step, name: 'grad_norm', value: message.gradNorm });
        active.writer.add({
          runId,
          step: message.step,
          name: 'tokens_per_second',
          value: message.tokensPerSecond,
        });
        active.writer.add({ runId, step: message.step, name: 'memory_bytes', value: message.memoryBytes });
        break;
      case 'eval':
        if (message.loss !== null)
          active.writer.add({ runId, step: message.step, name: 'eval_loss', value: message.loss });
        if (message.stopRate !== null)
          active.writer.add({ runId, step: message.step, name: 'stop_rate', value: message.stopRate });
        break;
      case 'sample':
        store.samples.add({
          runId,
          step: message.step,
          prompt: message.prompt,
          output: message.output,
          stopped: message.stopped,
        });
        break;
      case 'checkpoint':
        active.writer.flush();
        store.checkpoints.add({
          runId,
          step: message.step,
          path: message.path,
          sizeBytes: message.sizeBytes,
          evalLoss: message.evalLoss,
        });
        this.#prune(runId);
        break;
      case 'paused':
        active.finalMessage = true;
        if (message.reason === 'disk-full') {
          this.#record(runId, 'error', 'run.disk-full', message.message ?? 'The disk is full.');
        } else {
          this.#record(runId, 'info', 'run.paused', `Paused at step ${message.step}.`);
        }
        this.#setStatus(
          runId,
          'paused',
          message.reason === 'disk-full'
            ? {
                code: 'disk-full',
                message: message.message ?? 'The disk is full.',
                hint: `Free some disk space, then run \`tunesmith runs resume ${runId}\`.`,
              }
            : undefined,
        );
        break;
      case 'cancelled':
        active.finalMessage = true;
        this.#record(runId, 'info', 'run.cancelled', `Cancelled at step ${message.step}.`);
        this.#setStatus(runId, 'cancelled');
        break;
      case 'completed':
        active.finalMessage = true;
        active.writer.flush();
        this.#record(runId, 'info', 'run.completed', `Training finished after ${message.step} steps.`);
        this.#setStatus(runId, 'completed');
        break;
      case 'failed':
        active.finalMessage = true;
        active.writer.flush();
        if (message.code === 'out-of-memory' || isOutOfMemory(message.message)) {
          const retry = this.#smallerAfterOutOfMemory(runId, active);
          if (retry) {
            this.#emit({ runId, type: 'warning', code: 'out-of-memory-smaller-batch', message: retry });
            return;
          }
          const { fit } = this.definition(this.#get(runId));
          message = { ...message, ...outOfMemoryFailure(message.message, active.lastStep + 1, fit) };
        }
        this.#setStatus(runId, 'failed', {
          code: message.code,
          message: message.message,
          ...(message.hint ? { hint: message.hint } : {}),
        });
        this.#record(runId, 'error', 'run.failed', message.message, {
          code: message.code,
          ...(message.hint ? { hint: message.hint } : {}),
        });
        break;
      case 'warning':
        this.#record(runId, 'warn', 'run.warning', message.message, { code: message.code });
        break;
    }
    if (message.type === 'step') {
      const now = Date.now();
      if (now - active.lastStepEvent < 100 && message.step !== message.totalSteps) return;
      active.lastStepEvent = now;
    }
    this.#emit({ runId, ...message });
  }

  /**
   * Out of memory at micro-batch > 1 with a checkpoint to continue from (or before the first step):
   * records the smaller micro-batch in the run's log (which `definition()` applies) and asks for a
   * restart when the trainer exits. Returns the log line, or undefined when the run must fail.
   */
  #smallerAfterOutOfMemory(runId: number, active: ActiveRun): string | undefined {
    const { hyper } = this.definition(this.#get(runId));
    const before = { microBatch: hyper.microBatch, gradAccum: hyper.gradAccum };
    const after = smallerMicroBatch(before);
    const checkpoint = this.#store.checkpoints.latest(runId);
    const fromStep = checkpoint && existsSync(checkpoint.path) ? checkpoint.step : 0;
    if (!after || (fromStep === 0 && active.lastStep > 0)) return undefined;
    const message = fallbackMessage(active.lastStep + 1, before, after, fromStep);
    const change: MicroBatchChange = { ...after, reason: 'out-of-memory', fromStep };
    this.#record(runId, 'warn', MICRO_BATCH_EVENT, message, change);
    // A pause asked for meanwhile: stay paused; resume continues with the smaller micro-batch.
    if (active.pausing) this.#setStatus(runId, 'paused');
    else active.restart = true;
    return message;
  }

  #logged(runId: number, kind: string): boolean {
    return this.#store.events.list({ runId, limit: 1_000_000 }).some((e) => e.kind === kind);
  }

  /** The trainer's memory check on a GPU: kept in the log; a smaller micro-batch is kept for resumes. */
  #calibrated(runId: number, message: CalibrationMessage): void {
    if (message.chosen.microBatch === message.planned.microBatch) {
      this.#record(runId, 'info', 'run.calibration', message.message, message.chosen);
      return;
    }
    const change: MicroBatchChange = {
      ...message.chosen,
      reason: 'calibration',
      fromStep: this.#store.checkpoints.latest(runId)?.step ?? 0,
    };
    this.#record(runId, 'warn', MICRO_BATCH_EVENT, message.message, change);
    this.#emit({ runId, type: 'warning', code: 'micro-batch-calibrated', message: message.message });
  }

  /** Keeps the last `keepCheckpoints` checkpoints and the best by eval loss; removes the others' files and rows. */
  #prune(runId: number): void {
    const keep = this.definition(this.#get(runId)).hyper.keepCheckpoints;
    const all = this.#store.checkpoints.listForRun(runId);
    const withEval = all.filter((c) => c.evalLoss !== null);
    const best = withEval.reduce<CheckpointRow | undefined>(
      (b, c) => (!b || c.evalLoss! < b.evalLoss! ? c : b),
      undefined,
    );
    const kept = new Set([...all.slice(-keep).map((c) => c.id), ...(best ? [best.id] : [])]);
    for (const checkpoint of all) {
      if (kept.has(checkpoint.id)) continue;
      rmSync(checkpoint.path, { recursive: true, force: true });
      this.#store.checkpoints.remove(checkpoint.id);
    }
  }

  #setStatus(
    runId: number,
    status: RunRow['status'],
    error?: { code: string; message: string; hint?: string },
    where: { backend?: string; device?: string } = {},
  ): RunRow {
    const run = this.#store.runs.setStatus(runId, status, { error: error ?? null, ...where })!;
    this.#emit({ runId, type: 'status', run });
    return run;
  }

  /** Paused with error code "interrupted": `resume` continues from the last checkpoint. */
  #interrupt(runId: number, error: { message: string; hint: string }): void {
    this.#setStatus(runId, 'paused', { code: 'interrupted', ...error });
    this.#record(runId, 'error', 'run.interrupted', error.message, { hint: error.hint });
  }

  /** One line in the run's log (the events table), read back by `log()` and the UI. */
  #record(runId: number, level: EventLevel, kind: string, message: string, data?: unknown): void {
    this.#store.events.add({ runId, level, kind, message, ...(data !== undefined ? { data } : {}) });
  }

  #emit(event: RunEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch {
        // A broken listener must not stop the run's bookkeeping.
      }
    }
  }

  #get(runId: number): RunRow {
    const run = this.#store.runs.get(runId);
    if (!run)
      throw new RunError(
        'not-found',
        `There is no run ${runId}.`,
        'Run `tunesmith runs list` to see the runs.',
      );
    return run;
  }

  /** Runs the database says are running but whose trainer process is gone: paused, interrupted. */
  #recoverInterrupted(): RunRow[] {
    const found: RunRow[] = [];
    for (const run of this.#store.runs.listRecent({ limit: 10_000 })) {
      if (run.status !== 'running') continue;
      const pidFile = path.join(this.runDir(run.id), 'trainer.pid');
      const pid = existsSync(pidFile) ? Number(readFileSync(pidFile, 'utf8')) : 0;
      if (pid > 0 && isAlive(pid)) continue;
      const last = this.#store.checkpoints.latest(run.id);
      const error = {
        code: 'interrupted',
        message: `Run ${run.id} was interrupted (its trainer stopped while nobody was watching). ${last ? `The last good checkpoint is step ${last.step}.` : 'No checkpoint was saved yet.'}`,
        hint: `Run \`tunesmith runs resume ${run.id}\` to continue.`,
      };
      found.push(this.#store.runs.setStatus(run.id, 'paused', { error })!);
      this.#record(run.id, 'error', 'run.interrupted', error.message, { hint: error.hint });
    }
    return found;
  }
}
