// The native addon loads, and probe() tells the truth about this machine: CPU always, CUDA when the
// build has it and a GPU is there, and otherwise one precise reason. Needs a built addon
// (`npm run build:native`); the CPU-only case builds its own copy into native/build/cpu-only.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { loadNative, nativeAddonPath, type ProbeResult, probeNative } from '../../main/core/engine/native.js';
import { findPackageRoot } from '../../main/core/package-info.js';

const ROOT = path.resolve(import.meta.dirname, '..', '..');
const BUILD_INFO = path.join(ROOT, 'native', 'build', 'build-info.json');

interface BuildInfo {
  cudaCompiled: boolean;
  cudaReason: string;
  cudaArchs: string[];
  nvccVersion: string | null;
  request: { cuda: 'ON' | 'OFF'; cudaArchs: string };
}

const readBuildInfo = (file: string): BuildInfo => JSON.parse(readFileSync(file, 'utf8'));
const nvccOnPath = () => !spawnSync('nvcc', ['--version'], { stdio: 'ignore' }).error;
const driverLibraryPresent = () =>
  process.platform === 'linux' &&
  spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }).stdout?.includes('libcuda.so.1');

// probe() in a fresh `node` process: the addon must load with nothing but Node.
function probeInChild(addon: string): ProbeResult {
  const script = 'process.stdout.write(JSON.stringify(require(process.argv[1]).probe()))';
  return JSON.parse(execFileSync(process.execPath, ['-e', script, addon], { encoding: 'utf8' }));
}

// freeMemoryBytes moves between two calls on a busy GPU; everything else must not.
const withoutFreeMemory = (result: ProbeResult) => ({
  ...result,
  devices: result.devices.map(({ freeMemoryBytes: _, ...device }) => device),
});

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

describe('native addon', () => {
  it('loads once and is cached', () => {
    const native = loadNative();
    expect(typeof native.probe).toBe('function');
    expect(loadNative()).toBe(native);
    expect(nativeAddonPath()).toBe(path.join(ROOT, 'native', 'build', 'Release', 'tunesmith_native.node'));
  });

  it('finds the package root from the source and the compiled location, past native/package.json', () => {
    expect(findPackageRoot(path.join(ROOT, 'main', 'core', 'engine'))).toBe(ROOT);
    expect(findPackageRoot(path.join(ROOT, 'out', 'node', 'main', 'core', 'engine'))).toBe(ROOT);
    expect(findPackageRoot(path.join(ROOT, 'native', 'src', 'cuda'))).toBe(ROOT);
  });

  it('says how to fix a failed load, and probeNative() reports it without throwing', async () => {
    vi.stubEnv('TUNESMITH_NATIVE_PATH', path.join(ROOT, 'native', 'build', 'missing.node'));
    vi.resetModules();
    const fresh = await import('../../main/core/engine/native.js');
    expect(() => fresh.loadNative()).toThrow(/missing\.node.*TUNESMITH_NATIVE_PATH/s);
    const report = fresh.probeNative();
    expect(report.loadError).toMatch(/could not be loaded/);
    expect(report.backends).toEqual([]);

    vi.stubEnv('TUNESMITH_NATIVE_PATH', undefined);
    expect(() => fresh.loadNative()).not.toThrow();
  });

  it('passes on the loader reason when the file is there but is no addon', async () => {
    const garbage = path.join(mkdtempSync(path.join(tmpdir(), 'tunesmith-native-')), 'garbage.node');
    writeFileSync(garbage, 'not a shared library');
    vi.stubEnv('TUNESMITH_NATIVE_PATH', garbage);
    vi.resetModules();
    const fresh = await import('../../main/core/engine/native.js');
    expect(() => fresh.loadNative()).toThrow(/garbage\.node: .+\. To fix it, check TUNESMITH_NATIVE_PATH/);
    expect(() => fresh.loadNative()).not.toThrow(/no such file/);
    expect(fresh.probeNative().loadError).not.toMatch(/Require stack/);
  });
});

describe('probe()', () => {
  it('always offers the CPU backend, and CUDA only with a device to run it on', () => {
    const result = loadNative().probe();
    expect(result.backends[0]).toBe('cpu');
    expect(result.backends.includes('cuda')).toBe(result.cudaCompiled && result.errorKind === undefined);
    expect(result.napiVersion).toBe(8);
    expect(result.engineVersion).toBe(
      JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version,
    );
  });

  it('has CUDA compiled in exactly when the build said so, and always when nvcc was there', () => {
    const info = readBuildInfo(BUILD_INFO);
    const result = loadNative().probe();
    expect(result.cudaCompiled).toBe(info.cudaCompiled);
    if (nvccOnPath() && info.request.cuda !== 'OFF') expect(info.cudaCompiled).toBe(true);
    if (info.cudaCompiled) {
      expect(info.nvccVersion).toMatch(/^\d+\.\d+/);
      expect(result.cudaRuntimeVersion).toBeGreaterThanOrEqual(11000);
    } else {
      expect(result.errorKind).toBe('not-compiled');
    }
  });

  it('explains why there is no GPU, or describes the GPUs it found', () => {
    const result = loadNative().probe();
    if (result.backends.includes('cuda')) {
      expect(result.error).toBeUndefined();
      expect(result.devices.length).toBeGreaterThan(0);
      for (const gpu of result.devices) {
        expect(gpu.computeCapability).toMatch(/^\d+\.\d+$/);
        expect(gpu.totalMemoryBytes).toBeGreaterThan(0);
        expect(gpu.freeMemoryBytes).toBeLessThanOrEqual(gpu.totalMemoryBytes);
        expect(gpu.multiProcessors).toBeGreaterThan(0);
      }
      return;
    }
    expect(result.error?.length).toBeGreaterThan(20);
    expect(result.errorKind).toBeDefined();
    if (result.errorKind !== 'no-device') expect(result.devices).toEqual([]);
    if (result.cudaCompiled && !driverLibraryPresent() && process.platform === 'linux') {
      expect(result.errorKind).toBe('no-driver');
      expect(result.error).toMatch(/libcuda\.so\.1/);
      expect(result.driverVersion).toBeUndefined();
    }
  });

  it('returns plain data that survives JSON, the same on every call', () => {
    const first = loadNative().probe();
    expect(JSON.parse(JSON.stringify(first))).toEqual(first);
    expect(withoutFreeMemory(loadNative().probe())).toEqual(withoutFreeMemory(first));
    expect(withoutFreeMemory(probeNative())).toEqual(withoutFreeMemory(first));
  });

  it('loads in a plain `node` process', () => {
    expect(withoutFreeMemory(probeInChild(nativeAddonPath()))).toEqual(
      withoutFreeMemory(loadNative().probe()),
    );
  });
});

