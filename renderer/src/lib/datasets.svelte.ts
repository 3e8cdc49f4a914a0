// The data step's state: the dataset version being prepared, how it was read (format, column
// mapping and why), and the import in progress. Re-importing with another mapping, or saving
// edits, makes the next version of the same dataset.
import type {
  DatasetEditResult,
  DatasetImportResult,
  DatasetVersionDetails,
  DetectedSourceFormat,
} from '../../../main/api/contract';
import type { Api } from './api';
import { formatBytes } from './format';
import { columnsFromMessage } from './mapping';
import { type Problem, problemOf } from './problem';

type Source =
  | { kind: 'path'; path: string }
  | { kind: 'upload'; fileName: string; content: string; encoding: 'base64' };

/**
 * The share of examples held back to check progress (the eval loss, the best checkpoint), chosen
 * with a fixed seed — as `tunesmith train --data` does. Without it a wizard run has no eval loss.
 */
export const EVAL_SPLIT = { splitRatio: 0.1, seed: 42 } as const;

export interface ImportInfo {
  format: DetectedSourceFormat;
  layout: string;
  reason: string;
  mapping: unknown;
}

/** The desktop app's preload may say where a dropped file lives; then main reads it in place. */
function pathOfFile(file: File): string | null {
  return globalThis.window?.tunesmith?.pathForFile?.(file) || null;
}

/** Sent as base64 whatever the format, so the server sees the exact bytes (encodings, BOMs). */
async function base64Of(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

export class DataSession {
  details = $state<DatasetVersionDetails | null>(null);
  importInfo = $state<ImportInfo | null>(null);
  /** Column (or field) names of the source, for the mapping editor. */
  columns = $state<string[]>([]);
  /** What is happening now, in words; null when idle. */
  busy = $state<string | null>(null);
  error = $state<Problem | null>(null);
  readonly #api: Api;
  #source: Source | null = null;

  constructor(api: Api) {
    this.#api = api;
  }

  get version() {
    return this.details?.version ?? null;
  }

  get report() {
    return this.details?.report ?? null;
  }

  /** The last import failed because Tunesmith could not tell the columns apart: ask the person. */
  get needsMapping(): boolean {
    return this.error?.code === 'bad-mapping' && this.#source !== null;
  }

  async importFile(file: File): Promise<void> {
    const path = pathOfFile(file);
    if (path) return this.importPath(path);
    this.busy = `Reading ${file.name}…`;
    this.error = null;
    let content: string;
    try {
      content = await base64Of(file);
    } catch (err) {
      this.busy = null;
      this.error = { message: `Could not read ${file.name}: ${problemOf(err).message}` };
      return;
    }
    await this.#import(
      { kind: 'upload', fileName: file.name, content, encoding: 'base64' },
      `Importing ${file.name} (${formatBytes(file.size)}) and checking every example…`,
    );
  }

  importPath(path: string): Promise<void> {
    return this.#import({ kind: 'path', path }, 'Importing the file and checking every example…');
  }

  /** Read the same file again with these columns, as the next version of this dataset. */
  async remap(map: string): Promise<void> {
    const sourcePath = this.details?.version.sourcePath;
    const source = this.#source ?? (sourcePath ? { kind: 'path' as const, path: sourcePath } : null);
    if (!source) {
      this.error = {
        message: 'Tunesmith does not know which file this dataset came from, so it cannot read it again.',
        hint: 'Drop the file again above, then choose the columns.',
      };
      return;
    }
    await this.#import(source, 'Reading the file again with your columns…', {
      map,
      ...(this.details ? { datasetId: this.details.dataset.id } : {}),
    });
  }

  async open(selector: { versionId: number } | { datasetId: number }): Promise<void> {
    this.busy = 'Opening the dataset…';
    this.error = null;
    try {
      this.details = await this.#api.call('datasets.get', selector);
      this.importInfo = null;
      this.#source = null;
      await this.#loadColumns();
    } catch (err) {
      this.error = problemOf(err);
    } finally {
      this.busy = null;
    }
  }

  /** An edit was saved as a new version: it becomes the one shown. */
  applyEdit(result: DatasetEditResult): void {
    if (!this.details) return;
    this.details = {
      ...this.details,
      version: result.version,
      report: result.report,
      versions: [...this.details.versions, result.version],
    };
  }

  /** Start again with another file. */
  clear(): void {
    this.details = null;
    this.importInfo = null;
    this.columns = [];
    this.error = null;
    this.#source = null;
  }

  async #import(source: Source, label: string, extra: { map?: string; datasetId?: number } = {}) {
    this.busy = label;
    this.error = null;
    this.#source = source;
    try {
      const result: DatasetImportResult =
        source.kind === 'path'
          ? await this.#api.call('datasets.import', { path: source.path, ...EVAL_SPLIT, ...extra })
          : await this.#api.call('datasets.upload', {
              fileName: source.fileName,
              content: source.content,
              encoding: source.encoding,
              ...EVAL_SPLIT,
              ...extra,
            });
      const { format, layout, reason, mapping } = result;
      const versions = this.details?.dataset.id === result.dataset.id ? this.details.versions : [];
      this.details = {
        dataset: result.dataset,
        version: result.version,
        versions: [...versions, result.version],
        report: result.report,
      };
      // A mapping the person chose needs no explanation (main words it for the CLI's --map).
      const why = extra.map ? 'Read with the columns you chose.' : reason;
      this.importInfo = { format, layout, reason: why, mapping };
      await this.#loadColumns();
    } catch (err) {
      this.error = problemOf(err);
      if (this.error.code === 'bad-mapping') this.columns = columnsFromMessage(this.error.message);
    } finally {
      this.busy = null;
    }
  }

  async #loadColumns(): Promise<void> {
    const versionId = this.details?.version.id;
    if (versionId === undefined) return;
    try {
      const page = await this.#api.call('datasets.examples', { versionId, offset: 0, limit: 1 });
      this.columns = Object.keys(page.examples[0]?.source?.values ?? {});
    } catch {
      // Without the column names the mapping editor takes typed names instead.
      this.columns = [];
    }
  }
}
