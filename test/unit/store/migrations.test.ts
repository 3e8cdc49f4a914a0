// The migration runner and openStore's refusals: a database is upgraded step by step or not at all,
// and one that is damaged, foreign, read-only or from a newer Tunesmith is left exactly as it was.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import {
  LATEST_VERSION,
  MIGRATIONS,
  type Migration,
  openStore,
  StoreError,
  type StoreErrorCode,
} from '../../../main/core/store/index.js';
import { bytesOf, makeImmutable, tempDbPath, tempDir } from './tmp.js';

function userVersion(path: string): number {
  const db = new Database(path, { readonly: true });
  try {
    return db.pragma('user_version', { simple: true }) as number;
  } finally {
    db.close();
  }
}

function tableNames(path: string): string[] {
  const db = new Database(path, { readonly: true });
  try {
    return db
      .prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`)
      .pluck()
      .all() as string[];
  } finally {
    db.close();
  }
}

function openError(path: string, options?: Parameters<typeof openStore>[1]): StoreError {
  try {
    openStore(path, options).close();
  } catch (err) {
    expect(err).toBeInstanceOf(StoreError);
    return err as StoreError;
  }
  throw new Error('openStore succeeded but should have failed');
}

function expectRefusedUnchanged(
  path: string,
  code: StoreErrorCode,
  options?: Parameters<typeof openStore>[1],
) {
  const before = bytesOf(path);
  const error = openError(path, options);
  expect(error.code).toBe(code);
  expect(error.path).toBe(path);
  expect(error.hint.length).toBeGreaterThan(10);
  expect(bytesOf(path).equals(before)).toBe(true);
  return error;
}

/** A real Tunesmith database with enough rows to span many pages, closed (WAL folded in). */
function realDatabase(): string {
  const path = tempDbPath();
  const store = openStore(path);
  const dataset = store.datasets.create('big');
  store.datasets.addVersion({
    datasetId: dataset.id,
    examples: Array.from({ length: 500 }, (_, i) => ({
      messages: [
        { role: 'user' as const, content: `question ${i} ${'x'.repeat(200)}` },
        { role: 'assistant' as const, content: `answer ${i}` },
      ],
    })),
  });
  store.close();
  return path;
}

const broken = (name: string): Migration => ({
  version: 2,
  name,
  up(db) {
    db.exec('CREATE TABLE half_done (x INTEGER) STRICT');
    throw new Error('disk says no');
  },
});

describe('migrations', () => {
  it('lists migrations numbered 1, 2, 3 … with kebab-case names', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(MIGRATIONS.map((_, i) => i + 1));
    for (const m of MIGRATIONS) expect(m.name).toMatch(/^[a-z0-9]+(-[a-z0-9]+)*$/);
    expect(LATEST_VERSION).toBe(MIGRATIONS.length);
  });

  it('brings a new database to the latest version, in WAL mode with foreign keys on', () => {
    const path = tempDbPath();
    const store = openStore(path);
    expect(store.db.pragma('user_version', { simple: true })).toBe(LATEST_VERSION);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(store.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(store.db.pragma('synchronous', { simple: true })).toBe(1); // NORMAL
    expect(store.status()).toMatchObject({
      schemaVersion: LATEST_VERSION,
      latestVersion: LATEST_VERSION,
      walMode: true,
    });
    store.close();
  });

  it('reopens an up-to-date database without changing it', () => {
    const path = tempDbPath();
    const first = openStore(path);
    first.models.add({ name: 'tiny', path: '/m', architecture: 'llama', source: 'demo', sizeBytes: 1 });
    first.close();
    const before = bytesOf(path);
    const again = openStore(path);
    expect(again.models.list().map((m) => m.name)).toEqual(['tiny']);
    expect(again.status().schemaVersion).toBe(LATEST_VERSION);
    again.close();
    expect(bytesOf(path).equals(before)).toBe(true);
  });

  it('refuses a database from a newer Tunesmith and leaves it byte-for-byte unchanged', () => {
    const path = tempDbPath();
    const db = new Database(path); // rollback journal: switching to WAL would change the header
    db.exec('CREATE TABLE future_things (x INTEGER)');
    db.pragma(`user_version = ${LATEST_VERSION + 3}`);
    db.close();
    const error = expectRefusedUnchanged(path, 'newer-version');
    expect(error.message).toContain(
      `written by a newer Tunesmith (schema ${LATEST_VERSION + 3}, this version knows up to ${LATEST_VERSION})`,
    );
    expect(error.message).toContain('Nothing was changed.');
    expect(existsSync(`${path}-wal`)).toBe(false);
  });

  it('refuses a newer database when opened read-only, too', () => {
    const path = tempDbPath();
    const db = new Database(path);
    db.pragma(`user_version = ${LATEST_VERSION + 1}`);
    db.close();
    expectRefusedUnchanged(path, 'newer-version', { readonly: true });
  });

  it('rolls back a failing migration and leaves the version where it was', () => {
    const path = tempDbPath();
    openStore(path, { migrations: [MIGRATIONS[0]!] }).close();
    const error = openError(path, { migrations: [MIGRATIONS[0]!, broken('add-half-done')] });
    expect(error.code).toBe('migration-failed');
    expect(error.message).toContain('schema 2 (add-half-done): disk says no');
    expect(error.message).toContain('stays at schema 1');
    expect(userVersion(path)).toBe(1);
    expect(tableNames(path)).not.toContain('half_done');
    // The database still opens with the migrations that work.
    openStore(path, { migrations: [MIGRATIONS[0]!] }).close();
  });

  it('keeps the migrations before a failing one on a new database', () => {
    const path = tempDbPath();
    expect(openError(path, { migrations: [MIGRATIONS[0]!, broken('later')] }).code).toBe('migration-failed');
    expect(userVersion(path)).toBe(1);
    expect(tableNames(path)).toContain('runs');
  });

  it('rolls back a migration that leaves broken foreign keys', () => {
    const path = tempDbPath();
    const orphan: Migration = {
      version: 2,
      name: 'orphan-metric',
      up(db) {
        db.exec(`INSERT INTO metrics (run_id, step, name, value, at) VALUES (42, 0, 'loss', 1, 0)`);
      },
    };
    expect(openError(path, { migrations: [MIGRATIONS[0]!, orphan] }).code).toBe('migration-failed');
    expect(userVersion(path)).toBe(1);
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT count(*) FROM metrics').pluck().get()).toBe(0);
    db.close();
  });

  it('rejects a malformed migration list before touching the database', () => {
    const path = tempDbPath();
    const skipped: Migration = { ...MIGRATIONS[0]!, version: 2 };
    expect(() => openStore(path, { migrations: [skipped] })).toThrow(/malformed at index 0/);
    expect(userVersion(path)).toBe(0);
  });

  it('refuses a file of random bytes as corrupt, naming it, and leaves it unchanged', () => {
    const path = tempDbPath();
    writeFileSync(path, randomBytes(8192));
    const error = expectRefusedUnchanged(path, 'corrupt');
    expect(error.message).toContain(path);
    expect(error.message).toContain('Nothing was overwritten');
    expect(error.hint).toMatch(/backup/);
  });

  it('refuses a truncated database as corrupt and leaves it unchanged', () => {
    const path = realDatabase();
    truncateSync(path, Math.floor(statSync(path).size / 2));
    expectRefusedUnchanged(path, 'corrupt');
    expectRefusedUnchanged(path, 'corrupt', { readonly: true });
  });

  it('refuses a database whose first page is damaged as corrupt', () => {
    const path = realDatabase();
    const bytes = bytesOf(path);
    bytes.fill(0xab, 100, 4096); // page 1 after the header: the schema table's root
    writeFileSync(path, bytes);
    expectRefusedUnchanged(path, 'corrupt');
  });

  it('refuses a database cut inside its header as corrupt', () => {
    const path = realDatabase();
    truncateSync(path, 60);
    expectRefusedUnchanged(path, 'corrupt');
  });

  it('refuses another program’s SQLite database instead of adding tables to it', () => {
    const path = tempDbPath();
    const db = new Database(path);
    db.exec('CREATE TABLE contacts (name TEXT)');
    db.close();
    const error = expectRefusedUnchanged(path, 'corrupt');
    expect(error.message).toMatch(/not a Tunesmith database/);
  });

  it('opens an empty file as a new database', () => {
    const path = tempDbPath();
    writeFileSync(path, '');
    const store = openStore(path);
    expect(store.status().schemaVersion).toBe(LATEST_VERSION);
    store.close();
  });

  it('reports a file it cannot write as read-only', (ctx) => {
    const path = realDatabase();
    if (!makeImmutable(path)) ctx.skip();
    const error = expectRefusedUnchanged(path, 'read-only');
    expect(error.message).toContain(path);
  });

  it('reports a folder it cannot write in as read-only', (ctx) => {
    const dir = join(tempDir(), 'home');
    mkdirSync(dir);
    if (!makeImmutable(dir)) ctx.skip();
    expect(openError(join(dir, 'tunesmith.db')).code).toBe('read-only');
  });

  it('opens read-only without writing: no migration, no WAL switch, writes refused', () => {
    const path = tempDbPath();
    openStore(path, { migrations: [] }).close(); // an empty database at schema 0
    const before = bytesOf(path);
    const store = openStore(path, { readonly: true });
    expect(store.status()).toMatchObject({
      schemaVersion: 0,
      latestVersion: LATEST_VERSION,
      readonly: true,
      counts: {},
    });
    store.close();
    expect(bytesOf(path).equals(before)).toBe(true);

    const current = realDatabase();
    const look = openStore(current, { readonly: true });
    expect(look.status().counts).toMatchObject({ datasets: 1, examples: 500, runs: 0 });
    expect(() => look.datasets.create('nope')).toThrow(/readonly/);
    look.close();
  });

  it('says what to do when the path is a folder or its folder is missing', () => {
    const dir = tempDir();
    expect(openError(dir).code).toBe('cannot-open');
    expect(openError(dir).message).toContain('is a folder');
    expect(openError(join(dir, 'missing', 'tunesmith.db')).code).toBe('cannot-open');
  });

  it('reports a database locked by another process while it must migrate', () => {
    const path = tempDbPath();
    openStore(path, { migrations: [MIGRATIONS[0]!] }).close();
    const other = new Database(path);
    other.exec('BEGIN IMMEDIATE');
    try {
      const addColumn: Migration = {
        version: 2,
        name: 'add-column',
        up: (db) => db.exec('ALTER TABLE runs ADD COLUMN extra TEXT'),
      };
      const error = openError(path, { migrations: [MIGRATIONS[0]!, addColumn], busyTimeoutMs: 50 });
      expect(error.code).toBe('locked');
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(userVersion(path)).toBe(1);
  });

  it('turns errors into plain data', () => {
    const path = tempDbPath();
    writeFileSync(path, randomBytes(4096));
    const data = JSON.parse(JSON.stringify(openError(path)));
    expect(Object.keys(data).sort()).toEqual(['code', 'hint', 'message', 'path']);
    expect(data.code).toBe('corrupt');
  });
});