// A fake libcuda.so.1 (native/tests/fake_libcuda.c) walks probe() through each driver problem.
describe.runIf(process.platform === 'linux')('probe() with a fake NVIDIA driver', () => {
  const native = () => probeNative(); // at collection time: must not throw when the addon is missing
  const hasCompiler = () => !spawnSync('cc', ['--version'], { stdio: 'ignore' }).error;
  let fakeDir = '';

  function probeWithDriver(driverVersion: number, initResult: number): ProbeResult {
    if (!fakeDir) {
      fakeDir = mkdtempSync(path.join(tmpdir(), 'tunesmith-fake-cuda-'));
      const source = path.join(ROOT, 'native', 'tests', 'fake_libcuda.c');
      execFileSync('cc', ['-shared', '-fPIC', '-o', path.join(fakeDir, 'libcuda.so.1'), source]);
    }
    const script = 'process.stdout.write(JSON.stringify(require(process.argv[1]).probe()))';
    const output = execFileSync(process.execPath, ['-e', script, nativeAddonPath()], {
      encoding: 'utf8',
      env: {
        ...process.env,
        LD_LIBRARY_PATH: fakeDir,
        FAKE_CUDA_DRIVER_VERSION: String(driverVersion),
        FAKE_CUDA_INIT_RESULT: String(initResult),
      },
    });
    return JSON.parse(output);
  }

  it.runIf(native().cudaCompiled && hasCompiler())('names each problem precisely', () => {
    const runtime = native().cudaRuntimeVersion ?? 0;
    const major = Math.floor(runtime / 1000);

    const old = probeWithDriver((major - 1) * 1000 + 40, 0);
    expect(old).toMatchObject({
      errorKind: 'driver-too-old',
      driverVersion: (major - 1) * 1000 + 40,
      devices: [],
    });
    expect(old.error).toContain(
      `the NVIDIA driver supports CUDA ${major - 1}.4 but this build needs CUDA ${major}.0: update the NVIDIA driver`,
    );
    if (major === 13) expect(old.error).toMatch(/to version 580 or newer$/);

    const noDevice = probeWithDriver(major * 1000, 100); // CUDA_ERROR_NO_DEVICE
    expect(noDevice).toMatchObject({
      backends: ['cpu'],
      errorKind: 'no-device',
      driverVersion: major * 1000,
    });
    expect(noDevice.error).toMatch(/shows no GPU/);

    const unknown = probeWithDriver(major * 1000 + 20, 999); // CUDA_ERROR_UNKNOWN
    expect(unknown).toMatchObject({ errorKind: 'cuda-error', devices: [] });
    expect(unknown.error).toMatch(/CUDA could not start: .*cudaErrorUnknown/);

    const mismatch = probeWithDriver(major * 1000, 803); // CUDA_ERROR_SYSTEM_DRIVER_MISMATCH
    expect(mismatch.errorKind).toBe('cuda-error');
    expect(mismatch.error).toMatch(/reboot/);
  });
});

describe('a build with CUDA forced off', () => {
  const outDir = path.join(ROOT, 'native', 'build', 'cpu-only');

  it('still loads and says CUDA is not compiled in', { timeout: 180_000 }, () => {
    const build = spawnSync(
      process.execPath,
      [path.join(ROOT, 'scripts', 'build-native.mjs'), '--out', outDir],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, TUNESMITH_CUDA: 'OFF' },
      },
    );
    expect(build.status, build.stdout + build.stderr).toBe(0);
    expect(build.stdout).toMatch(/CPU only, CUDA not compiled in \(turned off by TUNESMITH_CUDA=OFF\)/);

    const info = readBuildInfo(path.join(outDir, 'build-info.json'));
    expect(info).toMatchObject({ cudaCompiled: false, cudaArchs: [], request: { cuda: 'OFF' } });

    const addon = path.join(outDir, 'Release', 'tunesmith_native.node');
    expect(existsSync(addon)).toBe(true);
    const result = probeInChild(addon);
    expect(result).toMatchObject({
      backends: ['cpu'],
      cudaCompiled: false,
      devices: [],
      errorKind: 'not-compiled',
    });
    expect(result.error).toMatch(/npm run build:native/);
    expect(result.cudaRuntimeVersion).toBeUndefined();
  });
});
