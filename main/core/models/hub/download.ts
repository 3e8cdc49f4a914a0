// Download the files a fine-tune needs from a Hugging Face Hub repository into one folder, with
// @huggingface/hub (modelInfo → the commit, listFiles → sizes and hashes, downloadFile → a ranged
// blob per file). Every file comes from one commit; it is written as `<name>.part`, resumed with an
// HTTP Range request from the part's size, checked against the Hub's size and hash (SHA-256 for LFS
// files, the git blob SHA-1 otherwise) on the finished file, and only then renamed into place.
// `.tunesmith-download.json` records the plan until the last file is in, so an interrupted folder is
// never mistaken for a model, and the same call run again carries on where it stopped.
import { mkdir, open, rename, rm, stat, statfs } from 'node:fs/promises';
import path from 'node:path';
import { downloadFile, listFiles, modelInfo } from '@huggingface/hub';
import { parseModelConfig } from '../config.js';
import {
  type DownloadFileState,
  type DownloadState,
  PART_SUFFIX,
  readDownloadState,
  removeDownloadState,
  writeDownloadState,
} from './download-state.js';
import { libraryError } from './errors.js';
import { type HubHash, hashOfFile } from './file-hash.js';
import { type HubFetchOptions, hubFetch, hubProblem, isRangeIgnored } from './hub-fetch.js';
import { formatGb, type ProgressSnapshot, ProgressTracker } from './progress.js';

/** Files a fine-tune reads besides the weights; everything else in a repository is left there. */
const NEEDED_FILES = new Set([
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'tokenizer.model',
  'added_tokens.json',
  'chat_template.jinja',
  'chat_template.json',
  'model.safetensors.index.json',
]);
const LICENCE_FILE = /^(LICENSE|LICENCE|USE_POLICY)(\.[a-z]+)?$/i;
const INDEX_FILE = 'model.safetensors.index.json';
const SINGLE_WEIGHTS = 'model.safetensors';
/** Space kept free beyond the download itself: 1 % plus 64 MiB for the database, logs and runs. */
export function diskMargin(bytes: number): number {
  return Math.ceil(bytes * 0.01) + 64 * 1024 * 1024;
}

