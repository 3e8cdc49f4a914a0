// `npm run test:gpu` (scripts/test-gpu.mjs) as part of `npm test`: on a machine without a GPU (CI) it must
// say in one line why it skipped and exit 0; on a machine with one it must run the parity cases and pass.
// And on every machine, the same parity cases run the engine's own CUDA kernels on the host emulator
// (native/tests/emu/, runner tunesmith_cuda_emu_tests), so CI checks the kernels' logic without a GPU.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadNative } from '../../main/core/engine/native.js';
import type { Batch, LoadModelOptions } from '../../native/index.js';
import { writeEngineModel } from '../helpers/engine-model.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const SCRIPT = path.join(ROOT, 'scripts', 'test-gpu.mjs');
const EMULATOR_RUNNER = path.join(ROOT, 'native', 'build', 'Release', 'tunesmith_cuda_emu_tests');

function runScript(args: string[]) {
  const run = spawnSync(process.execPath, [SCRIPT, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 1_200_000,
    maxBuffer: 64 << 20,
  });
  return { status: run.status, stdout: run.stdout ?? '', stderr: run.stderr ?? '' };
}

describe('npm run test:gpu', () => {
  it('skips in one line naming the reason when the build has no CUDA backend', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'tunesmith-gpu-harness-'));
    try {
      const reason = 'turned off by TUNESMITH_CUDA=OFF';
      writeFileSync(
        path.join(dir, 'build-info.json'),
        JSON.stringify({ cudaCompiled: false, cudaReason: reason }),
      );
      const run = runScript(['--build-dir', dir, '--no-build']);
      expect(run.status).toBe(0);
      expect(run.stdout.trim()).toBe(`skipped: CUDA not compiled in (${reason})`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs the parity harness on this machine: a GPU passes it, no GPU is one skip line with its reason', () => {
    const run = runScript([]);
    const output = `${run.stdout}\n${run.stderr}`;
    expect(run.status, output.slice(-4000)).toBe(0);
    const skip = /^skipped: (no CUDA device|CUDA not compiled in) \((.+)\)$/m.exec(run.stdout);
    if (skip) {
      expect(skip[2]?.trim().length ?? 0).toBeGreaterThan(10);
      // The skip line is all the harness says (the build's own lines come before it).
      expect(run.stdout.trim().split('\n').at(-1)).toBe(skip[0]);
      return;
    }
    const summary = /^(\d+) passed, (\d+) failed$/m.exec(run.stdout);
    expect(summary, output.slice(-4000)).not.toBeNull();
    expect(Number(summary?.[1])).toBeGreaterThan(0);
    expect(Number(summary?.[2])).toBe(0);
  }, 1_200_000);

  // The emulator needs glibc's ucontext: built on Linux only.
  it.skipIf(process.platform !== 'linux')(
    "runs the engine's CUDA kernels against the CPU on the host emulator, every case passing",
    () => {
      expect(
        existsSync(EMULATOR_RUNNER),
        `${EMULATOR_RUNNER} is missing: run node scripts/build-native.mjs`,
      ).toBe(true);
      // Threads in a shuffled order: a read racing a write (no barrier between) shows up as a failure.
      const run = spawnSync(EMULATOR_RUNNER, [], {
        env: { ...process.env, TS_EMU_ORDER: 'shuffle' },
        encoding: 'utf8',
        timeout: 900_000,
        maxBuffer: 64 << 20,
      });
      const output = `${run.stdout ?? ''}\n${run.stderr ?? ''}`;
      expect(run.status, output.slice(-4000)).toBe(0);
      const summary = /^(\d+) passed, (\d+) failed$/m.exec(run.stdout ?? '');
      expect(summary, output.slice(-4000)).not.toBeNull();
      expect(Number(summary?.[1])).toBeGreaterThanOrEqual(10);
      expect(Number(summary?.[2])).toBe(0);
    },
    900_000,
  );
});

describe('loadModel chooses the backend', () => {
  const batch: Batch = {
    tokens: Int32Array.from([1, 5, 9, 13, 17, 21, 2, 1, 30, 31, 32, 2]),
    trained: Uint8Array.from([0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 1, 1]),
    seqLens: Int32Array.from([7, 5]),
  };

  it('trains on CUDA when probe() finds a usable GPU, else on the CPU; forcing CUDA without one says why', async () => {
    const native = loadNative();
    const probe = native.probe();
    const gpuUsable = probe.backends.includes('cuda');
    const root = mkdtempSync(path.join(tmpdir(), 'tunesmith-backend-'));
    try {
      const modelDir = await writeEngineModel(path.join(root, 'model'), {
        arch: 'mistral',
        vocab: 64,
        hidden: 64,
        layers: 2,
        heads: 4,
        kvHeads: 2,
        ffn: 128,
      });
      const options: LoadModelOptions = {
        modelDir,
        quant: 'nf4',
        lora: { r: 4, alpha: 8 },
        maxSeqLen: 32,
        seed: 5,
      };
      const chosen = await native.loadModel(options);
      const cpu = await native.loadModel({ ...options, backend: 'cpu' });
      try {
        expect(chosen.info().backend).toBe(gpuUsable ? 'cuda' : 'cpu');
        expect(cpu.info().backend).toBe('cpu');
        const [a, b] = [await chosen.step(batch), await cpu.step(batch)];
        expect(a.trainedTokens).toBe(b.trainedTokens);
        expect(Math.abs(a.loss - b.loss)).toBeLessThanOrEqual(0.01 * b.loss);
        const [sa, sb] = [await chosen.optimizerStep({ lr: 1e-3 }), await cpu.optimizerStep({ lr: 1e-3 })];
        expect(sa.step).toBe(1);
        expect(Math.abs(sa.gradNorm - sb.gradNorm)).toBeLessThanOrEqual(0.05 * sb.gradNorm);
        if (gpuUsable) {
          expect(chosen.memory().deviceBytes).toBeGreaterThan(0);
        } else {
          expect(chosen.memory().deviceBytes).toBe(0);
          await expect(native.loadModel({ ...options, backend: 'cuda' })).rejects.toThrow(
            /backend 'cuda' cannot run here: .+ — use backend: 'cpu'/,
          );
        }
      } finally {
        chosen.dispose();
        cpu.dispose();
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }, 120_000);
});
