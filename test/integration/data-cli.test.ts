// `tunesmith data import|list|show` as a person runs them (the built CLI), and the datasets.*
// commands through dispatch, as the app and the server call them.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dispatch } from '../../main/api/dispatch.js';
import { EventBus } from '../../main/api/events.js';
import { createHandlers } from '../../main/api/handlers.js';
import { openCoreServices } from '../../main/core/services.js';
import { REPO_ROOT, runCli, tempDir } from '../helpers/cli.js';

const SAMPLE = join(REPO_ROOT, 'resources', 'samples', 'reference-sample.csv');
const SAMPLE_EVAL = join(REPO_ROOT, 'resources', 'samples', 'reference-sample-eval.csv');
const FIXTURES = join(REPO_ROOT, 'test', 'fixtures', 'data');

const dbHash = (home: string) =>
  createHash('sha256')
    .update(readFileSync(join(home, 'tunesmith.db')))
    .digest('hex');

describe('tunesmith data import', () => {
  it('imports the reference sample with its eval file and says what it found', () => {
    const home = tempDir();
    const { status, stdout, stderr } = runCli([
      'data',
      'import',
      SAMPLE,
      '--eval',
      SAMPLE_EVAL,
      '--home',
      home,
    ]);
    expect(stderr).toBe('');
    expect(status).toBe(0);
    expect(stdout).toContain('Format: csv');
    expect(stdout).toContain('system, question, chosen look like the reference format');
    expect(stdout).toContain('25 examples: 20 train, 5 eval');
    expect(stdout).toContain('Checks: no problems found.');
    expect(stdout).toMatch(/Dataset 1 "reference-sample", version 1 \(version id 1\)/);
  });

  it('imports a file with blocking problems, lists them by example and line, and says training will refuse', () => {
    const home = tempDir();
    const { status, stdout } = runCli([
      'data',
      'import',
      join(FIXTURES, 'rules.jsonl'),
      '--name',
      'Rules',
      '--home',
      home,
    ]);
    expect(status).toBe(0);
    expect(stdout).toContain('Example 2 (line 2) has an empty assistant reply');
    expect(stdout).toContain(
      'Training will refuse this version until 5 examples with errors are fixed or deleted: 2, 3, 4, 5, 6.',
    );
  });

  it('prints JSON with --json, and list/show see the dataset', () => {
    const home = tempDir();
    const imported = runCli([
      'data',
      'import',
      join(FIXTURES, 'alpaca.json'),
      '--split',
      '0.5',
      '--json',
      '--home',
      home,
    ]);
    expect(imported.status).toBe(0);
    const result = JSON.parse(imported.stdout);
    expect(result).toMatchObject({
      layout: 'alpaca',
      version: { exampleCount: 2, trainCount: 1, evalCount: 1 },
    });

    const list = runCli(['data', 'list', '--json', '--home', home]);
    expect(JSON.parse(list.stdout)).toEqual([
      expect.objectContaining({
        name: 'alpaca',
        latestVersion: expect.objectContaining({ exampleCount: 2 }),
      }),
    ]);

    const show = runCli(['data', 'show', String(result.dataset.id), '--json', '--home', home]);
    const shown = JSON.parse(show.stdout);
    expect(shown.examples[0].messages[0]).toEqual({
      role: 'user',
      content: 'Translate to French\n\nGood morning',
    });
    expect(shown.report.exampleCount).toBe(2);

    const human = runCli(['data', 'show', String(result.dataset.id), '--home', home]);
    expect(human.stdout).toContain('Dataset 1 "alpaca" — version 1 of 1');
    expect(human.stdout).toContain('assistant: Bonjour');

    const again = runCli(['data', 'import', join(FIXTURES, 'alpaca.json'), '--dataset', '1', '--home', home]);
    expect(again.stdout).toContain('Dataset 1 "alpaca", version 2');
    const v1 = runCli(['data', 'show', '1', '--version', '1', '--examples', '0', '--home', home]);
    expect(v1.stdout).toContain('version 1 of 2');
  });

  it('fails with exit 1, the file and the line, and leaves the database byte for byte as it was', () => {
    const home = tempDir();
    expect(runCli(['data', 'import', SAMPLE, '--home', home]).status).toBe(0);
    const before = dbHash(home);
    const broken = runCli(['data', 'import', join(FIXTURES, 'unbalanced-quotes.csv'), '--home', home]);
    expect(broken.status).toBe(1);
    expect(broken.stderr).toMatch(/unbalanced-quotes\.csv: the quoted cell that starts on line 3/);
    const json = runCli(['data', 'import', join(FIXTURES, 'broken.jsonl'), '--json', '--home', home]);
    expect(json.status).toBe(1);
    expect(JSON.parse(json.stdout).error).toMatchObject({
      code: 'bad-json',
      message: expect.stringContaining('line 2'),
    });
    const garbage = join(tempDir(), 'garbage.jsonl');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 2048 }, (_, i) => (i * 31) % 256)));
    expect(runCli(['data', 'import', garbage, '--home', home]).stderr).toMatch(
      /garbage\.jsonl does not look like a text file/,
    );
    expect(dbHash(home)).toBe(before);
  });

  it('answers usage errors with exit 2', () => {
    expect(runCli(['data', 'import']).status).toBe(2);
    expect(runCli(['data', 'import', 'a.csv', '--split', '2']).stderr).toMatch(
      /--split must be a number between 0 and 1/,
    );
    expect(runCli(['data', 'show', 'x']).status).toBe(2);
    const help = runCli(['data', '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/import .*\n.*list/);
  });
});

describe('datasets.* commands', () => {
  it('import, get, examples and edit through dispatch; errors come back as data', async () => {
    const services = openCoreServices(tempDir());
    const handlers = createHandlers({ services, bus: new EventBus() });
    try {
      const imported = await dispatch(handlers, 'datasets.import', { path: join(FIXTURES, 'rules.jsonl') });
      expect(imported).toMatchObject({ ok: true, value: { version: { exampleCount: 8 } } });
      const got = await dispatch(handlers, 'datasets.get', { datasetId: 1 });
      expect(got).toMatchObject({ ok: true, value: { report: { blockingCount: 5 } } });
      const page = await dispatch(handlers, 'datasets.examples', { versionId: 1, offset: 1, limit: 2 });
      expect(page).toMatchObject({
        ok: true,
        value: { total: 8, examples: [{ ordinal: 1 }, { ordinal: 2 }] },
      });
      const edited = await dispatch(handlers, 'datasets.edit', { versionId: 1, remove: [1, 2, 3, 4, 5] });
      expect(edited).toMatchObject({
        ok: true,
        value: { version: { version: 2, exampleCount: 3 }, report: { blockingCount: 0 } },
      });
      const failed = await dispatch(handlers, 'datasets.import', { path: join(FIXTURES, 'empty.csv') });
      expect(failed).toEqual({
        ok: false,
        error: {
          code: 'empty-file',
          message: 'empty.csv is empty (0 bytes).',
          hint: 'Choose a file that holds your examples.',
        },
      });
      expect(await dispatch(handlers, 'datasets.get', {})).toMatchObject({
        ok: false,
        error: { code: 'invalid-input' },
      });
    } finally {
      services.close();
    }
  });
});
