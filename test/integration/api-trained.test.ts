// What the app does with a trained run, over the real HTTP server: chat with its checkpoints,
// compare them side by side, export them. One tiny run (two steps, a checkpoint at each) is trained
// in a real trainer process first.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DatasetImportResult, ModelSummary, RunDetailsInfo } from '../../main/api/contract.js';
import { type ApiServer, startApiServer } from '../helpers/api-server.js';
import { REPO_ROOT } from '../helpers/cli.js';

const SAMPLE = path.join(REPO_ROOT, 'resources/samples/reference-sample.csv');
const SETTINGS = [
  'maxSteps=2',
  'gradAccum=1',
  'checkpointEvery=1',
  'evalEvery=1',
  'keepCheckpoints=5',
  'samples=2',
  'sampleMaxNewTokens=4',
  'threads=1',
  'maxLen=128',
  'lr=1e-2',
  'warmupSteps=0',
  'loraR=4',
  'loraAlpha=8',
  'loraDropout=0',
  'neftuneAlpha=0',
];

let api: ApiServer;
let demo: ModelSummary;
let sample: DatasetImportResult;
let run: RunDetailsInfo;

beforeAll(async () => {
  api = await startApiServer();
  demo = await api.call('models.createDemo', {});
  sample = await api.call('datasets.upload', {
    fileName: 'sample.csv',
    content: readFileSync(SAMPLE, 'utf8'),
    name: 'Capitals and more',
    splitRatio: 0.2,
    seed: 7,
  });
  const created = await api.call('runs.create', {
    modelDir: demo.path,
    datasetVersionId: sample.version.id,
    backend: 'cpu',
    overrides: SETTINGS,
    name: 'tiny run',
  });
  await api.call('runs.start', { runId: created.run.id });
  const end = Date.now() + 90_000;
  do {
    await new Promise((r) => setTimeout(r, 250));
    run = await api.call('runs.get', { runId: created.run.id });
  } while (run.run.status === 'running' && Date.now() < end);
  expect(run.run.status, JSON.stringify(run.run.error)).toBe('completed');
  expect(run.checkpoints.map((c) => c.step)).toEqual([1, 2]);
});
afterAll(async () => {
  await api?.close();
});

const stepOf = (id: number) => run.checkpoints.find((c) => c.id === id)!.step;

describe('runs.compare', () => {
  it("answers the run's fixed prompts with each checkpoint and the base model, as the trainer did", async () => {
    const [first, last] = run.checkpoints;
    const comparison = await api.call('runs.compare', {
      runId: run.run.id,
      checkpoints: [first!.id, last!.id, 'base'],
      maxNewTokens: 4,
    });
    // The default prompts are the ones the trainer's samples answered.
    const finalSamples = run.samples.filter((s) => s.step === 2);
    expect(comparison.prompts).toEqual(finalSamples.map((s) => s.prompt));
    expect(comparison.columns.map((c) => (c.checkpoint === 'base' ? 'base' : c.checkpoint.step))).toEqual([
      1,
      2,
      'base',
    ]);
    for (const column of comparison.columns) {
      expect(column.replies).toHaveLength(comparison.prompts.length);
      expect(column.stopRate).toBe(column.replies.filter((r) => r.stopped).length / column.replies.length);
      const mean = column.replies.reduce((n, r) => n + r.tokens, 0) / column.replies.length;
      expect(column.meanReplyTokens).toBeCloseTo(mean, 10);
      for (const reply of column.replies) expect(reply.tokens).toBeLessThanOrEqual(4);
    }
    // Greedy with the step-2 adapter: the same replies the trainer sampled at step 2.
    expect(comparison.columns[1]!.replies.map((r) => r.text)).toEqual(finalSamples.map((s) => s.output));
  });

  it('asks questions given instead, and refuses a checkpoint of another run', async () => {
    const comparison = await api.call('runs.compare', {
      runId: run.run.id,
      checkpoints: ['base'],
      prompts: ['Hello there', 'Why is the sky blue?'],
      maxNewTokens: 3,
    });
    expect(comparison.prompts).toEqual(['Hello there', 'Why is the sky blue?']);
    expect(comparison.columns[0]!.replies).toHaveLength(2);
    const error = await api.fail('runs.compare', { runId: run.run.id, checkpoints: [9999] });
    expect(error.code).toBe('not-found');
    expect(error.hint).toMatch(/step 1/);
  });
});

