// Repositories: what goes in comes back out, typed; dataset versions share examples; the metrics
// writer commits in batches by size, by age, and on close.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ChatMessage, openStore, type Store } from '../../../main/core/store/index.js';
import { tempDbPath } from './tmp.js';

let clock = 1_700_000_000_000;
const tick = (ms = 1) => {
  clock += ms;
  return clock;
};

function freshStore(path = tempDbPath()): Store {
  return openStore(path, { now: () => clock });
}

const conversation = (i: number): ChatMessage[] => [
  { role: 'user', content: `question ${i}` },
  { role: 'assistant', content: `answer ${i}` },
];

const countRows = (store: Store, table: 'examples' | 'metrics' | 'dataset_version_examples') =>
  store.db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;

afterEach(() => {
  vi.useRealTimers();
});

describe('ModelsRepo', () => {
  it('adds, finds, lists, updates and removes models', () => {
    const store = freshStore();
    const tiny = store.models.add({
      name: 'tiny',
      path: '/models/tiny',
      architecture: 'llama',
      source: 'demo',
      params: 1_000_000,
      configHash: 'abc',
      sizeBytes: 4096,
      meta: { layers: 2 },
    });
    expect(tiny).toEqual({
      id: tiny.id,
      name: 'tiny',
      path: '/models/tiny',
      architecture: 'llama',
      source: 'demo',
      params: 1_000_000,
      configHash: 'abc',
      sizeBytes: 4096,
      status: 'ready',
      meta: { layers: 2 },
      createdAt: clock,
    });
    const big = store.models.add({
      name: 'alpha',
      path: '/models/a',
      architecture: 'qwen2',
      source: 'local',
      sizeBytes: 1,
    });
    expect(big).toMatchObject({ params: null, configHash: null, meta: {} });
    expect(store.models.get(tiny.id)).toEqual(tiny);
    expect(store.models.getByPath('/models/a')?.id).toBe(big.id);
    expect(store.models.list().map((m) => m.name)).toEqual(['alpha', 'tiny']);
    expect(store.models.list({ limit: 1 })).toHaveLength(1);
    expect(store.models.updateStatus(tiny.id, 'missing')).toBe(true);
    expect(store.models.get(tiny.id)?.status).toBe('missing');
    expect(store.models.updateStatus(999, 'ready')).toBe(false);
    expect(() =>
      store.models.add({
        name: 'dup',
        path: '/models/tiny',
        architecture: 'llama',
        source: 'local',
        sizeBytes: 1,
      }),
    ).toThrow(/UNIQUE/);
    expect(store.models.remove(tiny.id)).toBe(true);
    expect(store.models.get(tiny.id)).toBeUndefined();
    store.close();
  });
});

