// Creating the Ollama model from an export with a stand-in `ollama` first on PATH (a shell script
// that checks its arguments and the Modelfile): `tunesmith export --format ollama` offering it and
// `--ollama-create NAME` doing it, and `exports.ollamaCreate` over the HTTP API with Ollama's lines
// as `exports.progress`. Both with Ollama answering, and with its server not running.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer } from '../helpers/api-server.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { exportTestModel } from '../helpers/export-model.js';
import { writeFakeOllama } from '../helpers/fake-ollama.js';

describe.runIf(process.platform !== 'win32')('tunesmith export --format ollama with Ollama installed', () => {
  const work = tempDir('tunesmith-ollama-cli-');
  const model = path.join(work, 'model');
  const noOllama = { PATH: `${tempDir()}${path.delimiter}${path.dirname(process.execPath)}` };

  beforeAll(async () => {
    await exportTestModel('mistral', model);
  });

  const exportArgs = (out: string, ...more: string[]) => [
    'export',
    '--model',
    model,
    '--format',
    'ollama',
    '--out',
    path.join(work, out),
    ...more,
  ];

  it('offers to create the model when Ollama is found, and says nothing of it otherwise', () => {
    const fake = writeFakeOllama('ok');
    const found = runCli(exportArgs('offered'), { PATH: fake.path });
    expect(found.status, found.stderr).toBe(0);
    expect(found.stdout).toMatch(/Ollama found: .*`--ollama-create offered`/);
    expect(fake.calls()).toEqual([]);

    const missing = runCli(exportArgs('plain'), noOllama);
    expect(missing.status, missing.stderr).toBe(0);
    expect(missing.stdout).toMatch(/Next: ollama create plain -f/);
    expect(missing.stdout).not.toMatch(/Ollama found/);
  });

  it('--ollama-create NAME runs `ollama create NAME -f Modelfile` in the folder and reports it', () => {
    const fake = writeFakeOllama('ok');
    const out = path.join(work, 'created');
    const r = runCli(exportArgs('created', '--ollama-create', 'tiny-bot:v1'), { PATH: fake.path });
    expect(r.status, r.stderr).toBe(0);
    expect(fake.calls()).toEqual([{ cwd: out, args: ['create', 'tiny-bot:v1', '-f', 'Modelfile'] }]);
    expect(r.stderr).toMatch(/ollama: gathering model components\n[\s\S]*ollama: writing manifest/);
    expect(r.stdout).toContain('Created the Ollama model tiny-bot:v1. Chat with it: ollama run tiny-bot:v1');

    const json = runCli(exportArgs('created-json', '--ollama-create', 'tiny-bot', '--json'), {
      PATH: fake.path,
    });
    expect(json.status, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).ollama).toMatchObject({ ok: true, name: 'tiny-bot' });
  });

  it('keeps the files and says what to do when Ollama fails or is missing', () => {
    const fake = writeFakeOllama('not-running');
    const failed = runCli(exportArgs('not-running', '--ollama-create', 'tiny-bot'), { PATH: fake.path });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toMatch(
      /model was not created[\s\S]*could not connect to ollama app[\s\S]*ollama serve/,
    );
    expect(existsSync(path.join(work, 'not-running', 'Modelfile'))).toBe(true);

    const missing = runCli(exportArgs('no-ollama', '--ollama-create', 'tiny-bot'), noOllama);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/Ollama was not found[\s\S]*ollama\.com/);
    expect(existsSync(path.join(work, 'no-ollama', 'Modelfile'))).toBe(true);
  });

  it('refuses a bad name or another format before exporting anything', () => {
    const bad = runCli(exportArgs('bad-name', '--ollama-create', 'Tiny Bot'));
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/cannot be an Ollama model name/);
    const peft = runCli(
      [...exportArgs('peft', '--ollama-create', 'bot')].map((a) => (a === 'ollama' ? 'peft' : a)),
    );
    expect(peft.status).toBe(2);
    expect(peft.stderr).toMatch(/--ollama-create needs --format ollama/);
    expect(existsSync(path.join(work, 'bad-name'))).toBe(false);
  });
});

