// Errors the store throws. Each carries a stable `code`, a `message` that stands on its own, and a
// `hint` (the action alone) so the CLI, the server and the app can pass them on as plain data.

export type StoreErrorCode =
  | 'newer-version' // schema written by a newer Tunesmith; nothing was changed
  | 'corrupt' // not a database, or damaged; nothing was changed
  | 'read-only' // the file or its folder cannot be written
  | 'locked' // another process holds the write lock past the busy timeout
  | 'migration-failed' // a migration threw; its transaction was rolled back
  | 'cannot-open'; // anything else that stops the file from being opened

export interface StoreErrorData {
  code: StoreErrorCode;
  message: string;
  hint: string;
  path: string;
}

export class StoreError extends Error implements StoreErrorData {
  override readonly name = 'StoreError';
  readonly code: StoreErrorCode;
  readonly hint: string;
  readonly path: string;

  constructor(data: StoreErrorData, options?: { cause?: unknown }) {
    super(data.message, options);
    this.code = data.code;
    this.hint = data.hint;
    this.path = data.path;
  }

  toJSON(): StoreErrorData {
    return { code: this.code, message: this.message, hint: this.hint, path: this.path };
  }
}

/** better-sqlite3 throws `SqliteError` with `code` like 'SQLITE_CORRUPT' or 'SQLITE_READONLY_DBMOVED'. */
export function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined;
}

export function isCorruptionError(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_NOTADB' || code?.startsWith('SQLITE_CORRUPT') === true;
}

export function corruptError(path: string, cause?: unknown): StoreError {
  const hint =
    `Move ${path} aside (for example rename it to tunesmith.db.broken) and start again with an empty ` +
    'database, or restore it from a backup, or point --home at another folder.';
  return new StoreError(
    {
      code: 'corrupt',
      message: `The file ${path} is not a Tunesmith database or it is damaged. Nothing was overwritten. ${hint}`,
      hint,
      path,
    },
    { cause },
  );
}

export function readOnlyError(path: string, cause?: unknown): StoreError {
  const hint =
    'Make the file and its folder writable (SQLite also writes -wal and -shm files next to it), ' +
    'or point --home at a writable folder.';
  return new StoreError(
    { code: 'read-only', message: `Tunesmith cannot write to its database ${path}. ${hint}`, hint, path },
    { cause },
  );
}

export function newerVersionError(path: string, found: number, latest: number): StoreError {
  const hint = 'Update Tunesmith, or point --home at another folder.';
  return new StoreError({
    code: 'newer-version',
    message:
      `This database (${path}) was written by a newer Tunesmith (schema ${found}, this version knows up to ` +
      `${latest}). ${hint} Nothing was changed.`,
    hint,
    path,
  });
}

export function lockedError(path: string, cause?: unknown): StoreError {
  const hint = 'Close the other Tunesmith window or command using this home folder, then try again.';
  return new StoreError(
    {
      code: 'locked',
      message: `The database ${path} is busy in another Tunesmith process. ${hint}`,
      hint,
      path,
    },
    { cause },
  );
}

/** Maps what SQLite threw while opening or migrating to the error a person can act on. */
export function toStoreError(path: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err;
  if (isCorruptionError(err)) return corruptError(path, err);
  const code = sqliteCode(err);
  if (code?.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM') return readOnlyError(path, err);
  if (code?.startsWith('SQLITE_BUSY') || code?.startsWith('SQLITE_LOCKED')) return lockedError(path, err);
  const detail = err instanceof Error ? err.message : String(err);
  const hint =
    'Check that the path is a file in an existing, writable folder, or point --home at another folder.';
  return new StoreError(
    {
      code: 'cannot-open',
      message: `Tunesmith cannot open its database ${path}: ${detail}. ${hint}`,
      hint,
      path,
    },
    { cause: err },
  );
}
