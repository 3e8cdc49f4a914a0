// The migration runner. The schema version lives in PRAGMA user_version. Each pending migration runs
// in its own transaction together with the version bump, so a failure leaves the database exactly at
// the previous version. A database from a newer Tunesmith is refused before anything is written.
import type { Database } from 'better-sqlite3';
import { newerVersionError, StoreError, toStoreError } from './errors.js';

export interface Migration {
  /** 1, 2, 3 …: the user_version the database has after this migration. */
  version: number;
  /** kebab-case, the same as in the file name `NNNN-<name>.ts`. */
  name: string;
  /** Runs inside a transaction the runner opens: no BEGIN/COMMIT here. Foreign keys are off. */
  up(db: Database): void;
}

export function readUserVersion(db: Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

export function latestVersionOf(migrations: readonly Migration[]): number {
  return migrations.at(-1)?.version ?? 0;
}

/** Throws when the database's schema is newer than `migrations` knows. Reads only. */
export function assertNotFromTheFuture(db: Database, path: string, migrations: readonly Migration[]): number {
  const found = readUserVersion(db);
  const latest = latestVersionOf(migrations);
  if (found > latest) throw newerVersionError(path, found, latest);
  return found;
}

/**
 * Brings the database to the latest version; returns the versions applied. Foreign keys are switched
 * off while migrating (a later migration may rebuild a table, which SQLite only allows that way) and
 * `foreign_key_check` must pass before each commit; they are switched back on afterwards.
 */
export function runMigrations(db: Database, path: string, migrations: readonly Migration[]): number[] {
  assertWellFormed(migrations);
  const current = assertNotFromTheFuture(db, path, migrations);
  const pending = migrations.filter((m) => m.version > current);
  if (pending.length === 0) return [];

  const foreignKeys = db.pragma('foreign_keys', { simple: true }) as number;
  db.pragma('foreign_keys = OFF');
  try {
    for (const migration of pending) applyOne(db, path, migration);
  } finally {
    db.pragma(`foreign_keys = ${foreignKeys ? 'ON' : 'OFF'}`);
  }
  return pending.map((m) => m.version);
}

function applyOne(db: Database, path: string, migration: Migration): void {
  const apply = db.transaction(() => {
    // Another process (the app and the CLI on one home) may have applied it while we waited for the
    // write lock: the version read under the lock is the one that counts.
    if (readUserVersion(db) >= migration.version) return;
    migration.up(db);
    const violations = db.pragma('foreign_key_check') as unknown[];
    if (violations.length > 0) {
      throw new Error(`it leaves ${violations.length} rows that break foreign keys`);
    }
    // PRAGMA takes no bound parameters; the version is an integer we checked in assertWellFormed.
    db.pragma(`user_version = ${migration.version}`);
  });
  try {
    apply.immediate();
  } catch (err) {
    const mapped = toStoreError(path, err);
    if (mapped.code !== 'cannot-open') throw mapped;
    const detail = err instanceof Error ? err.message : String(err);
    const hint =
      'Your data is as it was before this step: keep using the previous Tunesmith version and report this problem.';
    throw new StoreError(
      {
        code: 'migration-failed',
        message:
          `Tunesmith could not upgrade ${path} to schema ${migration.version} (${migration.name}): ${detail}. ` +
          `The database stays at schema ${migration.version - 1}. ${hint}`,
        hint,
        path,
      },
      { cause: err },
    );
  }
}

function assertWellFormed(migrations: readonly Migration[]): void {
  migrations.forEach((m, i) => {
    if (m.version !== i + 1 || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(m.name)) {
      throw new Error(`Migration list is malformed at index ${i} (version ${m.version}, name ${m.name}).`);
    }
  });
}
