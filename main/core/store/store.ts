// Opening the database: checks before anything is written, pragmas, migrations, and the Store that
// holds the connection and the repositories.
//
// Order matters. Everything up to the newer-version check only reads, so a database that is damaged,
// foreign, or from a newer Tunesmith is refused byte-for-byte unchanged. Only then is WAL switched on
// and are migrations run. The file is never deleted or recreated.
import { accessSync, constants, type Stats, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { corruptError, readOnlyError, StoreError, toStoreError } from './errors.js';
import {
  assertNotFromTheFuture,
  latestVersionOf,
  type Migration,
  readUserVersion,
  runMigrations,
} from './migrate.js';
import { MIGRATIONS } from './migrations/index.js';
import { CheckpointsRepo } from './repos/checkpoints.js';
import type { Clock } from './repos/common.js';
import { DatasetsRepo } from './repos/datasets.js';
import { EventsRepo } from './repos/events.js';
import { ExportsRepo } from './repos/exports.js';
import { MetricsRepo } from './repos/metrics.js';
import { ModelsRepo } from './repos/models.js';
import { RunsRepo } from './repos/runs.js';
import { SamplesRepo } from './repos/samples.js';

export interface OpenStoreOptions {
  /**
   * Open for a look only (`tunesmith doctor`): nothing is written, migrations are not run, and the
   * file must exist. Repositories' writes then fail.
   */
  readonly?: boolean;
  /** How long a write waits for another connection's lock. Default 5000 ms. */
  busyTimeoutMs?: number;
  /** The migrations to apply; tests inject their own. Default: every migration of this version. */
  migrations?: readonly Migration[];
  /** Clock for created_at & co.; tests inject their own. */
  now?: Clock;
}

/** Tables counted by status(), in the order a person reads them. */
const COUNTED_TABLES = [
  'models',
  'datasets',
  'dataset_versions',
  'examples',
  'runs',
  'metrics',
  'checkpoints',
  'samples',
  'exports',
  'events',
] as const;
export type CountedTable = (typeof COUNTED_TABLES)[number];

export interface StoreStatus {
  path: string;
  schemaVersion: number;
  latestVersion: number;
  /** The database file alone; the write-ahead log is walSizeBytes. */
  sizeBytes: number;
  walSizeBytes: number;
  walMode: boolean;
  readonly: boolean;
  /** Rows per table; tables a not-yet-migrated database lacks are left out. */
  counts: Partial<Record<CountedTable, number>>;
}

export class Store {
  readonly #now: Clock;
  #models?: ModelsRepo;
  #datasets?: DatasetsRepo;
  #runs?: RunsRepo;
  #metrics?: MetricsRepo;
  #checkpoints?: CheckpointsRepo;
  #samples?: SamplesRepo;
  #exports?: ExportsRepo;
  #events?: EventsRepo;

  constructor(
    /** The connection. SQL stays in main/core/store/: outside it, use the repositories. */
    readonly db: Database.Database,
    readonly path: string,
    readonly latestVersion: number,
    now: Clock,
  ) {
    this.#now = now;
  }

  // Repositories prepare their statements when first used: a read-only look at a database that is
  // not migrated yet (doctor) must not fail on tables it does not have.
  get models(): ModelsRepo {
    this.#models ??= new ModelsRepo(this.db, this.#now);
    return this.#models;
  }
  get datasets(): DatasetsRepo {
    this.#datasets ??= new DatasetsRepo(this.db, this.#now);
    return this.#datasets;
  }
  get runs(): RunsRepo {
    this.#runs ??= new RunsRepo(this.db, this.#now);
    return this.#runs;
  }
  get metrics(): MetricsRepo {
    this.#metrics ??= new MetricsRepo(this.db, this.#now);
    return this.#metrics;
  }
  get checkpoints(): CheckpointsRepo {
    this.#checkpoints ??= new CheckpointsRepo(this.db, this.#now);
    return this.#checkpoints;
  }
  get samples(): SamplesRepo {
    this.#samples ??= new SamplesRepo(this.db, this.#now);
    return this.#samples;
  }
  get exports(): ExportsRepo {
    this.#exports ??= new ExportsRepo(this.db, this.#now);
    return this.#exports;
  }
  get events(): EventsRepo {
    this.#events ??= new EventsRepo(this.db, this.#now);
    return this.#events;
  }

  /** Runs `fn` in one transaction (nested calls become savepoints). */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  status(): StoreStatus {
    const present = new Set(
      this.db.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all(),
    );
    const counts: Partial<Record<CountedTable, number>> = {};
    for (const table of COUNTED_TABLES) {
      // Table names come from the constant list above, never from input.
      if (present.has(table)) {
        counts[table] = this.db.prepare<[], number>(`SELECT count(*) FROM ${table}`).pluck().get()!;
      }
    }
    return {
      path: this.path,
      schemaVersion: readUserVersion(this.db),
      latestVersion: this.latestVersion,
      sizeBytes: fileSize(this.path),
      walSizeBytes: fileSize(`${this.path}-wal`),
      walMode: this.db.pragma('journal_mode', { simple: true }) === 'wal',
      readonly: this.db.readonly,
      counts,
    };
  }

  /** Flushes open metric writers and closes the connection. Safe to call twice. */
  close(): void {
    if (!this.db.open) return;
    try {
      this.#metrics?.closeWriters();
    } finally {
      this.db.close();
    }
  }
}

export function openStore(dbPath: string, options: OpenStoreOptions = {}): Store {
  const path = resolve(dbPath);
  const readonly = options.readonly ?? false;
  const migrations = options.migrations ?? MIGRATIONS;
  checkPathBeforeOpening(path, readonly);

  let db: Database.Database;
  try {
    db = new Database(path, { readonly, fileMustExist: readonly });
  } catch (err) {
    throw toStoreError(path, err);
  }
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.trunc(options.busyTimeoutMs ?? 5000))}`);
    assertLooksIntact(db, path);
    assertNotFromTheFuture(db, path, migrations);
    if (!readonly) {
      if (db.pragma('journal_mode = WAL', { simple: true }) !== 'wal') throw readOnlyError(path);
      // In WAL mode NORMAL loses no committed data on a crash of the process, only on power loss.
      db.pragma('synchronous = NORMAL');
      runMigrations(db, path, migrations);
    }
    db.pragma('foreign_keys = ON');
    return new Store(db, path, latestVersionOf(migrations), options.now ?? Date.now);
  } catch (err) {
    db.close();
    throw toStoreError(path, err);
  }
}

/** Refuses what SQLite would misreport or silently work around (it opens a write-protected file read-only). */
function checkPathBeforeOpening(path: string, readonly: boolean): void {
  let stats: Stats | undefined;
  try {
    stats = statSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw toStoreError(path, err);
  }
  if (stats && !stats.isFile()) {
    const hint = 'Move it away, or point --home at another folder.';
    throw new StoreError({
      code: 'cannot-open',
      message: `Tunesmith cannot open its database ${path}: it is a folder or a device, not a file. ${hint}`,
      hint,
      path,
    });
  }
  if (readonly) return;
  // SQLite needs to write the file and, for -wal/-shm and new files, its folder.
  for (const target of stats ? [path, dirname(path)] : [dirname(path)]) {
    try {
      accessSync(target, constants.W_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM') throw readOnlyError(path, err);
      if (code !== 'ENOENT') throw toStoreError(path, err);
    }
  }
}

/**
 * Cheap checks that catch a foreign file, a damaged header or a truncated copy before anything is
 * written. (A full `PRAGMA integrity_check` reads every page: too slow for every start.)
 */
function assertLooksIntact(db: Database.Database, path: string): void {
  const version = readUserVersion(db); // reads the header: SQLITE_NOTADB for a foreign file
  const objects = db.prepare<[], number>('SELECT count(*) FROM sqlite_schema').pluck().get()!;
  if (version === 0 && objects > 0) throw corruptError(path); // someone else's SQLite database
  const pageSize = db.pragma('page_size', { simple: true }) as number;
  const pageCount = db.pragma('page_count', { simple: true }) as number;
  // With frames in the write-ahead log the file may legitimately lag behind; without, it may not.
  if (fileSize(`${path}-wal`) === 0 && fileSize(path) < pageSize * pageCount) throw corruptError(path);
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}
