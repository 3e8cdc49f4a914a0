// models: the model library — the recommended catalogue with fit for this machine, downloads from
// the Hugging Face Hub (progress pushed as `models.downloadProgress`), folders added by hand.
// The access token of a gated model may be passed to `models.download`; it is used for that
// download only, never stored or logged.
import { z } from 'zod';
import { command } from './define.js';

export type ModelStatus = 'ready' | 'downloading' | 'incomplete' | 'missing';

export interface ModelFitInfo {
  device: 'cuda' | 'cpu';
  availableBytes: number;
  memory: { seqLen: number; bytes: number; fits: boolean }[];
  fits: boolean;
  verdict: string;
}

export interface ModelSummary {
  id: number;
  name: string;
  path: string;
  architecture: string;
  source: 'local' | 'download' | 'demo';
  status: ModelStatus;
  /** Only ready models can be trained. */
  usable: boolean;
  sizeBytes: number;
  params: number | null;
  repoId: string | null;
  revision: string | null;
  commit: string | null;
  chatTemplate: 'model' | 'chatml' | null;
  fit: ModelFitInfo | null;
  /** What to do when the model is not usable. */
  note: string | null;
  createdAt: number;
}

export interface CatalogueModel {
  repoId: string;
  name: string;
  summary: string;
  architecture: string;
  licence: string;
  gated: boolean;
  reference?: boolean;
  /** Approximate. */
  downloadBytes: number;
  parameterCount: number;
  gpuMemory: { seqLen: number; bytes: number }[];
  fit: ModelFitInfo;
  local: { id: number; status: ModelStatus } | null;
}

export interface DownloadProgressEvent {
  repoId: string;
  file: string;
  fileBytesDone: number;
  fileBytesTotal: number;
  bytesDone: number;
  bytesTotal: number;
  speed: number;
  etaSeconds: number | null;
  done: boolean;
}

const repoId = z.string().regex(/^[\w.-]+\/[\w.-]+$/, 'a model id looks like owner/name');

export const modelCommands = {
  'models.list': command<ModelSummary[]>()(
    z
      .object({ limit: z.number().int().min(1).max(10_000).default(1000) })
      .strict()
      .default({ limit: 1000 }),
  ),
  'models.catalogue': command<CatalogueModel[]>()(z.object({}).strict().default({})),
  'models.add': command<{ model: ModelSummary; warnings: string[] }>()(
    z.object({ path: z.string().min(1) }).strict(),
  ),
  'models.remove': command<{ model: ModelSummary; deletedFiles: boolean }>()(
    z.object({ id: z.number().int().min(1), deleteFiles: z.boolean().default(false) }).strict(),
  ),
  'models.download': command<ModelSummary>()(
    z
      .object({
        repoId,
        revision: z.string().min(1).optional(),
        token: z.string().min(1).optional(),
        endpoint: z.string().url().optional(),
      })
      .strict(),
  ),
  'models.cancelDownload': command<{ cancelled: boolean }>()(z.object({ repoId }).strict()),
  /**
   * The built-in demo model (tiny, random weights, a real Qwen tokenizer): made under
   * <home>/models/demo on first use and added to the library; the existing one afterwards.
   */
  'models.createDemo': command<ModelSummary>()(z.object({}).strict().default({})),
};

export interface ModelEvents {
  'models.downloadProgress': DownloadProgressEvent;
}