describe('chat with a run', () => {
  const question = () => {
    const [example] = run.samples;
    return example!.prompt;
  };

  it('uses the chosen checkpoint and says which; best is the lowest eval loss', async () => {
    const last = await api.call('chat.generate', {
      requestId: 'last',
      runId: run.run.id,
      checkpoint: 'last',
      messages: [{ role: 'user', content: 'Hi' }],
      maxNewTokens: 4,
      temperature: 0,
    });
    expect(last.source).toBe(`run ${run.run.id}, checkpoint at step 2`);
    expect(last.template).toBe((run.definition as { template: string }).template);
    const best = await api.call('chat.generate', {
      requestId: 'best',
      runId: run.run.id,
      messages: [{ role: 'user', content: 'Hi' }],
      maxNewTokens: 4,
      temperature: 0,
    });
    const lowest = [...run.checkpoints].sort((a, b) => a.evalLoss! - b.evalLoss!)[0]!;
    expect(best.source).toBe(`run ${run.run.id}, checkpoint at step ${lowest.step}`);
    const byId = await api.call('chat.generate', {
      requestId: 'by-id',
      runId: run.run.id,
      checkpoint: run.checkpoints[0]!.id,
      messages: [{ role: 'user', content: 'Hi' }],
      maxNewTokens: 4,
      temperature: 0,
    });
    expect(byId.source).toMatch(/step 1$/);
    const base = await api.call('chat.generate', {
      requestId: 'base',
      runId: run.run.id,
      checkpoint: 'base',
      messages: [{ role: 'user', content: 'Hi' }],
      maxNewTokens: 4,
      temperature: 0,
    });
    expect(base.source).toMatch(/base model of run/);
  });

  it('answers like the comparison does for the same question and checkpoint (greedy)', async () => {
    const asked = question();
    const comparison = await api.call('runs.compare', {
      runId: run.run.id,
      checkpoints: [run.checkpoints[1]!.id],
      prompts: [asked],
      maxNewTokens: 4,
    });
    const reply = await api.call('chat.generate', {
      requestId: 'same',
      runId: run.run.id,
      checkpoint: 'last',
      messages: [{ role: 'user', content: asked }],
      maxNewTokens: 4,
      temperature: 0,
    });
    expect(reply.text).toBe(comparison.columns[0]!.replies[0]!.text);
  });
});

