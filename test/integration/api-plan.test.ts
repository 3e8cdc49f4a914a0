// runs.plan over the real HTTP server: the definition runs.create would store, without storing it,
// with a time estimate from a measured run of the same model (or a rough figure), and the errors a
// settings form must show.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetImportResult, ModelSummary } from '../../main/api/contract.js';
import { type ApiServer, startApiServer } from '../helpers/api-server.js';
import { REPO_ROOT } from '../helpers/cli.js';

const SAMPLE = path.join(REPO_ROOT, 'resources/samples/reference-sample.csv');
const SETTINGS = ['maxLen=256', 'threads=1'];

let api: ApiServer;
let demo: ModelSummary;
let sample: DatasetImportResult;

beforeAll(async () => {
  api = await startApiServer();
  demo = await api.call('models.createDemo', {});
  sample = await api.call('datasets.upload', {
    fileName: 'sample.csv',
    content: readFileSync(SAMPLE, 'utf8'),
  });
});
afterAll(async () => {
  await api?.close();
});

const request = (overrides: string[] = SETTINGS) => ({
  modelDir: demo.path,
  datasetVersionId: sample.version.id,
  preset: 'quick' as const,
  backend: 'cpu' as const,
  overrides,
});

describe('runs.plan', () => {
  it('plans the run runs.create would make, stores nothing, and estimates from the trained tokens', async () => {
    const plan = await api.call('runs.plan', request());
    expect(await api.call('runs.list', {})).toEqual([]);
    expect(plan.definition.plan.trainExamples).toBe(20);
    expect(plan.definition.hyper.maxLen).toBe(256);
    expect(plan.estimate.basis).toMatch(/rough figure/);
    expect(plan.estimate.tokensPerSecond).toBeGreaterThan(0);

    // Trained tokens: every reply token of every example, once per pass over the data.
    const previews = await Promise.all(
      Array.from({ length: 20 }, (_, ordinal) =>
        api.call('datasets.preview', {
          versionId: sample.version.id,
          ordinal,
          modelDir: demo.path,
          template: plan.definition.template as 'model',
          maxLen: 256,
        }),
      ),
    );
    const perPass = previews.filter((p) => p.trainedInRun).reduce((n, p) => n + p.trainedTokens, 0);
    expect(plan.estimate.trainedTokens).toBe(Math.round(perPass * plan.definition.plan.epochs));
    expect(plan.estimate.seconds).toBeCloseTo(plan.estimate.trainedTokens / plan.estimate.tokensPerSecond, 6);

    const created = await api.call('runs.create', request());
    expect(created.definition.plan).toEqual(plan.definition.plan);
    expect(created.definition.hyper).toEqual(plan.definition.hyper);
  });

  it('uses the speed measured in the newest run of the same model and backend', async () => {
    const { run } = await api.call('runs.create', request());
    const { store } = api.services;
    store.runs.setStatus(run.id, 'running');
    store.runs.setStatus(run.id, 'completed');
    // The first step pays for warming up; the estimate takes the median of the others.
    store.metrics.insertMany(
      [900, 200, 240, 210].map((value, i) => ({
        runId: run.id,
        step: i + 1,
        name: 'tokens_per_second',
        value,
      })),
    );
    const plan = await api.call('runs.plan', request());
    expect(plan.estimate.tokensPerSecond).toBe(210);
    expect(plan.estimate.basis).toMatch(new RegExp(`measured in run ${run.id}\\b`));
    expect(plan.estimate.seconds).toBeCloseTo(plan.estimate.trainedTokens / 210, 6);
  });

  it('refuses settings that cannot fit in memory, saying what to change', async () => {
    const error = await api.fail(
      'runs.plan',
      request(['maxLen=131072', 'microBatch=64', 'gradientCheckpointing=false']),
    );
    expect(error.code).toBe('does-not-fit');
    expect(error.message).toMatch(/needs about/);
    expect(error.hint).toMatch(/maxLen=|microBatch=1|gradientCheckpointing=true/);
  });

  it('refuses an unknown setting and a file that is not imported yet, with hints', async () => {
    const bad = await api.fail('runs.plan', request(['learningSpeed=3']));
    expect(bad.code).toBe('bad-setting');
    expect(bad.hint).toMatch(/lr/);
    const file = await api.fail('runs.plan', { modelDir: demo.path, dataFile: SAMPLE, backend: 'cpu' });
    expect(file.code).toBe('plan-needs-dataset');
    expect(file.hint).toMatch(/datasetVersionId/);
  });

  it('refuses a dataset with problems that stop training, naming the examples', async () => {
    const rules = await api.call('datasets.upload', {
      fileName: 'rules.jsonl',
      content: readFileSync(path.join(REPO_ROOT, 'test/fixtures/data/rules.jsonl'), 'utf8'),
    });
    const error = await api.fail('runs.plan', { ...request(), datasetVersionId: rules.version.id });
    expect(error.code).toBe('dataset-has-errors');
    expect(error.message).toMatch(/example/);
    expect(error.hint).toBeTruthy();
  });
});