describe('DatasetsRepo', () => {
  it('stores a version with its examples, splits and counts, and pages through them', () => {
    const store = freshStore();
    const dataset = store.datasets.create('support replies');
    const v1 = store.datasets.addVersion({
      datasetId: dataset.id,
      sourcePath: '/data/replies.csv',
      sourceFormat: 'csv',
      mapping: { prompt: 'question', reply: 'answer' },
      note: 'first import',
      examples: Array.from({ length: 10 }, (_, i) => ({
        messages: conversation(i),
        sourceRow: { question: `question ${i}`, answer: `answer ${i}` },
        split: i < 8 ? ('train' as const) : ('eval' as const),
      })),
    });
    expect(v1).toMatchObject({
      datasetId: dataset.id,
      version: 1,
      parentVersionId: null,
      sourcePath: '/data/replies.csv',
      sourceFormat: 'csv',
      mapping: { prompt: 'question', reply: 'answer' },
      note: 'first import',
      exampleCount: 10,
      trainCount: 8,
      evalCount: 2,
    });
    expect(store.datasets.getVersion(v1.id)).toEqual(v1);

    const page = store.datasets.getVersionExamples(v1.id, { offset: 3, limit: 4 });
    expect(page.map((e) => e.ordinal)).toEqual([3, 4, 5, 6]);
    expect(page[0]).toMatchObject({
      messages: conversation(3),
      sourceRow: { question: 'question 3', answer: 'answer 3' },
      split: 'train',
    });
    expect(page[0]!.contentHash).toMatch(/^[0-9a-f]{64}$/);
    expect(store.datasets.getVersionExamples(v1.id, { offset: 8 }).map((e) => e.split)).toEqual([
      'eval',
      'eval',
    ]);
    store.close();
  });

  it('derives a version that shares unchanged examples with its parent instead of copying them', () => {
    const store = freshStore();
    const dataset = store.datasets.create('d');
    const v1 = store.datasets.addVersion({
      datasetId: dataset.id,
      examples: Array.from({ length: 100 }, (_, i) => ({ messages: conversation(i) })),
    });
    const parent = store.datasets.getVersionExamples(v1.id, { limit: 1000 });
    // Edit row 5, drop row 7, add one at the end.
    const v2 = store.datasets.addVersion({
      datasetId: dataset.id,
      parentVersionId: v1.id,
      note: 'fixed a typo',
      examples: [
        ...parent
          .filter((e) => e.ordinal !== 7)
          .map((e) => (e.ordinal === 5 ? { messages: conversation(555) } : { exampleId: e.exampleId })),
        { messages: conversation(1000) },
      ],
    });
    expect(v2).toMatchObject({
      version: 2,
      parentVersionId: v1.id,
      exampleCount: 100,
      trainCount: null,
      evalCount: null,
    });
    expect(countRows(store, 'examples')).toBe(102);
    expect(countRows(store, 'dataset_version_examples')).toBe(200);

    const child = store.datasets.getVersionExamples(v2.id, { limit: 1000 });
    expect(child[4]!.exampleId).toBe(parent[4]!.exampleId);
    expect(child[5]!.messages).toEqual(conversation(555));
    expect(child[7]!.messages).toEqual(conversation(8));
    expect(child[99]!.messages).toEqual(conversation(1000));
    // The parent is untouched.
    expect(store.datasets.getVersionExamples(v1.id, { offset: 5, limit: 1 })[0]!.messages).toEqual(
      conversation(5),
    );
    expect(store.datasets.listVersions(dataset.id).map((v) => v.version)).toEqual([1, 2]);
    expect(store.datasets.list()[0]!.latestVersion).toMatchObject({
      id: v2.id,
      version: 2,
      exampleCount: 100,
    });
    store.close();
  });

  it('stores all of a version or none of it', () => {
    const store = freshStore();
    const dataset = store.datasets.create('d');
    expect(() =>
      store.datasets.addVersion({
        datasetId: dataset.id,
        examples: [{ messages: conversation(1) }, { exampleId: 424242 }],
      }),
    ).toThrow(/FOREIGN KEY/);
    expect(store.datasets.listVersions(dataset.id)).toEqual([]);
    expect(countRows(store, 'examples')).toBe(0);
    store.close();
  });

  it('refuses a parent version from another dataset', () => {
    const store = freshStore();
    const a = store.datasets.create('a');
    const b = store.datasets.create('b');
    const va = store.datasets.addVersion({ datasetId: a.id, examples: [] });
    expect(() =>
      store.datasets.addVersion({ datasetId: b.id, parentVersionId: va.id, examples: [] }),
    ).toThrow(/not a version of dataset/);
    store.close();
  });

  it('hashes equal conversations equally, so duplicates can be found', () => {
    const store = freshStore();
    const dataset = store.datasets.create('d');
    const v = store.datasets.addVersion({
      datasetId: dataset.id,
      examples: [{ messages: conversation(1) }, { messages: conversation(2) }, { messages: conversation(1) }],
    });
    const [a, b, c] = store.datasets.getVersionExamples(v.id);
    expect(a!.contentHash).toBe(c!.contentHash);
    expect(a!.contentHash).not.toBe(b!.contentHash);
    store.close();
  });

  it('lists datasets newest-changed first and removes one with the examples only it used', () => {
    const store = freshStore();
    const a = store.datasets.create('a');
    tick();
    const b = store.datasets.create('b');
    tick();
    const va = store.datasets.addVersion({ datasetId: a.id, examples: [{ messages: conversation(1) }] });
    const vb = store.datasets.addVersion({ datasetId: b.id, examples: [{ messages: conversation(2) }] });
    // b's second version shares a's example.
    const shared = store.datasets.getVersionExamples(va.id)[0]!.exampleId;
    store.datasets.addVersion({ datasetId: b.id, parentVersionId: vb.id, examples: [{ exampleId: shared }] });
    expect(store.datasets.list().map((d) => [d.name, d.latestVersion?.version])).toEqual([
      ['b', 2],
      ['a', 1],
    ]);
    expect(store.datasets.get(a.id)?.updatedAt).toBe(clock);

    expect(store.datasets.remove(b.id)).toBe(true);
    expect(countRows(store, 'examples')).toBe(1);
    expect(store.datasets.getVersionExamples(va.id)[0]!.messages).toEqual(conversation(1));
    expect(store.datasets.remove(b.id)).toBe(false);
    store.close();
  });
});

