// An export as the app shows it, rebuilt from its row at any time: files, notes, the verification,
// the Ollama command, the error, and where it came from (dataset version → run → checkpoint). Rows
// written by `tunesmith export` (fewer meta fields) are read the same way.
import path from 'node:path';
import type { ExportCheck, ExportDetails, ExportFormatName } from '../../api/contract/exports.js';
import type { ExportSummary } from '../../api/contract/library.js';
import type { RunDefinition } from '../runs/define.js';
import type { ExportRow, Store } from '../store/index.js';
import { ExportError } from './errors.js';
import { ollamaName } from './export.js';
import { findOllama } from './ollama-create.js';

/** What `exports.create` stores in an export row's meta (all optional for older rows). */
export interface ExportMeta {
  step?: number;
  checkpoint?: { id: number; step: number; evalLoss: number | null };
  modelDir?: string;
  template?: string;
  name?: string;
  files?: { path: string; bytes: number }[];
  notes?: string[];
  verification?: { passed: boolean; checks: { name: string; passed: boolean; detail: string }[] };
  ollamaCommand?: string;
}

export function exportSummary(row: ExportRow): ExportSummary {
  return {
    id: row.id,
    runId: row.runId,
    kind: row.kind,
    path: row.path,
    status: row.status,
    createdAt: row.createdAt,
    finishedAt: row.finishedAt,
  };
}

/** The `ollama create` line to run in an Ollama export's folder. */
export const ollamaCommandFor = (name: string) => `ollama create ${ollamaName(name)} -f Modelfile`;

export function exportDetails(store: Store, exportId: number): ExportDetails {
  const row = store.exports.get(exportId);
  if (!row) {
    throw new ExportError('not-found', `There is no export ${exportId}.`, 'Choose an export from the list.');
  }
  const meta = row.meta as ExportMeta;
  const run = store.runs.get(row.runId);
  const definition = (run?.config ?? {}) as Partial<RunDefinition>;
  const version = store.datasets.getVersion(run?.datasetVersionId ?? definition.datasetVersionId ?? 0);
  const dataset = version ? store.datasets.get(version.datasetId) : undefined;
  const checkpointRow = row.checkpointId === null ? undefined : store.checkpoints.get(row.checkpointId);
  const checkpoint = checkpointRow
    ? { id: checkpointRow.id, step: checkpointRow.step, evalLoss: checkpointRow.evalLoss }
    : (meta.checkpoint ?? null);
  const ollamaFolder = row.kind === 'ollama' && row.status === 'completed';
  const modelName = ollamaFolder ? ollamaName(meta.name ?? path.basename(row.path)) : null;
  const ollamaCommand = modelName === null ? null : (meta.ollamaCommand ?? ollamaCommandFor(modelName));
  return {
    export: exportSummary(row),
    format: row.kind as ExportFormatName,
    files: meta.files ?? [],
    notes: meta.notes ?? [],
    verification: meta.verification
      ? {
          passed: meta.verification.passed,
          checks: meta.verification.checks.map(
            (c): ExportCheck => ({ name: c.name, passed: c.passed, detail: c.detail }),
          ),
        }
      : null,
    ollamaCommand,
    ollamaName: modelName,
    ollamaAvailable: ollamaFolder && findOllama() !== null,
    error: row.error,
    lineage: {
      dataset:
        version && dataset
          ? { id: dataset.id, name: dataset.name, versionId: version.id, version: version.version }
          : null,
      run: { id: row.runId, name: run?.name ?? `run ${row.runId}`, status: run?.status ?? 'unknown' },
      checkpoint,
      modelDir: meta.modelDir ?? definition.modelDir ?? '',
      template: meta.template ?? definition.template ?? '',
    },
  };
}
