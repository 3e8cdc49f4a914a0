// system: what this installation is and can do (the `tunesmith doctor` report), and log lines.
import { z } from 'zod';
import { command } from './define.js';

export interface GpuDevice {
  index: number;
  name: string;
  totalMemoryBytes: number;
  freeMemoryBytes: number;
  /** e.g. "8.9" */
  computeCapability: string;
  multiProcessors: number;
}

export interface EngineReport {
  /** Backends usable now: always `cpu`, plus `cuda` when compiled in and a usable GPU is present. */
  backends: ('cpu' | 'cuda')[];
  cudaCompiled: boolean;
  devices: GpuDevice[];
  cudaRuntimeVersion?: number;
  driverVersion?: number;
  /** Why there is no usable GPU, in plain words. */
  error?: string;
  errorKind?: 'no-driver' | 'driver-too-old' | 'no-device' | 'cuda-error' | 'not-compiled';
  /** The native addon itself failed to load: the app still runs, training does not. */
  loadError?: string;
}

export interface HomeReport {
  path: string;
  exists: boolean;
  writable: boolean;
  freeBytes?: number;
  error?: string;
}

export interface DatabaseReport {
  path: string;
  ok: boolean;
  schemaVersion?: number;
  latestVersion?: number;
  sizeBytes?: number;
  counts?: Record<string, number>;
  error?: { code: string; message: string; hint?: string };
}

export interface DoctorReport {
  app: {
    version: string;
    node: string;
    electron?: string;
    sqlite?: string;
    platform: string;
    arch: string;
  };
  engine: EngineReport;
  home: HomeReport;
  database: DatabaseReport;
  /** True when everything needed to train is in place (GPU optional). */
  ok: boolean;
  /** Plain-language findings, worst first. */
  problems: string[];
}

export const systemCommands = {
  'system.doctor': command<DoctorReport>()(z.object({}).strict()),
  /**
   * Show a file or folder in the system's file manager (desktop app). Under `tunesmith serve` the
   * files are on the server: nothing opens and `opened` is false, so the UI shows the path instead.
   */
  'system.openPath': command<{ opened: boolean; path: string }>()(
    z.object({ path: z.string().min(1) }).strict(),
  ),
  /**
   * Ask the person for a folder with the system's folder chooser (desktop app). Under `tunesmith
   * serve` there is none (`available` false): the UI asks for a typed path instead.
   */
  'system.chooseFolder': command<{ available: boolean; path: string | null }>()(
    z
      .object({ title: z.string().max(200).optional() })
      .strict()
      .default({}),
  ),
};

export interface LogEvent {
  level: 'info' | 'warn' | 'error';
  message: string;
  at: number;
}

export interface SystemEvents {
  'system.log': LogEvent;
}