describe('RunsRepo', () => {
  it('creates runs and moves them through their statuses with timestamps and errors', () => {
    const store = freshStore();
    const run = store.runs.create({ name: 'first', config: { lr: 2e-4, rank: 16 } });
    expect(run).toMatchObject({
      status: 'created',
      config: { lr: 2e-4, rank: 16 },
      modelId: null,
      datasetVersionId: null,
      createdAt: clock,
      startedAt: null,
      finishedAt: null,
      error: null,
    });
    const started = tick();
    expect(store.runs.setStatus(run.id, 'running', { backend: 'cuda', device: 'H200' })).toMatchObject({
      status: 'running',
      startedAt: started,
      finishedAt: null,
      backend: 'cuda',
      device: 'H200',
    });
    const failedAt = tick();
    const failed = store.runs.setStatus(run.id, 'failed', {
      error: { code: 'out-of-memory', message: 'The GPU ran out of memory.', hint: 'Lower the batch size.' },
    });
    expect(failed).toMatchObject({
      status: 'failed',
      finishedAt: failedAt,
      backend: 'cuda',
      error: { code: 'out-of-memory', message: 'The GPU ran out of memory.', hint: 'Lower the batch size.' },
    });
    tick();
    // Resumed: still the first start time, no longer finished, the old error gone.
    expect(store.runs.setStatus(run.id, 'running')).toMatchObject({
      startedAt: started,
      finishedAt: null,
      error: null,
      backend: 'cuda',
    });
    expect(store.runs.setStatus(999, 'running')).toBeUndefined();
    store.close();
  });

  it('lists recent runs newest first', () => {
    const store = freshStore();
    for (const name of ['a', 'b', 'c']) {
      tick();
      store.runs.create({ name, config: {} });
    }
    expect(store.runs.listRecent().map((r) => r.name)).toEqual(['c', 'b', 'a']);
    expect(store.runs.listRecent({ limit: 2 }).map((r) => r.name)).toEqual(['c', 'b']);
    store.close();
  });

  it('points at the exact model and dataset version it trains on', () => {
    const store = freshStore();
    const model = store.models.add({
      name: 'm',
      path: '/m',
      architecture: 'llama',
      source: 'local',
      sizeBytes: 1,
    });
    const dataset = store.datasets.create('d');
    const version = store.datasets.addVersion({ datasetId: dataset.id, examples: [] });
    const run = store.runs.create({
      name: 'r',
      modelId: model.id,
      datasetVersionId: version.id,
      config: {},
      status: 'queued',
    });
    expect(store.runs.get(run.id)).toMatchObject({
      modelId: model.id,
      datasetVersionId: version.id,
      status: 'queued',
    });
    expect(() => store.runs.create({ name: 'r', modelId: 777, config: {} })).toThrow(/FOREIGN KEY/);
    store.close();
  });
});

