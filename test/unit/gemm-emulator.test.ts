// The CUDA GEMM family (cuda::gemm with bf16 / fp32 / NF4 operands, nf4_dequantize_bf16, lora_matmul) on
// the host emulator: native/tests/gpu/test_gemm.cu and test_lora_matmul.cu — the same parity cases a GPU
// runs — against the CPU, through tunesmith_gemm_emu_tests (native/tests/emu/ runtime; the PTX of the
// tensor-core kernel has C++ twins there). It checks the kernels' tiles, pipeline indexing, NF4
// dequantization and epilogues on every Linux machine; timing and the hardware's own fragment layouts
// are for a real GPU (npm run test:gpu) and native/tests/cuda_gemm_math_test.cpp.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const RUNNER = path.join(ROOT, 'native', 'build', 'Release', 'tunesmith_gemm_emu_tests');

describe('CUDA GEMM on the host emulator', () => {
  // The emulator needs glibc's ucontext: built on Linux only.
  it.skipIf(process.platform !== 'linux')(
    'runs every GEMM and lora_matmul parity case against the CPU, all passing',
    () => {
      expect(existsSync(RUNNER), `${RUNNER} is missing: run node scripts/build-native.mjs`).toBe(true);
      const run = spawnSync(RUNNER, [], { encoding: 'utf8', timeout: 1_200_000, maxBuffer: 64 << 20 });
      const output = `${run.stdout ?? ''}\n${run.stderr ?? ''}`;
      expect(run.status, output.slice(-4000)).toBe(0);
      const summary = /^(\d+) passed, (\d+) failed$/m.exec(run.stdout ?? '');
      expect(summary, output.slice(-4000)).not.toBeNull();
      expect(Number(summary?.[1])).toBeGreaterThanOrEqual(13);
      expect(Number(summary?.[2])).toBe(0);
    },
    1_200_000,
  );
});
