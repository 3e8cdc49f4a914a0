// The home folder: where Tunesmith keeps its database, runs, exports, models and caches.
//
// Which folder: an explicit --home, else $TUNESMITH_HOME, else the platform's data folder. Whether it
// works is learned by really writing a file, not from permission bits (root ignores those), and each
// way it can fail becomes a HomeError that names the folder and says what to do.
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { access, constants, stat, statfs } from 'node:fs/promises';
import { homedir as osHomedir } from 'node:os';
import path from 'node:path';

export const DATABASE_FILE = 'tunesmith.db';
export const HOME_SUBFOLDERS = ['runs', 'exports', 'models', 'cache', 'logs'] as const;
export type HomeSubfolder = (typeof HOME_SUBFOLDERS)[number];

export interface HomePaths extends Record<HomeSubfolder, string> {
  root: string;
  database: string;
}

export interface HomeEnvironment {
  env?: NodeJS.ProcessEnv;
  platform?: NodeJS.Platform;
  homedir?: string;
}

export type HomeErrorCode =
  | 'not-a-folder'
  | 'parent-not-a-folder'
  | 'permission-denied'
  | 'read-only'
  | 'disk-full'
  | 'cannot-create';

export interface HomeErrorData {
  code: HomeErrorCode;
  message: string;
  hint: string;
  path: string;
}

export class HomeError extends Error implements HomeErrorData {
  override readonly name = 'HomeError';
  readonly code: HomeErrorCode;
  readonly hint: string;
  readonly path: string;

  constructor(data: HomeErrorData, options?: { cause?: unknown }) {
    super(data.message, options);
    this.code = data.code;
    this.hint = data.hint;
    this.path = data.path;
  }

  toJSON(): HomeErrorData {
    return { code: this.code, message: this.message, hint: this.hint, path: this.path };
  }
}

/** The home folder to use: `option` (--home) > TUNESMITH_HOME > the platform default. Absolute. */
export function resolveHome(option?: string, environment: HomeEnvironment = {}): string {
  const env = environment.env ?? process.env;
  const homedir = environment.homedir ?? osHomedir();
  const chosen = nonEmpty(option) ?? nonEmpty(env.TUNESMITH_HOME);
  if (chosen !== undefined) return path.resolve(expandTilde(chosen, homedir));
  return defaultHomeDir(environment);
}

/** `$XDG_DATA_HOME/tunesmith` (Linux and other Unixes), `%APPDATA%\Tunesmith`, `~/Library/Application Support/Tunesmith`. */
export function defaultHomeDir(environment: HomeEnvironment = {}): string {
  const env = environment.env ?? process.env;
  const platform = environment.platform ?? process.platform;
  const homedir = environment.homedir ?? osHomedir();
  if (platform === 'win32') {
    const appData = nonEmpty(env.APPDATA) ?? path.win32.join(homedir, 'AppData', 'Roaming');
    return path.win32.join(appData, 'Tunesmith');
  }
  if (platform === 'darwin') return path.posix.join(homedir, 'Library', 'Application Support', 'Tunesmith');
  // The XDG spec says a relative XDG_DATA_HOME is invalid and must be ignored.
  const xdg = nonEmpty(env.XDG_DATA_HOME);
  const dataHome = xdg && path.posix.isAbsolute(xdg) ? xdg : path.posix.join(homedir, '.local', 'share');
  return path.posix.join(dataHome, 'tunesmith');
}

export function homePaths(dir: string): HomePaths {
  const root = path.resolve(dir);
  const sub = (name: HomeSubfolder) => path.join(root, name);
  return {
    root,
    database: path.join(root, DATABASE_FILE),
    runs: sub('runs'),
    exports: sub('exports'),
    models: sub('models'),
    cache: sub('cache'),
    logs: sub('logs'),
  };
}

/** Creates the home folder and its subfolders and proves it is writable; throws a HomeError if not. */
export function openHome(dir: string): HomePaths {
  const paths = homePaths(dir);
  for (const folder of [paths.root, ...HOME_SUBFOLDERS.map((name) => paths[name])]) {
    try {
      mkdirSync(folder, { recursive: true });
    } catch (err) {
      throw homeErrorFrom(err, paths.root, folder);
    }
  }
  probeWrite(paths.root);
  return paths;
}

export interface HomeStatus {
  path: string;
  exists: boolean;
  /** For an existing folder: a file could really be written. Otherwise: it could be created. */
  writable: boolean;
  /** Space available to Tunesmith on the home folder's disk (or the disk it would be created on). */
  freeBytes?: number;
  totalBytes?: number;
  /** What is wrong, in words a person can act on; absent when all is well. */
  error?: string;
  errorCode?: HomeErrorCode;
  hint?: string;
}

