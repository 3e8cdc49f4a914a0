// First start of the desktop app: what this computer can do, in plain words, from the doctor report —
// the GPU and its driver (with the driver version to install when it is too old for the engine's CUDA),
// and the free disk space where the home folder lives. Shown once; a flag file in the home folder
// remembers that it was. The "This computer" page shows the same facts at any time.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DoctorReport } from '../api/contract.js';
import { LOW_DISK_BYTES } from '../core/doctor.js';

export const FIRST_RUN_FLAG = 'first-run.json';

export interface FirstRunGuidance {
  /** Nothing stands in the way of GPU training. */
  ok: boolean;
  title: string;
  message: string;
  /** One paragraph per finding: GPU, disk. */
  detail: string;
}

const GB = 1024 ** 3;

/**
 * Oldest NVIDIA driver branch for each CUDA major version (NVIDIA's "CUDA Compatibility" table, the
 * same one native/src/cuda/probe.cu uses): 11.x ≥ 450, 12.x ≥ 525, 13.x ≥ 580.
 */
const MINIMUM_DRIVER_BRANCH: Record<number, number> = { 11: 450, 12: 525, 13: 580 };

/** A CUDA version as the driver API counts it (13000 → "13.0", 12040 → "12.4"). */
export function cudaVersionText(version: number): string {
  return `${Math.floor(version / 1000)}.${Math.floor((version % 1000) / 10)}`;
}

/** "The NVIDIA driver is too old for CUDA 13 (it supports CUDA 12.4): update it to version 580 or newer." */
export function driverTooOldText(engine: DoctorReport['engine']): string {
  const runtime = engine.cudaRuntimeVersion;
  if (runtime === undefined) {
    return `The NVIDIA driver is too old for this version of Tunesmith: ${engine.error ?? 'update the NVIDIA driver'}.`;
  }
  const major = Math.floor(runtime / 1000);
  const branch = MINIMUM_DRIVER_BRANCH[major];
  const supports = engine.driverVersion ? ` (it supports CUDA ${cudaVersionText(engine.driverVersion)})` : '';
  return (
    `The NVIDIA driver is too old for CUDA ${major}${supports}: ` +
    `update it${branch ? ` to version ${branch} or newer` : ''} from nvidia.com or your system's driver manager, then restart Tunesmith.`
  );
}

const CPU_NOTE =
  'Until that is fixed, Tunesmith trains on the processor (CPU): fine for the built-in demo model, far too slow for a 7B model.';

function gpuFinding(engine: DoctorReport['engine']): { ok: boolean; text: string } {
  if (engine.loadError) {
    return {
      ok: false,
      text: `The training engine could not be loaded, so nothing can train: ${engine.loadError}`,
    };
  }
  if (engine.backends.includes('cuda') && engine.devices.length > 0) {
    const gpus = engine.devices
      .map((d) => `${d.name} (${Math.round(d.totalMemoryBytes / GB)} GB)`)
      .join(', ');
    return { ok: true, text: `GPU: ${gpus}. Training will use it.` };
  }
  switch (engine.errorKind) {
    case 'driver-too-old':
      return { ok: false, text: `${driverTooOldText(engine)} ${CPU_NOTE}` };
    case 'no-driver': {
      const branch = engine.cudaRuntimeVersion
        ? MINIMUM_DRIVER_BRANCH[Math.floor(engine.cudaRuntimeVersion / 1000)]
        : undefined;
      return {
        ok: false,
        text:
          'No NVIDIA driver was found. If this computer has an NVIDIA graphics card, install its driver' +
          `${branch ? ` (version ${branch} or newer)` : ''} and restart Tunesmith. ${CPU_NOTE}`,
      };
    }
    case 'not-compiled':
      return {
        ok: false,
        text: 'This copy of Tunesmith was built without GPU support, so training uses the processor (CPU).',
      };
    case 'cuda-error':
      return {
        ok: false,
        text: `The NVIDIA GPU could not be used: ${engine.error ?? 'CUDA failed to start'}. ${CPU_NOTE}`,
      };
    default:
      return {
        ok: false,
        text: 'No NVIDIA GPU was found. Training uses the processor (CPU): fine for the built-in demo model, far too slow for a 7B model.',
      };
  }
}

function diskFinding(home: DoctorReport['home']): { ok: boolean; text: string } {
  if (home.error) return { ok: false, text: `The home folder ${home.path} cannot be used: ${home.error}` };
  if (home.freeBytes === undefined) return { ok: true, text: `Your work is kept in ${home.path}.` };
  const free = `${(home.freeBytes / GB).toFixed(1)} GB`;
  if (home.freeBytes < LOW_DISK_BYTES) {
    return {
      ok: false,
      text:
        `Only ${free} free on the disk of ${home.path}. A 7B model with its checkpoints and exports needs ` +
        `about ${Math.round(LOW_DISK_BYTES / GB)} GB: free some space, or set TUNESMITH_HOME to a folder on a larger disk.`,
    };
  }
  return { ok: true, text: `Your work is kept in ${home.path} (${free} free).` };
}

export function firstRunGuidance(report: DoctorReport): FirstRunGuidance {
  const gpu = gpuFinding(report.engine);
  const disk = diskFinding(report.home);
  const ok = gpu.ok && disk.ok;
  return {
    ok,
    title: 'Welcome to Tunesmith',
    message: ok
      ? 'This computer is ready to fine-tune models on its GPU.'
      : 'This computer can use Tunesmith, with something to know first:',
    detail: [gpu.text, disk.text].join('\n\n'),
  };
}

export function firstRunPending(homeDir: string): boolean {
  return !existsSync(path.join(homeDir, FIRST_RUN_FLAG));
}

export function markFirstRunDone(homeDir: string, version: string): void {
  writeFileSync(
    path.join(homeDir, FIRST_RUN_FLAG),
    `${JSON.stringify({ shownAt: new Date().toISOString(), version })}\n`,
  );
}