describe('exports', () => {
  it('exports a checkpoint with progress, records it, and rebuilds the details with their lineage', async () => {
    const progress = await api.listen('exports.progress');
    const details = await api.call('exports.create', {
      runId: run.run.id,
      checkpoint: 'last',
      format: 'gguf-adapter',
      verify: false,
    });
    expect(details.export.status).toBe('completed');
    expect(details.export.path).toBe(path.join(api.services.paths.exports, `run-${run.run.id}-gguf-adapter`));
    expect(details.files.map((f) => path.basename(f.path))).toEqual(['adapter.gguf']);
    expect(existsSync(details.files[0]!.path)).toBe(true);
    expect(details.files[0]!.bytes).toBeGreaterThan(0);
    expect(details.verification).toBeNull();
    expect(details.ollamaCommand).toBeNull();
    expect(details.lineage).toEqual({
      dataset: { id: sample.dataset.id, name: 'Capitals and more', versionId: sample.version.id, version: 1 },
      run: { id: run.run.id, name: 'tiny run', status: 'completed' },
      checkpoint: { id: run.checkpoints[1]!.id, step: 2, evalLoss: run.checkpoints[1]!.evalLoss },
      modelDir: demo.path,
      template: (run.definition as { template: string }).template,
    });
    expect(await api.call('exports.get', { exportId: details.export.id })).toEqual(details);
    const listed = await api.call('exports.list', {});
    expect(listed.find((e) => e.id === details.export.id)?.status).toBe('completed');

    await new Promise((r) => setTimeout(r, 200));
    const mine = progress.events.filter((e) => e.exportId === details.export.id);
    expect(mine.length).toBeGreaterThanOrEqual(2);
    expect(mine[0]!.message).toMatch(/^Preparing the export of run \d+ at step 2/);
    expect(mine.at(-1)!.done).toEqual({ status: 'completed' });
    expect(mine.slice(0, -1).every((e) => e.done === undefined)).toBe(true);
    progress.close();

    // The same format again goes to the next free folder.
    const again = await api.call('exports.create', {
      runId: run.run.id,
      format: 'gguf-adapter',
      verify: false,
    });
    expect(again.export.path).toBe(`${details.export.path}-2`);
  });

  it('writes an Ollama folder verified in llama.cpp, with the command that makes the model', async () => {
    const details = await api.call('exports.create', {
      runId: run.run.id,
      format: 'ollama',
      name: 'tiny-capitals',
    });
    expect(details.export.status).toBe('completed');
    expect(details.ollamaCommand).toBe('ollama create tiny-capitals -f Modelfile');
    const names = details.files.map((f) => path.basename(f.path));
    expect(names).toContain('Modelfile');
    expect(names).toContain('adapter.gguf');
    expect(readFileSync(path.join(details.export.path, 'Modelfile'), 'utf8')).toMatch(/<\|im_end\|>/);
    expect(details.verification?.passed, JSON.stringify(details.verification)).toBe(true);
    expect(details.verification!.checks.length).toBeGreaterThan(0);
    expect(details.verification!.checks.every((c) => c.detail.length > 0)).toBe(true);
  });

  it('says a PEFT folder is not checked in llama.cpp', async () => {
    const details = await api.call('exports.create', { runId: run.run.id, format: 'peft' });
    expect(details.verification).toBeNull();
    expect(details.notes.join(' ')).toMatch(/not checked/);
    expect(details.files.map((f) => path.basename(f.path)).sort()).toEqual([
      'adapter_config.json',
      'adapter_model.safetensors',
    ]);
  });

  it('refuses a folder that already holds files unless told to replace it, recording nothing', async () => {
    const outDir = path.join(api.services.homeDir, 'taken');
    mkdirSync(outDir);
    writeFileSync(path.join(outDir, 'keep.txt'), 'mine');
    const before = await api.call('exports.list', {});
    const error = await api.fail('exports.create', {
      runId: run.run.id,
      format: 'gguf-adapter',
      outDir,
      verify: false,
    });
    expect(error.code).toBe('output-exists');
    expect(error.hint).toMatch(/another folder/);
    expect(await api.call('exports.list', {})).toEqual(before);
    expect(readFileSync(path.join(outDir, 'keep.txt'), 'utf8')).toBe('mine');

    const replaced = await api.call('exports.create', {
      runId: run.run.id,
      format: 'gguf-adapter',
      outDir,
      verify: false,
      force: true,
    });
    expect(replaced.export.path).toBe(outDir);
    expect(existsSync(path.join(outDir, 'keep.txt'))).toBe(false);
  });

  it('records a failed export with its error', async () => {
    const progress = await api.listen('exports.progress');
    const error = await api.fail('exports.create', {
      runId: run.run.id,
      format: 'gguf-adapter',
      // A file where the folder should go.
      outDir: path.join(api.services.homeDir, 'tunesmith.db', 'export'),
      verify: false,
    });
    expect(error.message.length).toBeGreaterThan(0);
    const failed = (await api.call('exports.list', {})).find((e) => e.status === 'failed');
    expect(failed).toBeDefined();
    const details = await api.call('exports.get', { exportId: failed!.id });
    expect(details.error?.message).toBe(error.message);
    await new Promise((r) => setTimeout(r, 200));
    expect(progress.events.find((e) => e.exportId === failed!.id && e.done)?.done).toEqual({
      status: 'failed',
    });
    progress.close();
    expect((await api.fail('exports.get', { exportId: 9999 })).code).toBe('not-found');
  });
});

describe('a checkpoint that is not there', () => {
  it('chat and export say which checkpoints exist', async () => {
    const chat = await api.fail('chat.generate', {
      requestId: 'nope',
      runId: run.run.id,
      checkpoint: 9999,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(chat.code).toBe('not-found');
    expect(chat.hint).toMatch(new RegExp(`${stepOf(run.checkpoints[0]!.id)}`));
  });
});
