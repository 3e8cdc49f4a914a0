// The model library: the recommended catalogue with fit for this machine, models downloaded from
// the Hugging Face Hub into <home>/models/<owner>--<name>/, and folders the person registered. A
// model is usable only when its row says `ready` and its folder still holds config.json; a download
// in progress or interrupted is listed with what to do, never offered for training.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, open, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import type { ModelRow, Store } from '../store/index.js';
import {
  type CatalogueEntry,
  catalogueWithFit,
  detectMachine,
  loadCatalogue,
  type MachineResources,
  type ModelFit,
  modelFit,
} from './catalogue.js';
import { parseModelConfig, readModelConfig } from './config.js';
import { checkRepoId, downloadFromHub, type HubDownloadOptions } from './hub/download.js';
import { STATE_FILE } from './hub/download-state.js';
import { type LibraryError, libraryError } from './hub/errors.js';
import type { ProgressSnapshot } from './hub/progress.js';
import { resolveHubEndpoint } from './hub/token.js';
import { inspectModelFolder, type ModelInspection } from './inspect.js';
import { parameterCount } from './tensor-names.js';

export const LOCK_FILE = '.tunesmith-download.lock';

export type LibraryStatus = 'ready' | 'downloading' | 'incomplete' | 'missing';

export interface LibraryModel {
  id: number;
  name: string;
  path: string;
  architecture: string;
  source: 'local' | 'download' | 'demo';
  /** What the folder is now (a download whose process died shows as incomplete). */
  status: LibraryStatus;
  /** Only ready models can be trained. */
  usable: boolean;
  sizeBytes: number;
  params: number | null;
  repoId: string | null;
  revision: string | null;
  commit: string | null;
  /** The template conversations are formatted with: the model's own, or ChatML when it has none. */
  chatTemplate: 'model' | 'chatml' | null;
  fit: ModelFit | null;
  /** What to do, when the model is not usable. */
  note: string | null;
  createdAt: number;
}

export interface CatalogueItem extends CatalogueEntry {
  /** The library's copy of this model, if it has one. */
  local: { id: number; status: LibraryStatus } | null;
}

export interface DownloadRequest {
  revision?: string;
  token?: string;
  /** Default: HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  onProgress?: (snapshot: ProgressSnapshot) => void;
  onFile?: HubDownloadOptions['onFile'];
  signal?: AbortSignal;
}

export interface AddResult {
  model: LibraryModel;
  /** Warnings from the folder check (extra tensors, no chat template …). */
  warnings: string[];
}

/** Knobs for tests and for the composition root; none is needed in normal use. */
export interface LibraryOptions {
  modelsDir: string;
  machine?: () => MachineResources;
  catalogueFile?: string;
  env?: NodeJS.ProcessEnv;
  hub?: Pick<
    HubDownloadOptions,
    'fetch' | 'freeBytes' | 'openPart' | 'connectTimeoutMs' | 'stallTimeoutMs' | 'retries'
  >;
}

export class ModelLibrary {
  readonly #active = new Map<string, AbortController>();

  constructor(
    private readonly store: Store,
    private readonly options: LibraryOptions,
  ) {}

  machine(): MachineResources {
    return (this.options.machine ?? detectMachine)();
  }

  catalogue(): CatalogueItem[] {
    const byRepo = new Map<string, LibraryModel>();
    for (const m of this.#rows().map((row) => this.#describe(row, null))) {
      if (m.repoId && (m.status === 'ready' || !byRepo.has(m.repoId))) byRepo.set(m.repoId, m);
    }
    return catalogueWithFit(loadCatalogue(this.options.catalogueFile), this.machine()).map((entry) => {
      const local = byRepo.get(entry.repoId);
      return { ...entry, local: local ? { id: local.id, status: local.status } : null };
    });
  }

