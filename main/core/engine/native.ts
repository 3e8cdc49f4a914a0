// Loads the native engine addon (native/build/Release/tunesmith_native.node) once per process.
// The package root is found by walking up to the package.json named "tunesmith", so this works from
// main/core/engine/ (tsx, vitest) and from out/node/main/core/engine/ (compiled) alike;
// TUNESMITH_NATIVE_PATH may name a .node file instead. Failures say what to do and keep the cause.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { NativeModule, ProbeResult } from '../../../native/index.js';
import { packageRoot } from '../package-info.js';

export type {
  Batch,
  GenerateOptions,
  GpuInfo,
  LoadModelOptions,
  LoraSpec,
  LoraTarget,
  LossResult,
  NativeModule,
  OptimizerOptions,
  OptimizerStepResult,
  ProbeResult,
  Session,
  SessionInfo,
  SessionMemory,
  StepOptions,
} from '../../../native/index.js';

const ADDON_RELATIVE_PATH = path.join('native', 'build', 'Release', 'tunesmith_native.node');

let cached: NativeModule | undefined;

/** Where the addon is looked for: TUNESMITH_NATIVE_PATH, else the package's build folder. */
export function nativeAddonPath(): string {
  const override = process.env.TUNESMITH_NATIVE_PATH;
  if (override) return path.resolve(override);
  // Inside a packaged Electron app, .node files live beside the asar archive, not in it.
  return path.join(packageRoot(), ADDON_RELATIVE_PATH).replace(/app\.asar(?=[\\/])/, 'app.asar.unpacked');
}

/** The addon, loaded on first use and cached. Throws an Error that says how to fix a failed load. */
export function loadNative(): NativeModule {
  if (cached) return cached;
  let addonPath: string | undefined;
  try {
    addonPath = nativeAddonPath();
    const loaded = createRequire(import.meta.url)(addonPath) as NativeModule;
    if (typeof loaded?.probe !== 'function') throw new Error('it does not export probe()');
    cached = loaded;
    return loaded;
  } catch (cause) {
    // require()'s message goes on with a "Require stack" list; its first line is the news.
    const missing = addonPath !== undefined && !existsSync(addonPath);
    const reason = missing ? 'there is no such file' : messageOf(cause).split('\n')[0];
    const fix = process.env.TUNESMITH_NATIVE_PATH
      ? 'check TUNESMITH_NATIVE_PATH, or unset it to use the built addon'
      : 'run `npm run build:native` (needs CMake and a C++ compiler; nvcc too for GPU training)';
    const message = `Tunesmith's native engine could not be loaded from ${addonPath ?? 'this package'}: ${reason}. To fix it, ${fix}.`;
    throw new Error(message, { cause });
  }
}

/** probe() for `tunesmith doctor` and the app's first screen: never throws, reports a failed load. */
export function probeNative(): ProbeResult & { loadError?: string } {
  let native: NativeModule;
  try {
    native = loadNative();
  } catch (cause) {
    const loadError = messageOf(cause);
    // Without the addon there is no backend at all, not even the CPU one.
    return {
      backends: [],
      cudaCompiled: false,
      devices: [],
      error: loadError,
      engineVersion: '',
      napiVersion: 0,
      loadError,
    };
  }
  try {
    return native.probe();
  } catch (cause) {
    // The addon turns every native failure into a JS Error; the CPU backend is still there.
    const error = `the engine's probe() failed: ${messageOf(cause)}`;
    return {
      backends: ['cpu'],
      cudaCompiled: false,
      devices: [],
      error,
      errorKind: 'cuda-error',
      engineVersion: '',
      napiVersion: 0,
    };
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