describe('MetricsRepo and MetricsWriter', () => {
  it('reads a series by name from a step on, with NaN kept as NaN', () => {
    const store = freshStore();
    const run = store.runs.create({ name: 'r', config: {} });
    store.metrics.insertMany([
      { runId: run.id, step: 0, name: 'loss', value: 3, at: 1 },
      { runId: run.id, step: 0, name: 'lr', value: 0.1, at: 1 },
      { runId: run.id, step: 1, name: 'loss', value: Number.NaN, at: 2 },
      { runId: run.id, step: 2, name: 'loss', value: 1.5, at: 3 },
    ]);
    expect(store.metrics.series(run.id, 'loss')).toEqual([
      { step: 0, value: 3, at: 1 },
      { step: 1, value: Number.NaN, at: 2 },
      { step: 2, value: 1.5, at: 3 },
    ]);
    expect(store.metrics.series(run.id, 'loss', { fromStep: 2 })).toEqual([{ step: 2, value: 1.5, at: 3 }]);
    expect(store.metrics.series(run.id, 'lr')).toEqual([{ step: 0, value: 0.1, at: 1 }]);
    store.close();
  });

  it('flushes when maxRows are waiting, in one batch', () => {
    const store = freshStore();
    const run = store.runs.create({ name: 'r', config: {} });
    const flushed: number[] = [];
    const writer = store.metrics.writer({
      maxRows: 4,
      maxDelayMs: 60_000,
      onFlush: (b) => flushed.push(b.rows),
    });
    writer.addStep(run.id, 0, { loss: 2, lr: 0.1 });
    writer.add({ runId: run.id, step: 1, name: 'loss', value: 1.9 });
    expect(countRows(store, 'metrics')).toBe(0);
    expect(writer.pendingRows).toBe(3);
    writer.add({ runId: run.id, step: 1, name: 'lr', value: 0.1 });
    expect(countRows(store, 'metrics')).toBe(4);
    expect(flushed).toEqual([4]);
    expect(writer.committedRows).toBe(4);
    expect(store.metrics.series(run.id, 'loss')[0]).toEqual({ step: 0, value: 2, at: clock });
    store.close();
  });

  it('flushes when the oldest row has waited maxDelayMs, by timer or on the next add', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const store = freshStore();
    const run = store.runs.create({ name: 'r', config: {} });
    const writer = store.metrics.writer({ maxRows: 1000, maxDelayMs: 500 });
    writer.add({ runId: run.id, step: 0, name: 'loss', value: 2 });
    vi.advanceTimersByTime(499);
    expect(countRows(store, 'metrics')).toBe(0);
    vi.advanceTimersByTime(1);
    expect(countRows(store, 'metrics')).toBe(1);

    // A busy event loop delays timers; the age check in add() still flushes.
    writer.add({ runId: run.id, step: 1, name: 'loss', value: 1.8 });
    tick(600);
    writer.add({ runId: run.id, step: 2, name: 'loss', value: 1.7 });
    expect(countRows(store, 'metrics')).toBe(3);
    store.close();
  });

  it('flushes on flush(), on close(), and when the store closes', () => {
    const path = tempDbPath();
    const store = freshStore(path);
    const run = store.runs.create({ name: 'r', config: {} });
    const a = store.metrics.writer({ maxRows: 100 });
    const b = store.metrics.writer({ maxRows: 100 });
    a.add({ runId: run.id, step: 0, name: 'loss', value: 1 });
    expect(a.flush()).toBe(1);
    expect(a.flush()).toBe(0);
    a.add({ runId: run.id, step: 1, name: 'loss', value: 1 });
    a.close();
    expect(() => a.add({ runId: run.id, step: 2, name: 'loss', value: 1 })).toThrow(/closed/);
    b.addStep(run.id, 5, { loss: 0.5, lr: 0.01, grad_norm: 1.2 });
    store.close();

    const reopened = freshStore(path);
    expect(reopened.status().counts.metrics).toBe(5);
    reopened.close();
  });

  it('reports a failed timer flush to onError, or throws it from the next call', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const store = freshStore();
    const errors: [string, number][] = [];
    const reported = store.metrics.writer({
      maxDelayMs: 10,
      onError: (err, dropped) => errors.push([(err as Error).message, dropped]),
    });
    reported.addStep(404, 0, { loss: 1, lr: 2 }); // no such run
    vi.advanceTimersByTime(10);
    expect(errors).toEqual([['FOREIGN KEY constraint failed', 2]]);

    const silent = store.metrics.writer({ maxDelayMs: 10 });
    silent.add({ runId: 404, step: 0, name: 'loss', value: 1 });
    vi.advanceTimersByTime(10);
    expect(() => silent.flush()).toThrow(/FOREIGN KEY/);
    expect(silent.flush()).toBe(0);
    store.close();
  });
});