  async list(): Promise<LibraryModel[]> {
    const machine = this.machine();
    return Promise.all(this.#rows().map((row) => this.#describeWithFit(row, machine)));
  }

  async get(id: number): Promise<LibraryModel> {
    const row = this.store.models.get(id);
    if (!row) throw notFound(id);
    return this.#describeWithFit(row, this.machine());
  }

  /**
   * Registers a folder the engine can load; refuses one it cannot, listing every problem.
   * `source: 'demo'` marks the built-in demo model (made by Tunesmith, not the person's folder).
   */
  async add(
    dirArg: string,
    { source = 'local', name }: { source?: 'local' | 'demo'; name?: string } = {},
  ): Promise<AddResult> {
    const dir = path.resolve(dirArg);
    const existing = this.store.models.getByPath(dir);
    if (existing) {
      throw libraryError(
        'already-added',
        `${dir} is in the library already (model ${existing.id}, "${existing.name}").`,
        'Use it as it is, or remove it first with `tunesmith models remove ID`.',
      );
    }
    if (existsSync(path.join(dir, STATE_FILE))) {
      throw libraryError(
        'model-not-usable',
        `${dir} is an unfinished download (it holds ${STATE_FILE}).`,
        'Finish it with `tunesmith models download REPO_ID` instead of adding the folder.',
      );
    }
    const inspection = await inspectModelFolder(dir);
    const errors = inspection.problems.filter((p) => p.severity === 'error');
    if (!inspection.ok || !inspection.config) {
      throw libraryError(
        'model-not-usable',
        `${dir} cannot be trained:\n${errors.map((p) => `  - ${p.message.includes(p.file) ? p.message : `${p.file}: ${p.message}`}`).join('\n')}\n`,
        'Fix these (usually: download the complete model with its tokenizer) and add it again.',
      );
    }
    const row = this.store.models.add({
      name: name ?? path.basename(dir),
      path: dir,
      architecture: inspection.config.architecture,
      source,
      params: inspection.parameterCount,
      configHash: await configHash(dir),
      sizeBytes: inspection.sizeBytes,
      status: 'ready',
      meta: { chatTemplate: templateOf(inspection) },
    });
    return {
      model: await this.#describeWithFit(row, this.machine()),
      warnings: inspection.problems.filter((p) => p.severity === 'warning').map((p) => p.message),
    };
  }

  /**
   * Forgets a model. Files are deleted only for a model Tunesmith downloaded, and only when asked;
   * a registered folder is never touched.
   */
  async remove(
    id: number,
    { deleteFiles = false } = {},
  ): Promise<{ model: LibraryModel; deletedFiles: boolean }> {
    const row = this.store.models.get(id);
    if (!row) throw notFound(id);
    const model = this.#describe(row, null);
    if (model.status === 'downloading') {
      throw libraryError(
        'download-busy',
        `${model.name} is being downloaded right now.`,
        'Cancel the download first (Ctrl+C in the terminal running it), then remove it.',
      );
    }
    const deletedFiles = deleteFiles && row.source === 'download';
    this.store.models.remove(id);
    if (deletedFiles) await rm(row.path, { recursive: true, force: true });
    return { model, deletedFiles };
  }

  /** Downloads a model from the Hub, or finishes an earlier download of it. */
  async download(repoId: string, request: DownloadRequest = {}): Promise<LibraryModel> {
    checkRepoId(repoId);
    const endpoint = resolveHubEndpoint(request.endpoint, this.options.env);
    const dir = path.join(this.options.modelsDir, repoId.replace('/', '--'));
    const revision = request.revision ?? 'main';
    const existing = this.store.models.getByPath(dir);
    if (
      existing?.status === 'ready' &&
      !existsSync(path.join(dir, STATE_FILE)) &&
      existsSync(path.join(dir, 'config.json')) &&
      (existing.meta.revision ?? 'main') === revision
    ) {
      return this.#describeWithFit(existing, this.machine()); // already here: no network needed
    }

    const controller = new AbortController();
    const signal = request.signal ? AbortSignal.any([request.signal, controller.signal]) : controller.signal;
    const release = await acquireLock(dir, repoId);
    this.#active.set(repoId, controller);
    let rowId = existing?.id;
    try {
      const { plan } = await downloadFromHub({
        ...this.options.hub,
        repoId,
        revision,
        endpoint,
        targetDir: dir,
        signal,
        ...(request.token !== undefined && { token: request.token }),
        ...(request.onProgress && { onProgress: request.onProgress }),
        ...(request.onFile && { onFile: request.onFile }),
        onPlan: (plan) => {
          const config = parseModelConfig(plan.config, `${repoId}/config.json`);
          const fields = {
            name: repoId,
            architecture: config.architecture,
            params: parameterCount(config),
            sizeBytes: plan.totalBytes,
            status: 'downloading' as const,
            meta: { repoId, revision, commit: plan.commit, endpoint },
          };
          rowId =
            rowId === undefined
              ? this.store.models.add({ ...fields, path: dir, source: 'download' }).id
              : this.store.models.update(rowId, fields)?.id;
        },
      });
      const inspection = await inspectModelFolder(dir);
      const row = this.store.models.get(rowId!)!;
      if (!inspection.ok) {
        const problems = inspection.problems.filter((p) => p.severity === 'error').map((p) => p.message);
        this.store.models.update(row.id, { status: 'incomplete', meta: { ...row.meta, problems } });
        throw libraryError(
          'model-not-usable',
          `${repoId} was downloaded to ${dir} but the engine cannot load it: ${problems.join(' ')}`,
          'Pick another model from `tunesmith models list`.',
        );
      }
      const updated = this.store.models.update(row.id, {
        status: 'ready',
        sizeBytes: plan.totalBytes,
        configHash: await configHash(dir),
        meta: { ...row.meta, chatTemplate: templateOf(inspection) },
      })!;
      return this.#describeWithFit(updated, this.machine());
    } catch (err) {
      if (rowId !== undefined && this.store.models.get(rowId)?.status === 'downloading') {
        this.store.models.updateStatus(rowId, 'incomplete');
      }
      throw err;
    } finally {
      this.#active.delete(repoId);
      await release();
    }
  }

  /** Stops a download this process is running; what was fetched stays for a later resume. */
  cancelDownload(repoId: string): boolean {
    const controller = this.#active.get(repoId);
    controller?.abort();
    return controller !== undefined;
  }

  activeDownloads(): string[] {
    return [...this.#active.keys()];
  }

  #rows(): ModelRow[] {
    return this.store.models.list({ limit: 10_000 });
  }

  async #describeWithFit(row: ModelRow, machine: MachineResources): Promise<LibraryModel> {
    const model = this.#describe(row, null);
    if (model.status !== 'ready') return model;
    try {
      return { ...model, fit: modelFit(await readModelConfig(row.path), machine) };
    } catch {
      return model; // a config that no longer parses: `models inspect` explains it
    }
  }

