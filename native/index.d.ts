// The engine addon's typed surface. There is no index.js: main/core/engine/native.ts loads
// build/Release/tunesmith_native.node and hands it out as a NativeModule (loadNative()).
// Every field here is plain data (numbers, strings, arrays), so a result can cross IPC or be JSON'd.

export type Backend = 'cpu' | 'cuda';

/** Why CUDA cannot be used, when it cannot. */
export type ProbeErrorKind =
  | 'not-compiled' // this build has no CUDA backend (no nvcc at build time, or TUNESMITH_CUDA=OFF)
  | 'no-driver' // no NVIDIA driver library (libcuda.so.1 / nvcuda.dll) on this machine
  | 'driver-too-old' // the driver supports an older CUDA than this build needs
  | 'no-device' // driver present, but no GPU this build can run on
  | 'cuda-error'; // anything else CUDA reported; `error` carries its message

export interface GpuInfo {
  /** CUDA device ordinal (after CUDA_VISIBLE_DEVICES). */
  index: number;
  name: string;
  totalMemoryBytes: number;
  /** Free at probe time; 0 when the device would not give a context (busy, exclusive mode). */
  freeMemoryBytes: number;
  /** "major.minor", e.g. "9.0" for H100/H200, "8.6" for RTX 30xx. */
  computeCapability: string;
  multiProcessors: number;
}

export interface ProbeResult {
  /** 'cpu' always; 'cuda' when compiled in and at least one GPU can run this build's kernels. */
  backends: Backend[];
  cudaCompiled: boolean;
  /** CUDA runtime this build links, 1000*major + 10*minor (13000 = 13.0). Absent without CUDA. */
  cudaRuntimeVersion?: number;
  /** Highest CUDA version the installed driver supports, same encoding. Absent without a driver. */
  driverVersion?: number;
  /** GPUs the driver shows; empty when CUDA is unusable, except for 'no-device' on too-old GPUs. */
  devices: GpuInfo[];
  /** A sentence a person can act on, present exactly when errorKind is. */
  error?: string;
  errorKind?: ProbeErrorKind;
  /** Version of the package the engine was built from (package.json "version"). */
  engineVersion: string;
  /** Node-API version the addon was built against. */
  napiVersion: number;
}

export interface NativeModule {
  /** Synchronous and cheap; never throws for a missing driver or GPU, it reports them instead. */
  probe(): ProbeResult;
}