describe.runIf(process.platform !== 'win32')('exports.ollamaCreate over the API', () => {
  let api: ApiServer;
  const savedPath = process.env.PATH;

  /** A finished export row of `kind` whose folder holds a Modelfile (what exports.create leaves). */
  function finishedExport(kind: 'ollama' | 'peft', name: string): number {
    const { store, homeDir } = api.services;
    const run = store.runs.create({ name: 'tiny run', config: {} });
    const dir = path.join(homeDir, 'exports', `run-${run.id}-${kind}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'Modelfile'), 'FROM ./base.gguf\n');
    const row = store.exports.create({ runId: run.id, checkpointId: null, kind, path: dir, meta: { name } });
    store.exports.finish(row.id, { status: 'completed', meta: { name } });
    return row.id;
  }

  beforeAll(async () => {
    api = await startApiServer();
  });
  afterAll(async () => {
    process.env.PATH = savedPath;
    await api?.close();
  });

  it('says whether Ollama is here, creates the model in the folder, and streams its lines', async () => {
    const exportId = finishedExport('ollama', 'tiny-capitals');
    process.env.PATH = tempDir();
    expect(await api.call('exports.get', { exportId })).toMatchObject({
      ollamaName: 'tiny-capitals',
      ollamaCommand: 'ollama create tiny-capitals -f Modelfile',
      ollamaAvailable: false,
    });
    const missing = await api.fail('exports.ollamaCreate', { exportId, name: 'tiny-capitals' });
    expect(missing.code).toBe('ollama-not-found');
    expect(missing.hint).toMatch(/ollama\.com/);

    const fake = writeFakeOllama('ok');
    process.env.PATH = fake.path;
    const details = await api.call('exports.get', { exportId });
    expect(details.ollamaAvailable).toBe(true);

    const progress = await api.listen('exports.progress');
    const result = await api.call('exports.ollamaCreate', { exportId, name: 'tiny-capitals' });
    expect(fake.calls()).toEqual([
      { cwd: details.export.path, args: ['create', 'tiny-capitals', '-f', 'Modelfile'] },
    ]);
    expect(result.ok).toBe(true);
    expect(result.name).toBe('tiny-capitals');
    expect(result.output).toContain('writing manifest');
    await new Promise((r) => setTimeout(r, 200));
    const mine = progress.events.filter((e) => e.exportId === exportId);
    expect(mine.map((e) => e.message)).toEqual(
      expect.arrayContaining(['Creating the Ollama model tiny-capitals', 'writing manifest', 'success']),
    );
    expect(mine.every((e) => e.done === undefined)).toBe(true);
    progress.close();
  });

  it('answers a failing Ollama, a non-Ollama export and a bad name with what to do', async () => {
    const exportId = finishedExport('ollama', 'tiny-capitals');
    process.env.PATH = writeFakeOllama('not-running').path;
    const failed = await api.fail('exports.ollamaCreate', { exportId, name: 'tiny-capitals' });
    expect(failed.code).toBe('ollama-create-failed');
    expect(failed.message).toMatch(/could not connect to ollama app/);
    expect(failed.hint).toMatch(/ollama serve/);

    const peft = await api.fail('exports.ollamaCreate', {
      exportId: finishedExport('peft', 'x'),
      name: 'tiny-capitals',
    });
    expect(peft.code).toBe('not-an-ollama-folder');
    expect(peft.hint).toMatch(/Export the run for Ollama/);
    expect((await api.fail('exports.ollamaCreate', { exportId, name: 'Not Valid' })).code).toBe(
      'invalid-input',
    );
    expect((await api.fail('exports.ollamaCreate', { exportId: 9999, name: 'bot' })).code).toBe('not-found');
  });
});