  #describe(row: ModelRow, fit: ModelFit | null): LibraryModel {
    const meta = row.meta as { repoId?: string; revision?: string; commit?: string; chatTemplate?: string };
    let status: LibraryStatus = row.status;
    if (status === 'downloading' && !this.#active.has(meta.repoId ?? '') && !lockIsHeld(row.path)) {
      status = 'incomplete'; // the process that was downloading it is gone
    }
    if (status === 'ready' && !existsSync(path.join(row.path, 'config.json'))) status = 'missing';
    const again = `tunesmith models download ${meta.repoId ?? row.name}${meta.revision && meta.revision !== 'main' ? ` --revision ${meta.revision}` : ''}`;
    const problems = (row.meta as { problems?: string[] }).problems;
    const note =
      status === 'incomplete'
        ? problems?.length
          ? `Downloaded but not usable: ${problems.join(' ')}`
          : `Incomplete download: run the same download command again to resume (\`${again}\`).`
        : status === 'downloading'
          ? 'Downloading now.'
          : status === 'missing'
            ? `The folder ${row.path} is gone or has no config.json; remove this entry or put the folder back.`
            : null;
    return {
      id: row.id,
      name: row.name,
      path: row.path,
      architecture: row.architecture,
      source: row.source,
      status,
      usable: status === 'ready',
      sizeBytes: row.sizeBytes,
      params: row.params,
      repoId: meta.repoId ?? null,
      revision: meta.revision ?? null,
      commit: meta.commit ?? null,
      chatTemplate:
        meta.chatTemplate === 'model' || meta.chatTemplate === 'chatml' ? meta.chatTemplate : null,
      fit,
      note,
      createdAt: row.createdAt,
    };
  }
}

function templateOf(inspection: ModelInspection): 'model' | 'chatml' {
  return inspection.tokenizer.hasChatTemplate ? 'model' : 'chatml';
}

async function configHash(dir: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path.join(dir, 'config.json')))
    .digest('hex');
}

function notFound(id: number): LibraryError {
  return libraryError(
    'model-not-found',
    `There is no model with id ${id} in the library.`,
    'See the ids with `tunesmith models list`.',
  );
}

/** One download per folder at a time, across processes: a lock file holding the owner's pid. */
async function acquireLock(dir: string, repoId: string): Promise<() => Promise<void>> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(file, 'wx');
      await handle.writeFile(String(process.pid));
      await handle.close();
      return () => rm(file, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = lockOwner(file);
      if (owner !== null && owner !== process.pid && processAlive(owner)) {
        throw libraryError(
          'download-busy',
          `${repoId} is already being downloaded (by process ${owner}).`,
          'Wait for it to finish, or stop that process and run the download again.',
        );
      }
      if (owner === process.pid) {
        throw libraryError(
          'download-busy',
          `${repoId} is already being downloaded.`,
          'Wait for that download to finish.',
        );
      }
      await rm(file, { force: true }); // left behind by a process that died
    }
  }
  throw libraryError('download-busy', `Could not lock ${dir}.`, 'Run the download again.');
}

function lockOwner(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function lockIsHeld(dir: string): boolean {
  const owner = lockOwner(path.join(dir, LOCK_FILE));
  return owner !== null && processAlive(owner);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
