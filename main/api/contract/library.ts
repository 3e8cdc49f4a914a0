// datasets, runs, exports: what the home folder holds (models have their own file, models.ts). Each later feature adds its
// commands here, next to the list it extends.
import { z } from 'zod';
import { command } from './define.js';

const listInput = z
  .object({ limit: z.number().int().min(1).max(1000).default(50) })
  .strict()
  .default({ limit: 50 });

export type RunStatus = 'created' | 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

export interface RunSummary {
  id: number;
  name: string;
  status: RunStatus;
  backend: string | null;
  device: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: { code?: string; message: string; hint?: string } | null;
}

export interface DatasetSummary {
  id: number;
  name: string;
  createdAt: number;
  updatedAt: number;
  latestVersion: { id: number; version: number; exampleCount: number; createdAt: number } | null;
}

export interface ExportSummary {
  id: number;
  runId: number;
  kind: string;
  path: string;
  status: 'running' | 'completed' | 'failed';
  createdAt: number;
  finishedAt: number | null;
}

export const datasetCommands = {
  'datasets.list': command<DatasetSummary[]>()(listInput),
};

export const runCommands = {
  'runs.list': command<RunSummary[]>()(listInput),
};

export const exportCommands = {
  'exports.list': command<ExportSummary[]>()(listInput),
};
