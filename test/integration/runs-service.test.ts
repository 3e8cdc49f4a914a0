// Runs through RunService: a tiny qwen2 trained on the sample CSV in a real trainer process.
import { cpSync, existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { EventName } from '../../main/api/contract.js';
import { dispatch } from '../../main/api/dispatch.js';
import { EventBus } from '../../main/api/events.js';
import { createHandlers } from '../../main/api/handlers.js';
import { createTinyModel } from '../../main/core/models/tiny.js';
import { type CoreServices, openCoreServices } from '../../main/core/services.js';
import { REPO_ROOT, tempDir } from '../helpers/cli.js';

const SAMPLE = path.join(REPO_ROOT, 'resources/samples/reference-sample.csv');
const SAMPLE_EVAL = path.join(REPO_ROOT, 'resources/samples/reference-sample-eval.csv');
// Small and deterministic: 1 thread, 12 steps, eval + checkpoint every 4.
const SETTINGS = [
  'threads=1',
  'maxSteps=12',
  'evalEvery=4',
  'checkpointEvery=4',
  'lr=1e-2',
  'warmupSteps=2',
  'loraR=4',
  'loraAlpha=8',
  'maxLen=256',
  'samples=2',
  'sampleMaxNewTokens=8',
  'loraDropout=0',
  'neftuneAlpha=0',
];

describe('RunService', () => {
  const work = tempDir();
  const model = path.join(work, 'model');
  const services: CoreServices[] = [];
  const open = (env: NodeJS.ProcessEnv = {}) => {
    const s = openCoreServices(path.join(work, 'home'), {}, { trainerEnv: env });
    services.push(s);
    return s;
  };
  /** A run of the tiny model on the sample with SETTINGS (and the sample's eval file unless told). */
  const createRun = (core: CoreServices, { withEval = true, modelDir = model } = {}) =>
    core.runs.create({
      modelDir,
      dataFile: SAMPLE,
      ...(withEval && { evalFile: SAMPLE_EVAL }),
      overrides: SETTINGS,
      backend: 'cpu',
    });

  beforeAll(async () => {
    await createTinyModel({ arch: 'qwen2', outDir: model });
  });
  afterAll(() => {
    for (const s of services) s.close();
  });

  let uninterrupted: number[] = [];

  it('trains to completion: loss falls, eval loss, stop rate, samples and checkpoints are stored', async () => {
    const core = open();
    const { run, definition } = await core.runs.create({
      modelDir: model,
      dataFile: SAMPLE,
      evalFile: SAMPLE_EVAL,
      preset: 'quick',
      overrides: SETTINGS,
      backend: 'cpu',
    });
    expect(definition.plan.totalSteps).toBe(12);
    expect(definition.split).toEqual({ train: 20, eval: 5, source: 'eval-file' });
    expect(definition.modelHash).toMatch(/^[0-9a-f]{64}$/);
    expect(definition.fit.totalBytes).toBeGreaterThan(0);
    const done = await core.runs.start(run.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    const details = core.runs.get(run.id);
    const loss = core.runs.series(run.id, 'loss').map((p) => p.value);
    expect(loss).toHaveLength(12);
    uninterrupted = loss;
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(loss.slice(-4))).toBeLessThan(mean(loss.slice(0, 4)));
    const evalLoss = core.runs.series(run.id, 'eval_loss');
    expect(evalLoss.map((p) => p.step)).toEqual([4, 8, 12]);
    expect(evalLoss.at(-1)!.value).toBeLessThan(evalLoss[0]!.value);
    expect(details.latest.stopRate).not.toBeNull();
    expect(details.samples.filter((s) => s.step === 12)).toHaveLength(2);
    // keepCheckpoints 3 of 3 written; files whole (no temp folders left).
    expect(details.checkpoints.map((c) => c.step)).toEqual([4, 8, 12]);
    const dir = path.join(core.runs.runDir(run.id), 'checkpoints');
    expect(readdirSync(dir).sort()).toEqual(['step-000004', 'step-000008', 'step-000012']);
    expect(existsSync(path.join(dir, 'step-000012', 'adapter', 'adapter_model.safetensors'))).toBe(true);
  });

  it('resumes after SIGKILL of the trainer with exactly the uninterrupted losses', async () => {
    const core = open({ TUNESMITH_TRAINER_FAULT: JSON.stringify({ slowMs: 150 }) });
    const { run } = await createRun(core);
    const killed = new Promise<void>((resolve) => {
      const stop = core.runs.subscribe((event) => {
        if (event.runId === run.id && event.type === 'step' && event.step === 6) {
          process.kill(core.runs.trainerPid(run.id)!, 'SIGKILL');
          stop();
          resolve();
        }
      });
    });
    const ended = core.runs.start(run.id);
    await killed;
    const interrupted = await ended;
    expect(interrupted.status).toBe('paused');
    expect(interrupted.error?.code).toBe('interrupted');
    expect(interrupted.error?.message).toMatch(/SIGKILL.*step 4/);
    const resumed = await core.runs.resume(run.id);
    expect(resumed.status).toBe('completed');
    expect(core.runs.series(run.id, 'loss').map((p) => p.value)).toEqual(uninterrupted);
  });

  it('pauses at the next optimizer step with a checkpoint, and resumes to the same losses', async () => {
    const core = open({ TUNESMITH_TRAINER_FAULT: JSON.stringify({ slowMs: 100 }) });
    const { run } = await createRun(core);
    const stop = core.runs.subscribe((event) => {
      if (event.runId === run.id && event.type === 'step' && event.step === 2) {
        core.runs.pause(run.id);
        stop();
      }
    });
    const paused = await core.runs.start(run.id);
    expect(paused.status).toBe('paused');
    expect(paused.error).toBeNull();
    const pausedAt = core.runs.get(run.id).checkpoints.at(-1)!.step;
    expect(pausedAt).toBeGreaterThanOrEqual(2);
    expect(pausedAt).toBeLessThan(12);
    expect((await core.runs.resume(run.id)).status).toBe('completed');
    expect(core.runs.series(run.id, 'loss').map((p) => p.value)).toEqual(uninterrupted);
  });

  it('stops on a NaN loss with a message and keeps the last good checkpoint', async () => {
    const core = open({ TUNESMITH_TRAINER_FAULT: JSON.stringify({ nanAtStep: 6 }) });
    const { run } = await createRun(core, { withEval: false });
    const failed = await core.runs.start(run.id);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('loss-not-finite');
    expect(failed.error?.message).toMatch(/step 6.*NaN.*checkpoint \(step 4\)/);
    expect(failed.error?.hint).toMatch(/lr=/);
    expect(core.runs.get(run.id).checkpoints.map((c) => c.step)).toEqual([4]);
  });

  it('resumes when Resume comes while the pause is still under way', async () => {
    const core = open({ TUNESMITH_TRAINER_FAULT: JSON.stringify({ slowMs: 100 }) });
    const { run } = await createRun(core);
    let resumed: Promise<unknown> | undefined;
    const stop = core.runs.subscribe((event) => {
      if (event.runId === run.id && event.type === 'step' && event.step === 2) {
        core.runs.pause(run.id);
        // The trainer is still saving its checkpoint: the resume must wait for it, not be lost.
        resumed = core.runs.resume(run.id);
        stop();
      }
    });
    await core.runs.start(run.id);
    await vi.waitFor(() => expect(resumed).toBeDefined());
    expect(((await resumed) as { status: string }).status).toBe('completed');
    expect(core.runs.series(run.id, 'loss').map((p) => p.value)).toEqual(uninterrupted);
  });

  it('pauses when the disk fills up during a checkpoint, leaving no half-written checkpoint', async () => {
    const core = open({ TUNESMITH_TRAINER_FAULT: JSON.stringify({ checkpointFailsAtStep: 8 }) });
    const { run } = await createRun(core, { withEval: false });
    const paused = await core.runs.start(run.id);
    expect(paused.status).toBe('paused');
    expect(paused.error?.code).toBe('disk-full');
    expect(paused.error?.message).toMatch(/step 8.*last checkpoint \(step 4\)/);
    expect(readdirSync(path.join(core.runs.runDir(run.id), 'checkpoints'))).toEqual(['step-000004']);
  });

  it('says clearly when the model folder was moved before a resume', async () => {
    const core = open({ TUNESMITH_TRAINER_FAULT: JSON.stringify({ checkpointFailsAtStep: 4 }) });
    const { run } = await createRun(core, { withEval: false });
    expect((await core.runs.start(run.id)).status).toBe('paused');
    const moved = `${model}-moved`;
    renameSync(model, moved);
    try {
      await expect(core.runs.resume(run.id)).rejects.toThrow(/gone \(moved or deleted\)/);
    } finally {
      renameSync(moved, model);
    }
  });

  it('refuses to resume on a model whose config changed since the run started', async () => {
    const core = open({ TUNESMITH_TRAINER_FAULT: JSON.stringify({ checkpointFailsAtStep: 4 }) });
    const copy = path.join(work, 'model-copy');
    cpSync(model, copy, { recursive: true });
    const { run } = await createRun(core, { withEval: false, modelDir: copy });
    expect((await core.runs.start(run.id)).status).toBe('paused');
    const configFile = path.join(copy, 'config.json');
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    writeFileSync(configFile, JSON.stringify({ ...config, rms_norm_eps: 1e-5 }));
    const failed = await core.runs.resume(run.id);
    expect(failed.status).toBe('failed');
    expect(failed.error?.code).toBe('model-changed');
    expect(failed.error?.message).toContain(copy);
  });

  it('closing the services stops the trainer and leaves the run interrupted, resumable', async () => {
    const core = openCoreServices(
      path.join(work, 'home'),
      {},
      {
        trainerEnv: { TUNESMITH_TRAINER_FAULT: JSON.stringify({ slowMs: 200 }) },
      },
    );
    const { run } = await createRun(core, { withEval: false });
    await new Promise<void>((resolve) => {
      core.runs.subscribe((event) => {
        if (event.runId === run.id && event.type === 'checkpoint') resolve();
      });
      void core.runs.start(run.id);
    });
    const pid = core.runs.trainerPid(run.id)!;
    core.close();
    const again = open();
    const details = again.runs.get(run.id);
    expect(details.interrupted).toBe(true);
    expect(details.run.error?.message).toMatch(/Tunesmith closed.*step 4/);
    await new Promise((r) => setTimeout(r, 500));
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('marks a run left running by a dead process as interrupted when the service opens', async () => {
    const core = open();
    const { run } = await createRun(core, { withEval: false });
    core.store.runs.setStatus(run.id, 'running');
    const again = open();
    expect(again.runs.interruptedAtStart.map((r) => r.id)).toContain(run.id);
    expect(again.runs.get(run.id).interrupted).toBe(true);
  });
  it('runs through the API contract: create, start, events, get, metrics; errors as data', async () => {
    const core = open();
    const bus = new EventBus();
    const handlers = createHandlers({ services: core, bus });
    const seen: { name: EventName; type: string }[] = [];
    bus.subscribe((name, payload) => seen.push({ name, type: (payload as { type: string }).type }));
    const created = await dispatch(handlers, 'runs.create', {
      modelDir: model,
      dataFile: SAMPLE,
      evalFile: SAMPLE_EVAL,
      overrides: [...SETTINGS, 'maxSteps=4'],
      backend: 'cpu',
    });
    expect(created.ok, JSON.stringify(created)).toBe(true);
    const runId = (created as { value: { run: { id: number } } }).value.run.id;
    const started = await dispatch(handlers, 'runs.start', { runId });
    expect(started).toMatchObject({ ok: true, value: { status: 'running' } });
    expect((await core.runs.waitFor(runId)).status).toBe('completed');
    const got = await dispatch(handlers, 'runs.get', { runId });
    expect(got).toMatchObject({ ok: true, value: { latest: { step: 4 } } });
    const metrics = (await dispatch(handlers, 'runs.metrics', { runId })) as { value: { loss: unknown[] } };
    expect(metrics.value.loss).toHaveLength(4);
    expect(new Set(seen.filter((e) => e.name === 'runs.event').map((e) => e.type))).toEqual(
      new Set(['status', 'started', 'step', 'sample', 'eval', 'checkpoint', 'completed']),
    );
    expect(await dispatch(handlers, 'runs.resume', { runId })).toMatchObject({
      ok: false,
      error: { code: 'not-resumable' },
    });
    expect(
      await dispatch(handlers, 'runs.create', { modelDir: model, overrides: ['lr=fast'] }),
    ).toMatchObject({
      ok: false,
    });
  });
});
