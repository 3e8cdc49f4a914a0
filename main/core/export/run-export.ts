// Exporting a run's checkpoint from the app: the run gives the model folder, the template it trained
// with and the checkpoint's adapter; the export row is written first (so lists show it running),
// progress goes out as plain sentences, and the outcome — files, notes, verification or error — is
// stored in the row so `exports.get` can show it later, with where it came from.
import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import type { ExportDetails, ExportFormatName, OllamaCreateResult } from '../../api/contract/exports.js';
import { adapterDirOf, type CheckpointChoice, chooseCheckpoint } from '../runs/checkpoint-choice.js';
import type { RunDefinition } from '../runs/define.js';
import { assertModelUnchanged } from '../runs/model-check.js';
import type { Store } from '../store/index.js';
import type { CheckpointRow } from '../store/repos/checkpoints.js';
import { ExportError } from './errors.js';
import { type ExportRequest, exportModel } from './export.js';
import { type ExportMeta, exportDetails, ollamaCommandFor } from './export-details.js';
import { createOllamaModel } from './ollama-create.js';
import { defaultExportDir } from './out-dir.js';
import type { ExportDtype } from './tensor-math.js';

export interface RunExportRequest {
  runId: number;
  checkpoint: CheckpointChoice;
  format: ExportFormatName;
  dtype?: ExportDtype;
  outDir?: string;
  name?: string;
  verify: boolean;
  force: boolean;
}

export interface RunExportProgress {
  exportId: number;
  runId: number;
  message: string;
  done?: { status: 'completed' | 'failed' };
}

/** Formats with nothing llama.cpp can load: verification does not apply. */
const NOT_VERIFIABLE: readonly ExportFormatName[] = ['peft', 'hf-merged'];

export class RunExports {
  readonly #store: Store;
  readonly #exportsDir: string;
  /** Output folders of exports being written now (two exports must not pick the same folder). */
  readonly #writing = new Set<string>();
  readonly #verifierInstalled: () => Promise<boolean>;

  constructor(deps: { store: Store; exportsDir: string; verifierInstalled?: () => Promise<boolean> }) {
    this.#store = deps.store;
    this.#exportsDir = deps.exportsDir;
    this.#verifierInstalled = deps.verifierInstalled ?? verifierInstalled;
  }

