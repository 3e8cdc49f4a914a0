// Migration 0001: the tables exist and are STRICT, and the schema itself refuses bad data
// (enumerations, JSON, types) and cascades deletions the way the app relies on.
import type { Database } from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../main/core/store/index.js';
import { tempDbPath } from './tmp.js';

const TABLES = [
  'models',
  'datasets',
  'dataset_versions',
  'examples',
  'dataset_version_examples',
  'runs',
  'metrics',
  'checkpoints',
  'samples',
  'exports',
  'events',
];

function freshStore(): Store {
  const store = openStore(tempDbPath());
  return store;
}

/** A model, a dataset version with one example, a run on both, and one row of every run child. */
function seed(db: Database) {
  const now = 1_700_000_000_000;
  const modelId = db
    .prepare(
      `INSERT INTO models (name, path, architecture, source, size_bytes, status, created_at)
       VALUES ('tiny', '/m/tiny', 'llama', 'demo', 10, 'ready', ?) RETURNING id`,
    )
    .pluck()
    .get(now) as number;
  const datasetId = db
    .prepare('INSERT INTO datasets (name, created_at, updated_at) VALUES (?, ?, ?) RETURNING id')
    .pluck()
    .get('d', now, now) as number;
  const versionId = db
    .prepare(
      `INSERT INTO dataset_versions (dataset_id, version, example_count, created_at)
       VALUES (?, 1, 1, ?) RETURNING id`,
    )
    .pluck()
    .get(datasetId, now) as number;
  const exampleId = db
    .prepare(
      `INSERT INTO examples (messages, content_hash) VALUES ('[{"role":"user","content":"hi"}]', 'h') RETURNING id`,
    )
    .pluck()
    .get() as number;
  db.prepare('INSERT INTO dataset_version_examples (version_id, ordinal, example_id) VALUES (?, 0, ?)').run(
    versionId,
    exampleId,
  );
  const runId = db
    .prepare(
      `INSERT INTO runs (name, model_id, dataset_version_id, config, status, created_at)
       VALUES ('r', ?, ?, '{}', 'running', ?) RETURNING id`,
    )
    .pluck()
    .get(modelId, versionId, now) as number;
  db.prepare(`INSERT INTO metrics (run_id, step, name, value, at) VALUES (?, 1, 'loss', 2.5, ?)`).run(
    runId,
    now,
  );
  const checkpointId = db
    .prepare(
      `INSERT INTO checkpoints (run_id, step, path, size_bytes, created_at) VALUES (?, 1, '/c', 1, ?) RETURNING id`,
    )
    .pluck()
    .get(runId, now) as number;
  db.prepare(
    `INSERT INTO samples (run_id, step, prompt, output, stopped, created_at) VALUES (?, 1, 'p', 'o', 1, ?)`,
  ).run(runId, now);
  const exportId = db
    .prepare(
      `INSERT INTO exports (run_id, checkpoint_id, kind, path, status, created_at)
       VALUES (?, ?, 'peft', '/e', 'running', ?) RETURNING id`,
    )
    .pluck()
    .get(runId, checkpointId, now) as number;
  db.prepare(`INSERT INTO events (run_id, at, level, kind, message) VALUES (?, ?, 'info', 'k', 'm')`).run(
    runId,
    now,
  );
  return { now, modelId, datasetId, versionId, exampleId, runId, checkpointId, exportId };
}

const count = (db: Database, table: string) =>
  db.prepare(`SELECT count(*) FROM ${table}`).pluck().get() as number;