describe('checkpoints, samples, exports and events', () => {
  it('records checkpoints and finds the latest', () => {
    const store = freshStore();
    const run = store.runs.create({ name: 'r', config: {} });
    const first = store.checkpoints.add({
      runId: run.id,
      step: 100,
      path: '/runs/1/ckpt-100',
      sizeBytes: 10,
    });
    const second = store.checkpoints.add({
      runId: run.id,
      step: 200,
      path: '/runs/1/ckpt-200',
      sizeBytes: 12,
      evalLoss: 1.25,
    });
    expect(first).toMatchObject({ runId: run.id, step: 100, evalLoss: null, createdAt: clock });
    expect(store.checkpoints.get(second.id)).toEqual(second);
    expect(store.checkpoints.latest(run.id)).toEqual(second);
    expect(store.checkpoints.listForRun(run.id).map((c) => c.step)).toEqual([100, 200]);
    expect(store.checkpoints.remove(second.id)).toBe(true);
    expect(store.checkpoints.latest(run.id)?.id).toBe(first.id);
    store.close();
  });

  it('records samples with whether generation stopped on its own', () => {
    const store = freshStore();
    const run = store.runs.create({ name: 'r', config: {} });
    store.samples.add({ runId: run.id, step: 10, prompt: 'Hi', output: 'Hello!', stopped: true });
    store.samples.add({ runId: run.id, step: 20, prompt: 'Hi', output: 'Hello hello hello', stopped: false });
    expect(store.samples.listForRun(run.id).map((s) => [s.step, s.stopped])).toEqual([
      [10, true],
      [20, false],
    ]);
    expect(store.samples.listForRun(run.id, { fromStep: 15 })).toHaveLength(1);
    store.close();
  });

  it('records an export from start to outcome', () => {
    const store = freshStore();
    const run = store.runs.create({ name: 'r', config: {} });
    const checkpoint = store.checkpoints.add({ runId: run.id, step: 1, path: '/c', sizeBytes: 1 });
    const gguf = store.exports.create({
      runId: run.id,
      checkpointId: checkpoint.id,
      kind: 'gguf-adapter',
      path: '/e/a.gguf',
    });
    expect(gguf).toMatchObject({ status: 'running', meta: {}, error: null, finishedAt: null });
    const doneAt = tick();
    expect(store.exports.finish(gguf.id, { status: 'completed', meta: { bytes: 123 } })).toMatchObject({
      status: 'completed',
      meta: { bytes: 123 },
      finishedAt: doneAt,
    });
    const ollama = store.exports.create({
      runId: run.id,
      kind: 'ollama',
      path: '/e/ollama',
      meta: { tag: 'me' },
    });
    expect(
      store.exports.finish(ollama.id, {
        status: 'failed',
        error: { code: 'no-ollama', message: 'Ollama is not installed.' },
      }),
    ).toMatchObject({ status: 'failed', meta: { tag: 'me' }, error: { code: 'no-ollama' } });
    expect(store.exports.listForRun(run.id).map((e) => e.kind)).toEqual(['gguf-adapter', 'ollama']);
    expect(store.exports.list({ limit: 1 }).map((e) => e.kind)).toEqual(['ollama']);
    expect(store.exports.get(gguf.id)?.checkpointId).toBe(checkpoint.id);
    store.close();
  });

  it('keeps an event log per run and for the whole app, read oldest first after an id', () => {
    const store = freshStore();
    const run = store.runs.create({ name: 'r', config: {} });
    const started = store.events.add({
      runId: run.id,
      level: 'info',
      kind: 'run.started',
      message: 'Training started.',
    });
    store.events.add({
      level: 'warn',
      kind: 'disk.low',
      message: 'Less than 5 GiB free.',
      data: { freeBytes: 4e9 },
    });
    store.events.add({
      runId: run.id,
      level: 'error',
      kind: 'run.failed',
      message: 'Out of memory.',
      at: 42,
    });
    expect(started).toMatchObject({ runId: run.id, at: clock, data: null });
    expect(store.events.list({ runId: run.id }).map((e) => e.kind)).toEqual(['run.started', 'run.failed']);
    expect(store.events.list({ runId: run.id, afterId: started.id })).toMatchObject([
      { kind: 'run.failed', at: 42 },
    ]);
    expect(store.events.list().map((e) => e.kind)).toEqual(['run.started', 'disk.low', 'run.failed']);
    expect(store.events.list({ limit: 1 })[0]!.kind).toBe('run.started');
    expect(store.events.list()[1]!.data).toEqual({ freeBytes: 4e9 });
    store.close();
  });
});

describe('Store', () => {
  it('reports its status with a count per table', () => {
    const store = freshStore();
    const run = store.runs.create({ name: 'r', config: {} });
    store.metrics.insertMany([{ runId: run.id, step: 0, name: 'loss', value: 1 }]);
    const status = store.status();
    expect(status).toMatchObject({
      walMode: true,
      readonly: false,
      counts: { runs: 1, metrics: 1, models: 0 },
    });
    expect(status.sizeBytes).toBeGreaterThan(0);
    store.close();
    store.close();
  });

  it('runs a function in one transaction', () => {
    const store = freshStore();
    expect(() =>
      store.transaction(() => {
        store.runs.create({ name: 'a', config: {} });
        throw new Error('changed my mind');
      }),
    ).toThrow('changed my mind');
    expect(store.runs.listRecent()).toEqual([]);
    store.close();
  });
});