  get(exportId: number): ExportDetails {
    return exportDetails(this.#store, exportId);
  }

  /** `ollama create NAME -f Modelfile` in a finished Ollama export's folder; Ollama's lines as progress. */
  async ollamaCreate(
    exportId: number,
    name: string,
    onProgress: (p: RunExportProgress) => void,
  ): Promise<OllamaCreateResult> {
    const row = this.get(exportId).export;
    if (row.kind !== 'ollama' || row.status !== 'completed') {
      throw new ExportError(
        'not-an-ollama-folder',
        `Export ${exportId} is not a finished Ollama folder, so there is no Modelfile to create a model from.`,
        'Export the run for Ollama first, then create the model from that export.',
      );
    }
    const say = (message: string) => onProgress({ exportId, runId: row.runId, message });
    say(`Creating the Ollama model ${name}`);
    return createOllamaModel({ dir: row.path, name, onLine: say });
  }

  async create(
    request: RunExportRequest,
    onProgress: (p: RunExportProgress) => void,
  ): Promise<ExportDetails> {
    const run = this.#store.runs.get(request.runId);
    if (!run) {
      throw new ExportError(
        'not-found',
        `There is no run ${request.runId}.`,
        'Choose a run from the list of runs.',
      );
    }
    const definition = run.config as unknown as RunDefinition;
    // The base model alone needs no checkpoint; every other format carries the adapter.
    const checkpoint =
      request.format === 'gguf-base'
        ? null
        : chooseCheckpoint(this.#store.checkpoints.listForRun(run.id), request.checkpoint, run.id);
    assertModelUnchanged(definition, run.id);
    const outDir = this.#outDir(request);
    this.#writing.add(outDir);
    try {
      return await this.#write(run.id, definition, checkpoint, outDir, request, onProgress);
    } finally {
      this.#writing.delete(outDir);
    }
  }

  async #write(
    runId: number,
    definition: RunDefinition,
    checkpoint: CheckpointRow | null,
    outDir: string,
    request: RunExportRequest,
    onProgress: (p: RunExportProgress) => void,
  ): Promise<ExportDetails> {
    const name = request.name ?? `tunesmith-run-${runId}`;
    const notes: string[] = [];
    let verify = request.verify;
    if (verify && NOT_VERIFIABLE.includes(request.format)) {
      verify = false;
      notes.push(
        `A ${request.format === 'peft' ? 'PEFT' : 'merged Hugging Face'} folder has no GGUF file for llama.cpp, so it was not checked there.`,
      );
    } else if (verify && !(await this.#verifierInstalled())) {
      verify = false;
      notes.push(
        'Not checked in llama.cpp: the check needs the developer install of Tunesmith (node-llama-cpp). The files are complete.',
      );
    }
    const meta: ExportMeta = {
      ...(checkpoint && { step: checkpoint.step, checkpoint: checkpointInfo(checkpoint) }),
      modelDir: definition.modelDir,
      template: definition.template,
      name,
    };
    const row = this.#store.exports.create({
      runId,
      checkpointId: checkpoint?.id ?? null,
      kind: request.format,
      path: outDir,
      meta: { ...meta },
    });
    const say = (message: string, done?: RunExportProgress['done']) =>
      onProgress({ exportId: row.id, runId, message, ...(done && { done }) });
    try {
      say(
        checkpoint
          ? `Preparing the export of run ${runId} at step ${checkpoint.step}`
          : `Preparing the export of the base model of run ${runId}`,
      );
      const exportRequest: ExportRequest = {
        modelDir: definition.modelDir,
        ...(checkpoint && { adapterDir: adapterDirOf(checkpoint) }),
        format: request.format,
        ...(request.dtype && { dtype: request.dtype }),
        outDir,
        force: request.force,
        verify,
        name,
        template: definition.template,
        onProgress: (message) => say(`${message.charAt(0).toUpperCase()}${message.slice(1)}`),
      };
      const result = await exportModel(exportRequest);
      this.#store.exports.finish(row.id, {
        status: 'completed',
        meta: {
          ...meta,
          files: result.files,
          notes: [...notes, ...result.notes],
          ...(result.verification && { verification: result.verification }),
          ...(request.format === 'ollama' && { ollamaCommand: ollamaCommandFor(name) }),
        },
      });
      const verdict = result.verification
        ? result.verification.passed
          ? ', checked in llama.cpp'
          : ', but the check in llama.cpp FAILED'
        : '';
      say(`Export finished: ${result.files.length} files in ${outDir}${verdict}`, { status: 'completed' });
    } catch (err) {
      const e = err as { code?: unknown; message?: unknown; hint?: unknown };
      const error = {
        code: typeof e.code === 'string' ? e.code : 'export-failed',
        message: typeof e.message === 'string' ? e.message : String(err),
        ...(typeof e.hint === 'string' && { hint: e.hint }),
      };
      this.#store.exports.finish(row.id, { status: 'failed', error, meta: { ...meta, notes } });
      say(`Export failed: ${error.message}`, { status: 'failed' });
      throw err;
    }
    return this.get(row.id);
  }

  #outDir(request: RunExportRequest): string {
    if (request.outDir === undefined) {
      return defaultExportDir(
        this.#exportsDir,
        request.runId,
        request.format,
        (dir) => existsSync(dir) || this.#writing.has(dir),
      );
    }
    const outDir = path.resolve(request.outDir);
    if (this.#writing.has(outDir)) {
      throw new ExportError(
        'output-busy',
        `Another export is being written to ${outDir} right now.`,
        'Wait for it to finish, or choose another folder.',
      );
    }
    if (!request.force && existsSync(outDir) && readdirSync(outDir).length > 0) {
      throw new ExportError(
        'output-exists',
        `${outDir} already exists and holds files.`,
        'Choose another folder, or choose to replace it.',
      );
    }
    return outDir;
  }
}

function checkpointInfo(c: CheckpointRow) {
  return { id: c.id, step: c.step, evalLoss: c.evalLoss };
}

let verifier: Promise<boolean> | undefined;

/** Whether node-llama-cpp (a development dependency) can be loaded here. */
function verifierInstalled(): Promise<boolean> {
  verifier ??= import('node-llama-cpp').then(
    () => true,
    () => false,
  );
  return verifier;
}
