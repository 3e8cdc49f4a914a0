import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DatasetService } from '../../../main/core/data/datasets.js';
import { openStore, type Store } from '../../../main/core/store/index.js';
import { tempDir } from '../store/tmp.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'data');
const SAMPLES = join(import.meta.dirname, '..', '..', '..', 'resources', 'samples');
const fixture = (name: string) => join(FIXTURES, name);

let store: Store;
let service: DatasetService;
beforeEach(() => {
  const dir = tempDir();
  store = openStore(join(dir, 'tunesmith.db'));
  service = new DatasetService(store, { tempDir: dir });
});
afterEach(() => store.close());

/** The whole database as bytes: equal hashes mean nothing changed. */
const snapshot = () => createHash('sha256').update(store.db.serialize()).digest('hex');

describe('DatasetService.importFile', () => {
  it('imports the reference sample with its eval file as one version with train/eval splits', async () => {
    const result = await service.importFile(join(SAMPLES, 'reference-sample.csv'), {
      evalFile: join(SAMPLES, 'reference-sample-eval.csv'),
    });
    expect(result.layout).toBe('reference');
    expect(result.dataset.name).toBe('reference-sample');
    expect(result.version).toMatchObject({
      version: 1,
      exampleCount: 25,
      trainCount: 20,
      evalCount: 5,
      sourceFormat: 'csv',
    });
    expect(result.report.errorCount).toBe(0);
    const { examples } = service.examples(result.version.id, 20, 2);
    expect(examples[0]).toMatchObject({
      ordinal: 20,
      split: 'eval',
      source: { file: 'reference-sample-eval.csv', line: 2, row: 1 },
    });
    expect(examples[0]?.source?.values).toHaveProperty('question', 'What is the capital of Japan?');
    // Multi-line quoted cells stay one example, with \n line breaks.
    const multi = service.examples(result.version.id, 2, 1).examples[0];
    expect(multi?.messages.at(-1)?.content).toBe(
      '1. Go to bed at the same time every night.\n2. Keep the bedroom dark and cool.\n3. Avoid screens for an hour before bed.',
    );
  });

  it.each([
    ['reference.csv', 3, 'reference'],
    ['reference.tsv', 2, 'reference'],
    ['semicolon.csv', 2, 'columns'],
    ['unnamed-index.csv', 2, 'reference'],
    ['openai.jsonl', 3, 'openai'],
    ['sharegpt.json', 2, 'sharegpt'],
    ['alpaca.json', 2, 'alpaca'],
    ['prompt-completion.jsonl', 2, 'prompt-completion'],
    ['reference.parquet', 3, 'reference'],
    ['messages.parquet', 2, 'openai'],
    ['messages-nested.parquet', 2, 'openai'],
  ])('imports %s (%i examples, %s layout) with no problems', async (name, count, layout) => {
    const result = await service.importFile(fixture(name));
    expect(result.version.exampleCount).toBe(count);
    expect(result.layout).toBe(layout);
    expect(result.report.errorCount).toBe(0);
  });

  it('reports progress by phase', async () => {
    const phases: string[] = [];
    await service.importFile(fixture('reference.csv'), { onProgress: (p) => phases.push(p.phase) });
    expect(phases).toEqual(['reading', 'storing', 'checking']);
  });

  it('adds a re-import to an existing dataset as its next version', async () => {
    const first = await service.importFile(fixture('reference.csv'));
    const second = await service.importFile(fixture('reference.parquet'), { datasetId: first.dataset.id });
    expect(second.dataset.id).toBe(first.dataset.id);
    expect(second.version).toMatchObject({
      version: 2,
      parentVersionId: first.version.id,
      sourceFormat: 'parquet',
    });
    const before = snapshot();
    await expect(service.importFile(fixture('reference.csv'), { datasetId: 99 })).rejects.toMatchObject({
      code: 'not-found',
    });
    expect(snapshot()).toBe(before);
  });

  it('stores Parquet INT64, timestamp and byte columns in the source row as plain JSON', async () => {
    const { version } = await service.importFile(fixture('typed.parquet'));
    const [first, second] = service.examples(version.id, 0, 2).examples;
    expect(first?.messages.at(-1)).toEqual({ role: 'assistant', content: 'A1' });
    expect(first?.source?.values).toMatchObject({ id: 1, created: '1970-01-01T00:00:00.000Z' });
    expect(second?.source?.values).toMatchObject({
      id: '9007199254740993',
      created: '1970-01-02T00:00:00.000Z',
    });
  });

  it('keeps multi-turn conversations whole', async () => {
    const { version } = await service.importFile(fixture('openai.jsonl'));
    expect(service.examples(version.id, 1, 1).examples[0]?.messages.map((m) => m.role)).toEqual([
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
  });

  it('reports every validation rule by example and line, and keeps every example', async () => {
    const { version, report } = await service.importFile(fixture('rules.jsonl'));
    expect(version.exampleCount).toBe(8);
    expect(report.issues.map((i) => [i.ordinal + 1, i.rule])).toEqual([
      [2, 'empty-reply'],
      [3, 'missing-reply'],
      [4, 'not-ending-with-reply'],
      [5, 'unknown-role'],
      [6, 'invalid-utf8'],
      [7, 'duplicate'],
      [8, 'empty-prompt'],
    ]);
    expect(report.blockingOrdinals.map((o) => o + 1)).toEqual([2, 3, 4, 5, 6]);
    expect(() => service.assertTrainable(version.id)).toThrow(
      /5 examples have problems that stop training: examples 2, 3, 4, 5, 6/,
    );
  });

  it('imports a file whose reply column is empty, reporting every example instead of dropping them', async () => {
    const { version, report } = await service.importFile(fixture('empty-column.csv'));
    expect(version.exampleCount).toBe(2);
    expect(report.issues.map((i) => i.message)).toEqual([
      expect.stringMatching(/^Example 1 \(line 2\) has an empty assistant reply/),
      expect.stringMatching(/^Example 2 \(line 3\) has an empty assistant reply/),
    ]);
  });

  it('flags bytes that are not UTF-8 in the row where they are', async () => {
    const { report } = await service.importFile(fixture('invalid-utf8.csv'));
    expect(report.issues).toEqual([
      expect.objectContaining({
        rule: 'invalid-utf8',
        ordinal: 1,
        message: expect.stringContaining('(line 3)'),
      }),
    ]);
  });

  it('uses --map over the detected mapping and checks its columns', async () => {
    const { version } = await service.importFile(fixture('reference.csv'), {
      map: 'user=chosen,assistant=question',
    });
    expect(service.examples(version.id, 0, 1).examples[0]?.messages).toEqual([
      { role: 'user', content: '4' },
      { role: 'assistant', content: 'What is 2+2?' },
    ]);
    await expect(
      service.importFile(fixture('reference.csv'), { map: 'user=q,assistant=chosen' }),
    ).rejects.toMatchObject({
      code: 'bad-mapping',
    });
  });

  it('splits by a seeded ratio: exact count, same seed same split', async () => {
    const a = await service.importFile(join(SAMPLES, 'reference-sample.csv'), { splitRatio: 0.25, seed: 7 });
    const b = await service.importFile(join(SAMPLES, 'reference-sample.csv'), { splitRatio: 0.25, seed: 7 });
    const c = await service.importFile(join(SAMPLES, 'reference-sample.csv'), { splitRatio: 0.25, seed: 8 });
    expect(a.version).toMatchObject({ trainCount: 15, evalCount: 5 });
    const splits = (id: number) => service.examples(id, 0, 100).examples.map((e) => e.split);
    expect(splits(b.version.id)).toEqual(splits(a.version.id));
    expect(splits(c.version.id)).not.toEqual(splits(a.version.id));
  });

  it.each([
    ['unbalanced-quotes.csv', 'unbalanced-quotes', /line 3/],
    ['text-after-quote.csv', 'bad-csv', /line 2, column 1/],
    ['extra-cells.csv', 'bad-csv', /line 3: the row has 3 cells but the header has 2/],
    ['duplicate-header.csv', 'bad-csv', /"question" twice/],
    ['broken.jsonl', 'bad-json', /broken\.jsonl, line 2/],
    ['not-parquet.parquet', 'bad-parquet', /not-parquet\.parquet/],
    ['empty.csv', 'empty-file', /empty\.csv is empty/],
    ['header-only.csv', 'no-examples', /header-only\.csv holds no examples/],
    ['no-reply-column.csv', 'bad-mapping', /could not tell which column holds the reply/],
  ])('refuses %s (%s) and leaves the database exactly as it was', async (name, code, message) => {
    await service.importFile(fixture('reference.csv')); // something already stored
    const before = snapshot();
    const error = await service.importFile(fixture(name)).catch((e: unknown) => e);
    expect(error).toMatchObject({ code });
    expect((error as Error).message).toMatch(message);
    expect((error as { hint: string }).hint.length).toBeGreaterThan(10);
    expect(snapshot()).toBe(before);
  });

  it('removes spool folders that killed imports left behind, but not recent ones', () => {
    const dir = tempDir();
    const old = join(dir, 'tunesmith-import-old');
    const recent = join(dir, 'tunesmith-import-recent');
    mkdirSync(old);
    mkdirSync(recent);
    const twoDaysAgo = new Date(Date.now() - 48 * 3600 * 1000);
    utimesSync(old, twoDaysAgo, twoDaysAgo);
    new DatasetService(store, { tempDir: dir });
    expect(existsSync(old)).toBe(false);
    expect(existsSync(recent)).toBe(true);
  });

  it('rolls back a failure inside the database write as a whole', async () => {
    await service.importFile(fixture('reference.csv'));
    const before = snapshot();
    // A failure after some of the new rows are written (the 5th example row overall).
    store.db.exec(
      `CREATE TEMP TRIGGER fail AFTER INSERT ON examples WHEN NEW.id = 5 BEGIN SELECT RAISE(ABORT, 'disk full'); END`,
    );
    await expect(service.importFile(join(SAMPLES, 'reference-sample.csv'))).rejects.toThrow('disk full');
    store.db.exec('DROP TRIGGER fail');
    expect(snapshot()).toBe(before);
    expect(store.datasets.list()).toHaveLength(1);
  });

  it('refuses a 50 MB cell and binary garbage with a clear error', async () => {
    const dir = tempDir();
    const big = join(dir, 'big-cell.csv');
    writeFileSync(big, `question,chosen\nq,"${'x'.repeat(50 * 1024 * 1024)}"\n`);
    await expect(service.importFile(big)).rejects.toMatchObject({
      code: 'cell-too-large',
      message: 'big-cell.csv, line 2, column 2: a cell is larger than 10 MB.',
    });
    const garbage = join(dir, 'garbage.csv');
    writeFileSync(garbage, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
    await expect(service.importFile(garbage)).rejects.toMatchObject({
      code: 'binary-file',
      message: expect.stringContaining('garbage.csv does not look like a text file'),
    });
    expect(store.datasets.list()).toEqual([]);
  });
});

describe('DatasetService.editVersion', () => {
  it('makes a new version sharing unchanged examples; the old version stays as it was', async () => {
    const { version: v1 } = await service.importFile(join(SAMPLES, 'reference-sample.csv'), {
      evalFile: join(SAMPLES, 'reference-sample-eval.csv'),
    });
    const examplesBefore = store.status().counts.examples ?? 0;
    const { version: v2, report } = service.editVersion(v1.id, {
      update: [
        {
          ordinal: 0,
          messages: [
            { role: 'user', content: 'Capital of France?' },
            { role: 'assistant', content: 'Paris.' },
          ],
        },
      ],
      remove: [1, 21],
      add: [
        {
          messages: [
            { role: 'user', content: 'New?' },
            { role: 'assistant', content: '' },
          ],
        },
      ],
    });
    expect(v2).toMatchObject({
      version: 2,
      parentVersionId: v1.id,
      exampleCount: 24,
      trainCount: 20,
      evalCount: 4,
    });
    expect(v2.note).toBe('Edited version 1: 1 changed, 1 added, 2 deleted');
    expect(store.status().counts.examples).toBe(examplesBefore + 2); // the changed one and the added one
    expect(report.issues.map((i) => [i.ordinal + 1, i.rule])).toEqual([[24, 'empty-reply']]);
    const first = service.examples(v2.id, 0, 2).examples;
    expect(first[0]?.messages[0]?.content).toBe('Capital of France?');
    expect(first[0]?.source?.line).toBe(2); // still points at its source row
    expect(first[1]?.messages[1]?.content).toContain('three tips');
    expect(service.examples(v1.id, 0, 1).examples[0]?.messages[1]?.content).toBe(
      'What is the capital of France?',
    );
    expect(service.get(v1.id).versions.map((v) => v.version)).toEqual([1, 2]);
  });

  it('refuses edits to examples that do not exist, and empty edits', async () => {
    const { version } = await service.importFile(fixture('reference.csv'));
    expect(() => service.editVersion(version.id, { remove: [3] })).toThrow(
      /Cannot delete example 4: version 1 has examples 1 to 3/,
    );
    expect(() => service.editVersion(version.id, {})).toThrow(/changes nothing/);
    expect(() => service.get(999)).toThrow(/no dataset version 999/);
  });
});