export interface PartWriter {
  write(chunk: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface HubDownloadOptions extends HubFetchOptions {
  repoId: string;
  /** Branch, tag or commit; default "main". */
  revision?: string;
  token?: string;
  targetDir: string;
  onProgress?: (snapshot: ProgressSnapshot) => void;
  /** Once per file, unthrottled: for a line per file where there is no progress bar. */
  onFile?: (event: { file: string; sizeBytes: number; status: 'done' | 'already-done' }) => void;
  /** Called once the plan is known and before any weights are fetched. */
  onPlan?: (plan: DownloadPlan) => void | Promise<void>;
  /** Free bytes on the disk holding `dir` (tests simulate a full disk with it). */
  freeBytes?: (dir: string) => Promise<number>;
  /** Opens a `.part` file for appending (tests simulate ENOSPC with it). */
  openPart?: (file: string) => Promise<PartWriter>;
  /** Extra attempts per file after a dropped connection, resuming from the part's size. Default 2. */
  retries?: number;
}

export interface DownloadPlan {
  repoId: string;
  revision: string;
  commit: string;
  files: DownloadFileState[];
  totalBytes: number;
  /** Bytes still to fetch (parts already on disk count as fetched). */
  remainingBytes: number;
  /** config.json, parsed: the architecture is checked before the weights are fetched. */
  config: Record<string, unknown>;
  resumed: boolean;
}

export interface DownloadResult {
  plan: DownloadPlan;
  dir: string;
}

const SAFE_NAME = /^(?!\.\.?$)[\w][\w.-]*$/;
const REPO_ID = /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/;

export function checkRepoId(repoId: string): void {
  if (!REPO_ID.test(repoId) || repoId.includes('..')) {
    throw libraryError(
      'bad-repo-id',
      `"${repoId}" is not a Hugging Face model id.`,
      'Give it as owner/name, for example Qwen/Qwen2.5-0.5B-Instruct.',
    );
  }
}

export async function downloadFromHub(options: HubDownloadOptions): Promise<DownloadResult> {
  const { repoId, targetDir: dir } = options;
  checkRepoId(repoId);
  const revision = options.revision ?? 'main';
  const accessToken = checkToken(options.token);
  const fetch = hubFetch(options);
  const hub = { hubUrl: options.endpoint.replace(/\/+$/, ''), fetch, ...(accessToken && { accessToken }) };
  const call = <T>(what: string, work: () => Promise<T>) =>
    work().catch((err: unknown) => {
      throw hubProblem(err, {
        repoId,
        what,
        endpoint: hub.hubUrl,
        hasToken: accessToken !== undefined,
        ...(options.signal && { signal: options.signal }),
      });
    });

  await mkdir(dir, { recursive: true });
  const previous = await readDownloadState(dir);
  // Resuming the same revision stays on the commit it started from, even if the branch moved since.
  const pinned = previous?.repoId === repoId && previous.revision === revision ? previous.commit : undefined;
  const info = await call('look up the model information', () =>
    modelInfo({ name: repoId, revision: pinned ?? revision, additionalFields: ['sha'], ...hub }),
  );
  const commit = (info as { sha?: string }).sha ?? pinned ?? revision;

  const tree = await call('list its files', async () => {
    const entries = [];
    for await (const entry of listFiles({ repo: repoId, revision: commit, ...hub })) entries.push(entry);
    return entries;
  });
  // Top-level files with plain names only: a name from the Hub never leads outside the folder.
  const byPath = new Map(
    tree.filter((e) => e.type === 'file' && SAFE_NAME.test(e.path)).map((e) => [e.path, e]),
  );
  const readSmall = (file: string) =>
    call(`read ${file}`, async () => {
      const blob = await downloadFile({ repo: repoId, path: file, revision: commit, xet: false, ...hub });
      if (!blob) throw libraryError('hub-not-found', `${repoId} has no ${file}.`, 'Check the model id.');
      return JSON.parse(await blob.text()) as Record<string, unknown>;
    });

  if (!byPath.has('config.json')) {
    throw libraryError(
      'hub-not-found',
      `${repoId} (${revision}) has no config.json, so it is not a model Tunesmith can train.`,
      'Pick a Llama, Mistral or Qwen2 model repository, for example one from `tunesmith models list`.',
    );
  }
  const config = await readSmall('config.json');
  parseModelConfig(config, `${repoId}/config.json`); // an unsupported architecture stops here

  const weights = byPath.has(INDEX_FILE)
    ? shardsOf(await readSmall(INDEX_FILE), repoId, byPath)
    : byPath.has(SINGLE_WEIGHTS)
      ? [SINGLE_WEIGHTS]
      : [];
  if (weights.length === 0) {
    throw libraryError(
      'no-safetensors',
      `${repoId} has no safetensors weights (model.safetensors or model.safetensors.index.json); Tunesmith does not load .bin or .pth checkpoints.`,
      'Pick a repository that publishes safetensors, or convert the weights and add the folder with `tunesmith models add DIR`.',
    );
  }
  const wanted = [...byPath.keys()].filter((p) => NEEDED_FILES.has(p) || LICENCE_FILE.test(p));
  const files: DownloadFileState[] = [...wanted.sort(), ...weights].map((p) => {
    const entry = byPath.get(p)!;
    const hash: HubHash = entry.lfs
      ? { kind: 'sha256', value: entry.lfs.oid }
      : { kind: 'git-sha1', value: entry.oid ?? '' };
    const size = entry.lfs?.size ?? entry.size;
    const before = previous?.files.find((f) => f.path === p && f.hash.value === hash.value);
    return { path: p, size, hash, done: before?.done ?? false };
  });

  // What is on disk already: a finished file must still be there, with its size; a part is kept only
  // when it belongs to the same file content (same hash) and is not longer than the file.
  let remainingBytes = 0;
  for (const f of files) {
    const target = path.join(dir, f.path);
    if (f.done && (await sizeOf(target)) !== f.size) f.done = false;
    if (f.done) continue;
    const part = `${target}${PART_SUFFIX}`;
    const kept = previous?.files.some((g) => g.path === f.path && g.hash.value === f.hash.value);
    const partBytes = kept ? ((await sizeOf(part)) ?? 0) : 0;
    if (!kept || partBytes > f.size) await rm(part, { force: true });
    remainingBytes += f.size - (partBytes <= f.size ? partBytes : 0);
  }
  const state: DownloadState = {
    version: 1,
    repoId,
    revision,
    commit,
    files,
    startedAt: previous?.startedAt ?? Date.now(),
    updatedAt: Date.now(),
  };
  await writeDownloadState(dir, state);
  const totalBytes = files.reduce((n, f) => n + f.size, 0);
  const plan: DownloadPlan = {
    repoId,
    revision,
    commit,
    files,
    totalBytes,
    remainingBytes,
    config,
    resumed: previous !== null,
  };
  await options.onPlan?.(plan);

  const free = await (options.freeBytes ?? diskFreeBytes)(dir);
  const needed = remainingBytes + diskMargin(remainingBytes);
  if (free < needed) {
    throw libraryError(
      'disk-full',
      `Not enough disk space for ${repoId}: ${formatGb(remainingBytes)} left to download (plus ${formatGb(diskMargin(remainingBytes))} to spare) but the disk holding ${dir} has ${formatGb(free)} free.`,
      'Free some space and run the same command again (what is downloaded so far is kept), or choose a home folder on a bigger disk with --home.',
    );
  }

  const progress = new ProgressTracker(repoId, totalBytes, totalBytes - remainingBytes, options.onProgress);
  for (const f of files) {
    if (f.done) {
      options.onFile?.({ file: f.path, sizeBytes: f.size, status: 'already-done' });
      continue;
    }
    await fetchOneFile(f, { ...options, dir, commit, hub, call, progress });
    f.done = true;
    await writeDownloadState(dir, state);
    options.onFile?.({ file: f.path, sizeBytes: f.size, status: 'done' });
  }
  progress.finish();
  // Files of an earlier attempt at another revision that this one does not have.
  for (const old of previous?.files ?? []) {
    if (SAFE_NAME.test(old.path) && !files.some((f) => f.path === old.path)) {
      await rm(path.join(dir, old.path), { force: true });
      await rm(path.join(dir, `${old.path}${PART_SUFFIX}`), { force: true });
    }
  }
  await removeDownloadState(dir);
  return { plan, dir };
}

interface FileContext extends HubDownloadOptions {
  dir: string;
  commit: string;
  hub: { hubUrl: string; fetch: typeof fetch; accessToken?: string };
  call: <T>(what: string, work: () => Promise<T>) => Promise<T>;
  progress: ProgressTracker;
}

async function fetchOneFile(f: DownloadFileState, ctx: FileContext): Promise<void> {
  const target = path.join(ctx.dir, f.path);
  const part = `${target}${PART_SUFFIX}`;
  const retries = ctx.retries ?? 2;
  let hashFailures = 0;
  let dropped = 0;
  for (;;) {
    const offset = (await sizeOf(part)) ?? 0;
    ctx.progress.startFile(f.path, f.size, offset);
    if (offset < f.size) {
      try {
        await fetchRange(f, part, offset, ctx);
      } catch (err) {
        if (isRangeIgnored(err)) {
          await rm(part, { force: true }); // the server sent the whole file: start it again from 0
          continue;
        }
        const problem = hubProblem(err, {
          repoId: ctx.repoId,
          what: `download ${f.path}`,
          endpoint: ctx.hub.hubUrl,
          hasToken: ctx.hub.accessToken !== undefined,
          ...(ctx.signal && { signal: ctx.signal }),
          file: { path: f.path, done: (await sizeOf(part)) ?? 0, size: f.size },
        });
        if (problem.code === 'download-interrupted' && dropped < retries && !ctx.signal?.aborted) {
          dropped += 1;
          await new Promise((r) => setTimeout(r, 250 * dropped));
          continue;
        }
        throw problem;
      }
    }
    const actual = await hashOfFile(part, f.hash.kind);
    if (actual === f.hash.value && (await sizeOf(part)) === f.size) {
      await rename(part, target);
      return;
    }
    // A corrupted file is thrown away and fetched once more; twice wrong is not chance.
    await rm(part, { force: true });
    ctx.progress.rewind(f.size);
    hashFailures += 1;
    if (hashFailures > 1) {
      throw libraryError(
        'hash-mismatch',
        `${f.path} of ${ctx.repoId} failed its ${f.hash.kind === 'sha256' ? 'SHA-256' : 'git SHA-1'} check twice (expected ${f.hash.value}, got ${actual}); the copy on disk was deleted.`,
        'Run the same command again; if it keeps failing, the network or a proxy is changing the data.',
      );
    }
  }
}

async function fetchRange(f: DownloadFileState, part: string, offset: number, ctx: FileContext) {
  const blob = await ctx.call(`download ${f.path}`, () =>
    downloadFile({ repo: ctx.repoId, path: f.path, revision: ctx.commit, xet: false, ...ctx.hub }),
  );
  if (!blob) {
    throw libraryError(
      'hub-not-found',
      `${f.path} is listed in ${ctx.repoId} but the Hub could not find it.`,
      'Run the same command again later.',
    );
  }
  if (blob.size !== f.size) {
    throw libraryError(
      'hub-error',
      `The Hub gives ${f.path} of ${ctx.repoId} a size of ${blob.size} bytes but listed it with ${f.size}.`,
      'Run the same command again later; the repository may be changing.',
    );
  }
  const writer = await (ctx.openPart ?? openForAppend)(part);
  try {
    const reader = blob.slice(offset).stream().getReader();
    try {
      for (;;) {
        const next = await readWithStallTimeout(reader, ctx.stallTimeoutMs ?? 60_000);
        if (next.done) break;
        const value = next.value as Uint8Array;
        await writer.write(value);
        ctx.progress.add(value.byteLength);
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
  } finally {
    await writer.close();
  }
  const written = (await sizeOf(part)) ?? 0;
  if (written < f.size) {
    throw Object.assign(new Error(`the connection closed after ${written} of ${f.size} bytes`), {
      code: 'UND_ERR_SOCKET',
    });
  }
}

async function readWithStallTimeout<R>(reader: { read(): Promise<R> }, ms: number): Promise<R> {
  let timer: NodeJS.Timeout | undefined;
  const stalled = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(Object.assign(new Error(`no data for ${ms / 1000} s`), { code: 'ETIMEDOUT' })),
      ms,
    );
  });
  try {
    return await Promise.race([reader.read(), stalled]);
  } finally {
    clearTimeout(timer);
  }
}

function shardsOf(
  index: Record<string, unknown>,
  repoId: string,
  byPath: Map<string, { path: string }>,
): string[] {
  const map = index.weight_map;
  if (typeof map !== 'object' || map === null) {
    throw libraryError(
      'hub-error',
      `${repoId}/${INDEX_FILE} has no "weight_map".`,
      'The repository is broken; pick another model.',
    );
  }
  const shards = [...new Set(Object.values(map as Record<string, unknown>).map(String))].sort();
  const missing = shards.filter((s) => !byPath.has(s));
  if (missing.length > 0) {
    throw libraryError(
      'hub-error',
      `${repoId}/${INDEX_FILE} names ${missing.join(', ')}, which the repository does not have.`,
      'The repository is incomplete; pick another revision or model.',
    );
  }
  return shards;
}

function checkToken(token: string | undefined): string | undefined {
  if (token === undefined || token === '') return undefined;
  if (!token.startsWith('hf_')) {
    throw libraryError(
      'bad-token',
      'The access token does not look like a Hugging Face token (those start with "hf_").',
      'Create a read token at https://huggingface.co/settings/tokens and pass it with --token-env VAR or HF_TOKEN.',
    );
  }
  return token;
}

async function openForAppend(file: string): Promise<PartWriter> {
  const handle = await open(file, 'a');
  return {
    write: async (chunk) => {
      await handle.write(chunk);
    },
    close: () => handle.close(),
  };
}

async function sizeOf(file: string): Promise<number | undefined> {
  return (await stat(file).catch(() => undefined))?.size;
}

export async function diskFreeBytes(dir: string): Promise<number> {
  const s = await statfs(dir);
  return s.bavail * s.bsize;
}
