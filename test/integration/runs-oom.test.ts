// Out of memory during training, through RunService with a real trainer process on the CPU: the
// trainer's oomAtStep fault throws the engine's out-of-memory error. With micro-batch > 1 the run
// continues from its last checkpoint with a smaller micro-batch (same effective batch) and says so;
// at micro-batch 1 it stops with what to change.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTinyModel } from '../../main/core/models/tiny.js';
import type { RunEvent } from '../../main/core/runs/service.js';
import { type CoreServices, openCoreServices } from '../../main/core/services.js';
import { REPO_ROOT, tempDir } from '../helpers/cli.js';

const SAMPLE = path.join(REPO_ROOT, 'resources/samples/reference-sample.csv');
const SAMPLE_EVAL = path.join(REPO_ROOT, 'resources/samples/reference-sample-eval.csv');
const SETTINGS = [
  'threads=1',
  'maxSteps=12',
  'evalEvery=12',
  'checkpointEvery=4',
  'lr=1e-2',
  'warmupSteps=2',
  'loraR=4',
  'loraAlpha=8',
  'maxLen=256',
  'samples=0',
  'loraDropout=0',
  'neftuneAlpha=0',
];

describe('running out of memory during training', () => {
  const work = tempDir();
  const model = path.join(work, 'model');
  const services: CoreServices[] = [];
  const open = (fault: object) => {
    const s = openCoreServices(
      path.join(work, 'home'),
      {},
      { trainerEnv: { TUNESMITH_TRAINER_FAULT: JSON.stringify(fault) } },
    );
    services.push(s);
    return s;
  };

  beforeAll(async () => {
    await createTinyModel({ arch: 'qwen2', outDir: model });
  });
  afterAll(() => {
    for (const s of services) s.close();
  });

  it('continues from the last checkpoint with a smaller micro-batch, skipping and repeating no example', async () => {
    const trace = path.join(work, 'trace.jsonl');
    const core = open({ oomAtStep: 6, oomFitsMicroBatch: 1, traceFile: trace });
    const { run, definition } = await core.runs.create({
      modelDir: model,
      dataFile: SAMPLE,
      evalFile: SAMPLE_EVAL,
      overrides: [...SETTINGS, 'microBatch=2', 'gradAccum=2'],
      backend: 'cpu',
    });
    const events: RunEvent[] = [];
    core.runs.subscribe((e) => {
      if (e.runId === run.id) events.push(e);
    });
    const done = await core.runs.start(run.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');

    const details = core.runs.get(run.id);
    expect(details.definition.hyper).toMatchObject({ microBatch: 1, gradAccum: 4 });
    const line =
      'Ran out of memory at step 6 with micro-batch 2; continuing from step 4 with micro-batch 1 and gradient accumulation 4 — the same effective batch';
    expect(details.log.filter((e) => e.message.startsWith(line))).toHaveLength(1);
    expect(events.some((e) => e.type === 'warning' && e.message.startsWith(line))).toBe(true);
    expect(details.log.some((e) => e.kind === 'run.failed')).toBe(false);
    expect(details.log.filter((e) => /resumed from step 4/.test(e.message))).toHaveLength(1);
    // The CPU has no measured calibration; the log says so once for the two trainer starts.
    expect(details.log.filter((e) => /no measured calibration on the CPU/.test(e.message))).toHaveLength(1);
    expect(details.log.find((e) => /no measured calibration/.test(e.message))?.kind).toBe('run.started');
    expect(core.runs.series(run.id, 'loss').map((p) => p.step)).toEqual(
      [...Array(12).keys()].map((i) => i + 1),
    );

    // Which examples each optimizer step used; a re-run step (5, after the restart) replaces the first.
    const byStep = new Map<number, number[]>();
    for (const l of readFileSync(trace, 'utf8').trim().split('\n')) {
      const { step, examples } = JSON.parse(l) as { step: number; examples: number[] };
      byStep.set(step, examples);
    }
    expect([...byStep.keys()].sort((a, b) => a - b)).toEqual([...Array(12).keys()].map((i) => i + 1));
    const seen = [...byStep.entries()].sort(([a], [b]) => a - b).flatMap(([, e]) => e);
    const n = definition.split.train;
    expect(seen).toHaveLength(12 * 4);
    for (let start = 0; start < seen.length; start += n) {
      const epoch = seen.slice(start, start + n);
      expect(new Set(epoch).size, `an example repeats in epoch ${start / n}`).toBe(epoch.length);
      if (epoch.length === n) expect([...epoch].sort((a, b) => a - b)).toEqual([...Array(n).keys()]);
    }
  });

  it('at micro-batch 1 stops with the message, what to change and the estimate', async () => {
    const core = open({ oomAtStep: 3 });
    const { run } = await core.runs.create({
      modelDir: model,
      dataFile: SAMPLE,
      overrides: [...SETTINGS, 'microBatch=1', 'gradAccum=2'],
      backend: 'cpu',
    });
    const done = await core.runs.start(run.id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('out-of-memory');
    expect(done.error?.message).toMatch(
      /Ran out of memory at step 3 with micro-batch 1.*needs ≈12\.3 GB, 7\.9 GB free/,
    );
    expect(done.error?.hint).toMatch(/estimate was \d+\.\d GiB with \d+\.\d GiB free/);
    expect(done.error?.hint).toMatch(/max length.*gradient checkpointing/);
    const log = core.runs.log(run.id);
    expect(log.filter((e) => e.kind === 'run.failed')).toHaveLength(1);
    expect(log.some((e) => e.kind === 'run.micro-batch')).toBe(false);
  });

  it('with no checkpoint yet after some steps, stops rather than start over', async () => {
    const core = open({ oomAtStep: 3 });
    const { run } = await core.runs.create({
      modelDir: model,
      dataFile: SAMPLE,
      overrides: [...SETTINGS, 'microBatch=2', 'gradAccum=2'],
      backend: 'cpu',
    });
    const done = await core.runs.start(run.id);
    expect(done.status).toBe('failed');
    expect(done.error?.code).toBe('out-of-memory');
  });
});