describe('migration 0001', () => {
  it('creates every table, each of them STRICT', () => {
    const store = freshStore();
    const list = store.db.pragma('table_list') as { name: string; schema: string; strict: number }[];
    const ours = list.filter((t) => t.schema === 'main' && !t.name.startsWith('sqlite_'));
    expect(ours.map((t) => t.name).sort()).toEqual([...TABLES].sort());
    for (const table of ours)
      expect({ table: table.name, strict: table.strict }).toEqual({ table: table.name, strict: 1 });
    store.close();
  });

  it('rejects a value of the wrong type (STRICT)', () => {
    const store = freshStore();
    const { runId } = seed(store.db);
    expect(() =>
      store.db
        .prepare(`INSERT INTO metrics (run_id, step, name, value, at) VALUES (?, 'ten', 'loss', 1, 0)`)
        .run(runId),
    ).toThrow(/cannot store TEXT value in INTEGER column/);
    store.close();
  });

  it('indexes metrics by (run_id, name, step) and reads a series through that index', () => {
    const store = freshStore();
    const columns = store.db.pragma('index_info(metrics_run_name_step)') as { name: string }[];
    expect(columns.map((c) => c.name)).toEqual(['run_id', 'name', 'step']);
    const plan = store.db
      .prepare(
        `EXPLAIN QUERY PLAN SELECT step, value FROM metrics WHERE run_id = 1 AND name = 'loss' AND step >= 10`,
      )
      .all() as { detail: string }[];
    expect(plan.map((p) => p.detail).join(' ')).toMatch(/USING INDEX metrics_run_name_step/);
    store.close();
  });

  it('deleting a run deletes its metrics, checkpoints, samples, exports and events', () => {
    const store = freshStore();
    const { runId } = seed(store.db);
    store.db.prepare('DELETE FROM runs WHERE id = ?').run(runId);
    for (const table of ['metrics', 'checkpoints', 'samples', 'exports', 'events']) {
      expect({ table, rows: count(store.db, table) }).toEqual({ table, rows: 0 });
    }
    store.close();
  });

  it('keeps a run when its model or dataset version is removed, with the reference set to NULL', () => {
    const store = freshStore();
    const { runId, modelId, datasetId } = seed(store.db);
    store.db.prepare('DELETE FROM models WHERE id = ?').run(modelId);
    store.db.prepare('DELETE FROM datasets WHERE id = ?').run(datasetId);
    const run = store.db.prepare('SELECT model_id, dataset_version_id FROM runs WHERE id = ?').get(runId);
    expect(run).toEqual({ model_id: null, dataset_version_id: null });
    expect(count(store.db, 'dataset_versions')).toBe(0);
    expect(count(store.db, 'dataset_version_examples')).toBe(0);
    store.close();
  });

  it('refuses to delete an example a version still uses, and keeps exports of a deleted checkpoint', () => {
    const store = freshStore();
    const { exampleId, checkpointId, exportId } = seed(store.db);
    expect(() => store.db.prepare('DELETE FROM examples WHERE id = ?').run(exampleId)).toThrow(/FOREIGN KEY/);
    store.db.prepare('DELETE FROM checkpoints WHERE id = ?').run(checkpointId);
    expect(
      store.db.prepare('SELECT checkpoint_id FROM exports WHERE id = ?').pluck().get(exportId),
    ).toBeNull();
    store.close();
  });

  it('refuses rows that point at nothing', () => {
    const store = freshStore();
    expect(() =>
      store.db
        .prepare(`INSERT INTO metrics (run_id, step, name, value, at) VALUES (999, 0, 'loss', 1, 0)`)
        .run(),
    ).toThrow(/FOREIGN KEY/);
    store.close();
  });

  const badEnums: [string, string][] = [
    ['models.source', `UPDATE models SET source = 'stolen'`],
    ['models.status', `UPDATE models SET status = 'half'`],
    ['runs.status', `UPDATE runs SET status = 'done'`],
    ['exports.kind', `UPDATE exports SET kind = 'zip'`],
    ['exports.status', `UPDATE exports SET status = 'done'`],
    ['events.level', `UPDATE events SET level = 'fatal'`],
    ['samples.stopped', 'UPDATE samples SET stopped = 2'],
    ['dataset_version_examples.split', `UPDATE dataset_version_examples SET split = 'test'`],
    ['dataset_versions.version', 'UPDATE dataset_versions SET version = 0'],
  ];
  it.each(badEnums)('refuses a value outside the enumeration: %s', (_, sql) => {
    const store = freshStore();
    seed(store.db);
    expect(() => store.db.prepare(sql).run()).toThrow(/CHECK constraint failed/);
    store.close();
  });

  const badJson: [string, string][] = [
    ['models.meta', `UPDATE models SET meta = '{oops'`],
    ['dataset_versions.mapping', `UPDATE dataset_versions SET mapping = '{"a":'`],
    ['examples.messages', `UPDATE examples SET messages = 'hello'`],
    ['examples.messages (not an array)', `UPDATE examples SET messages = '{"role":"user"}'`],
    ['examples.source_row', `UPDATE examples SET source_row = '[1,'`],
    ['runs.config', `UPDATE runs SET config = 'lr=1'`],
    ['runs.error', `UPDATE runs SET error = 'boom'`],
    ['exports.meta', `UPDATE exports SET meta = ''`],
    ['exports.error', `UPDATE exports SET error = '{'`],
    ['events.data', `UPDATE events SET data = 'x'`],
  ];
  it.each(badJson)('refuses invalid JSON: %s', (_, sql) => {
    const store = freshStore();
    seed(store.db);
    expect(() => store.db.prepare(sql).run()).toThrow(/CHECK constraint failed/);
    store.close();
  });

  it('allows NULL in the optional JSON columns and a NULL metric value (a NaN loss)', () => {
    const store = freshStore();
    const { runId } = seed(store.db);
    store.db.prepare('UPDATE runs SET error = NULL').run();
    store.db.prepare('UPDATE events SET data = NULL').run();
    store.db
      .prepare(`INSERT INTO metrics (run_id, step, name, value, at) VALUES (?, 2, 'loss', ?, 0)`)
      .run(runId, Number.NaN);
    expect(store.db.prepare('SELECT value FROM metrics WHERE step = 2').pluck().get()).toBeNull();
    store.close();
  });

  it('numbers versions once per dataset and gives each model path one row', () => {
    const store = freshStore();
    const { datasetId, now } = seed(store.db);
    expect(() =>
      store.db
        .prepare(
          'INSERT INTO dataset_versions (dataset_id, version, example_count, created_at) VALUES (?, 1, 0, ?)',
        )
        .run(datasetId, now),
    ).toThrow(/UNIQUE constraint failed/);
    expect(() =>
      store.db
        .prepare(
          `INSERT INTO models (name, path, architecture, source, size_bytes, status, created_at)
           VALUES ('again', '/m/tiny', 'llama', 'local', 1, 'ready', 0)`,
        )
        .run(),
    ).toThrow(/UNIQUE constraint failed: models.path/);
    store.close();
  });
});
