// The state file of a download in progress, `.tunesmith-download.json` in the model's folder: which
// files of which commit make the model, their sizes and hashes, and which are complete. It exists
// exactly while the folder is incomplete, so a folder holding it is never offered as usable; a
// rerun of the same download reads it to resume. Written atomically (temp file + rename).
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { HubHash } from './file-hash.js';

export const STATE_FILE = '.tunesmith-download.json';
export const PART_SUFFIX = '.part';

export interface DownloadFileState {
  /** Path in the repository (top level only: no folders). */
  path: string;
  size: number;
  hash: HubHash;
  done: boolean;
}

export interface DownloadState {
  version: 1;
  repoId: string;
  /** What was asked for: a branch, tag or commit. */
  revision: string;
  /** The commit it resolved to; every file comes from this commit. */
  commit: string;
  files: DownloadFileState[];
  startedAt: number;
  updatedAt: number;
}

export function stateFile(dir: string): string {
  return path.join(dir, STATE_FILE);
}

/** The state of an earlier attempt, or null when there is none or it cannot be read (start over). */
export async function readDownloadState(dir: string): Promise<DownloadState | null> {
  let text: string;
  try {
    text = await readFile(stateFile(dir), 'utf8');
  } catch {
    return null;
  }
  try {
    const value = JSON.parse(text) as Partial<DownloadState>;
    if (value.version !== 1 || typeof value.commit !== 'string' || !Array.isArray(value.files)) return null;
    const filesOk = value.files.every(
      (f) =>
        typeof f?.path === 'string' &&
        !/[\\/]/.test(f.path) &&
        Number.isSafeInteger(f.size) &&
        (f.hash?.kind === 'sha256' || f.hash?.kind === 'git-sha1') &&
        typeof f.hash.value === 'string' &&
        typeof f.done === 'boolean',
    );
    return filesOk ? (value as DownloadState) : null;
  } catch {
    return null;
  }
}

export async function writeDownloadState(dir: string, state: DownloadState): Promise<void> {
  const target = stateFile(dir);
  const temp = `${target}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(temp, `${JSON.stringify({ ...state, updatedAt: Date.now() }, null, 2)}\n`);
  await rename(temp, target);
}

export async function removeDownloadState(dir: string): Promise<void> {
  await rm(stateFile(dir), { force: true });
}
