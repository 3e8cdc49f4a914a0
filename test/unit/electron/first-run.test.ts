// First-run guidance from the doctor report: the GPU and its driver, the disk, in plain words; once.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../../main/api/contract.js';
import {
  cudaVersionText,
  FIRST_RUN_FLAG,
  firstRunGuidance,
  firstRunPending,
  markFirstRunDone,
} from '../../../main/electron/first-run.js';
import { tempDir } from '../store/tmp.js';

const GB = 1024 ** 3;

function report(
  engine: Partial<DoctorReport['engine']>,
  home: Partial<DoctorReport['home']> = {},
): DoctorReport {
  return {
    app: { version: '0.1.0', node: '20', platform: 'linux', arch: 'x64' },
    engine: { backends: ['cpu'], cudaCompiled: true, devices: [], ...engine },
    home: {
      path: '/home/ada/.local/share/tunesmith',
      exists: true,
      writable: true,
      freeBytes: 200 * GB,
      ...home,
    },
    database: { path: 'x', ok: true },
    ok: true,
    problems: [],
  };
}

const gpu = {
  index: 0,
  name: 'NVIDIA GeForce RTX 4090',
  totalMemoryBytes: 24 * GB,
  freeMemoryBytes: 23 * GB,
  computeCapability: '8.9',
  multiProcessors: 128,
};

describe('first-run guidance', () => {
  it('names the GPU and the home folder when all is well', () => {
    const g = firstRunGuidance(report({ backends: ['cpu', 'cuda'], devices: [gpu] }));
    expect(g.ok).toBe(true);
    expect(g.message).toMatch(/ready/);
    expect(g.detail).toContain('NVIDIA GeForce RTX 4090 (24 GB)');
    expect(g.detail).toContain('200.0 GB free');
  });

  it('says which driver version to install when the driver is too old for CUDA 13', () => {
    const g = firstRunGuidance(
      report({
        errorKind: 'driver-too-old',
        cudaRuntimeVersion: 13000,
        driverVersion: 12040,
        error:
          'the NVIDIA driver supports CUDA 12.4 but this build needs CUDA 13.0: update the NVIDIA driver to version 580 or newer',
      }),
    );
    expect(g.ok).toBe(false);
    expect(g.detail).toContain(
      'The NVIDIA driver is too old for CUDA 13 (it supports CUDA 12.4): update it to version 580 or newer',
    );
    expect(g.detail).toMatch(/CPU/);
  });

  it('follows the engine’s CUDA version for the driver branch (CUDA 12 → 525)', () => {
    const g = firstRunGuidance(
      report({ errorKind: 'driver-too-old', cudaRuntimeVersion: 12080, driverVersion: 11040 }),
    );
    expect(g.detail).toContain(
      'too old for CUDA 12 (it supports CUDA 11.4): update it to version 525 or newer',
    );
  });

  it('falls back to the probe’s own words when the runtime version is unknown', () => {
    const g = firstRunGuidance(
      report({ errorKind: 'driver-too-old', error: 'update the NVIDIA driver to 580' }),
    );
    expect(g.detail).toContain('update the NVIDIA driver to 580');
  });

  it('tells apart no driver, no GPU, a build without CUDA, a CUDA failure and an engine that did not load', () => {
    const text = (engine: Partial<DoctorReport['engine']>) => firstRunGuidance(report(engine)).detail;
    expect(text({ errorKind: 'no-driver', cudaRuntimeVersion: 13000 })).toMatch(
      /No NVIDIA driver was found.*version 580 or newer/,
    );
    expect(text({ errorKind: 'no-device' })).toMatch(/No NVIDIA GPU was found/);
    expect(text({ errorKind: 'not-compiled', cudaCompiled: false })).toMatch(/built without GPU support/);
    expect(text({ errorKind: 'cuda-error', error: 'CUDA could not start: unknown error' })).toContain(
      'CUDA could not start: unknown error',
    );
    expect(text({ backends: [], loadError: 'no such file' })).toMatch(/could not be loaded.*no such file/);
  });

  it('warns about a nearly full disk with the numbers and what to do', () => {
    const g = firstRunGuidance(
      report({ backends: ['cpu', 'cuda'], devices: [gpu] }, { freeBytes: 12.5 * GB }),
    );
    expect(g.ok).toBe(false);
    expect(g.detail).toMatch(/Only 12\.5 GB free.*about 30 GB.*TUNESMITH_HOME/);
  });

  it('reports a home folder it cannot use', () => {
    const g = firstRunGuidance(report({}, { writable: false, error: 'the folder is read-only' }));
    expect(g.detail).toMatch(/cannot be used: the folder is read-only/);
  });

  it('is shown once: a flag file in the home folder remembers it', () => {
    const home = tempDir();
    expect(firstRunPending(home)).toBe(true);
    markFirstRunDone(home, '0.1.0');
    expect(existsSync(join(home, FIRST_RUN_FLAG))).toBe(true);
    expect(firstRunPending(home)).toBe(false);
  });

  it('writes CUDA versions as people read them', () => {
    expect(cudaVersionText(13000)).toBe('13.0');
    expect(cudaVersionText(12040)).toBe('12.4');
  });
});