/** For `tunesmith doctor`: looks at the folder without creating it. Never throws. */
export async function homeStatus(dir: string): Promise<HomeStatus> {
  const root = path.resolve(dir);
  const existing = await nearestExisting(root);
  const status: HomeStatus = { path: root, exists: existing === root, writable: false };
  try {
    const fsStats = await statfs(existing);
    status.freeBytes = fsStats.bavail * fsStats.bsize;
    status.totalBytes = fsStats.blocks * fsStats.bsize;
  } catch {
    // No numbers is better than no report.
  }
  try {
    if (status.exists) {
      await checkExistingHome(root);
    } else {
      if (!(await stat(existing)).isDirectory()) throw notAFolderError(root, existing);
      await access(existing, constants.W_OK);
    }
    status.writable = true;
  } catch (err) {
    const error = homeErrorFrom(err, root, root);
    status.error = error.message;
    status.errorCode = error.code;
    status.hint = error.hint;
  }
  return status;
}

async function checkExistingHome(root: string): Promise<void> {
  if (!(await stat(root)).isDirectory()) throw notAFolderError(root, root);
  for (const name of HOME_SUBFOLDERS) {
    const folder = path.join(root, name);
    const stats = await stat(folder).catch(() => undefined);
    if (stats && !stats.isDirectory()) throw notAFolderError(root, folder);
  }
  probeWrite(root);
}

/** Writes and removes a small file: the only test of writability that root, ACLs and mounts all respect. */
function probeWrite(root: string): void {
  const probe = path.join(root, `.write-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    writeFileSync(probe, 'tunesmith write probe\n', { flag: 'wx' });
  } catch (err) {
    throw homeErrorFrom(err, root, root);
  } finally {
    rmSync(probe, { force: true });
  }
}

const CHOOSE_ANOTHER = 'Choose another folder with --home or TUNESMITH_HOME.';

/** Turns what the file system said into a HomeError; `target` is the folder that was being made. */
export function homeErrorFrom(err: unknown, home: string, target: string): HomeError {
  if (err instanceof HomeError) return err;
  const errno = (err as NodeJS.ErrnoException | null)?.code;
  const fail = (code: HomeErrorCode, problem: string, hint: string) =>
    new HomeError(
      {
        code,
        message: `Tunesmith cannot write to its home folder ${home}: ${problem}. ${hint}`,
        hint,
        path: home,
      },
      { cause: err },
    );
  switch (errno) {
    case 'EEXIST':
    case 'ENOTDIR': {
      const blocker = firstNonFolder(target);
      if (blocker !== undefined) return notAFolderError(home, blocker, err);
      break;
    }
    case 'EACCES':
    case 'EPERM':
      return fail(
        'permission-denied',
        'permission denied',
        `Give your user write access to it, or choose another folder with --home or TUNESMITH_HOME.`,
      );
    case 'EROFS':
      return fail(
        'read-only',
        'it is on a read-only disk',
        'Choose a folder on a writable disk with --home or TUNESMITH_HOME.',
      );
    case 'ENOSPC':
    case 'EDQUOT':
      return fail(
        'disk-full',
        'the disk is full',
        'Free some space on that disk, or choose a folder on another disk with --home or TUNESMITH_HOME.',
      );
  }
  const detail = err instanceof Error ? err.message : String(err);
  return fail('cannot-create', detail, CHOOSE_ANOTHER);
}

function notAFolderError(home: string, blocker: string, cause?: unknown): HomeError {
  let code: HomeErrorCode = 'not-a-folder';
  let problem = 'it is a file, not a folder';
  let hint = CHOOSE_ANOTHER;
  if (isInside(blocker, home)) {
    problem = `${blocker} is a file, not a folder`;
    hint = 'Move that file away, or choose another folder with --home or TUNESMITH_HOME.';
  } else if (blocker !== home) {
    code = 'parent-not-a-folder';
    problem = `${blocker} is a file, so no folder can be made inside it`;
  }
  return new HomeError(
    {
      code,
      message: `Tunesmith cannot write to its home folder ${home}: ${problem}. ${hint}`,
      hint,
      path: home,
    },
    { cause },
  );
}

/** The first path from the root down to `target` that exists and is not a folder. */
function firstNonFolder(target: string): string | undefined {
  const parts: string[] = [];
  for (let p = target; ; p = path.dirname(p)) {
    parts.unshift(p);
    if (path.dirname(p) === p) break;
  }
  for (const p of parts) {
    try {
      if (!statSync(p).isDirectory()) return p;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

async function nearestExisting(target: string): Promise<string> {
  for (let p = target; ; p = path.dirname(p)) {
    const exists = await stat(p).then(
      () => true,
      () => false,
    );
    if (exists || path.dirname(p) === p) return p;
  }
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value.trim() === '' ? undefined : value;
}

function expandTilde(value: string, homedir: string): string {
  if (value === '~') return homedir;
  if (value.startsWith('~/') || value.startsWith('~\\')) return path.join(homedir, value.slice(2));
  return value;
}
