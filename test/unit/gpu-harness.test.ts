// `npm run test:gpu` (scripts/test-gpu.mjs) as part of `npm test`: on a machine without a GPU (CI) it must
// say in one line why it skipped and exit 0; on a machine with one it must run the parity cases and pass.
// And on every machine, the same parity cases run the engine's own CUDA kernels on the host emulator
// (native/tests/emu/, runner tunesmith_cuda_emu_tests), so CI checks the kernels' logic without a GPU.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

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
