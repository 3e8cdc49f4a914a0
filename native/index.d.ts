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

/** The seven projections LoRA can adapt (PEFT module names). */
export type LoraTarget = 'q_proj' | 'k_proj' | 'v_proj' | 'o_proj' | 'gate_proj' | 'up_proj' | 'down_proj';

export interface LoraSpec {
  /** Rank r. */
  r: number;
  /** lora_alpha; the update is scaled by alpha/r (alpha/√r with useRslora). */
  alpha: number;
  /** Dropout on the LoRA input during step() (default 0). */
  dropout?: number;
  /** Default: all seven. */
  targetModules?: LoraTarget[];
  useRslora?: boolean;
}

export interface LoadModelOptions {
  /** A Hugging Face folder: config.json + model.safetensors (or shards with the index). */
  modelDir: string;
  /**
   * Left out: 'cuda' when probe() finds a usable GPU, else 'cpu'. 'cuda' on a machine or build without a
   * usable GPU rejects with the probe's reason. On 'cuda' the GPU trains; generation runs on the CPU.
   */
  backend?: Backend;
  /** 'nf4' quantizes the seven projections (bitsandbytes NF4, blocks of 64); the rest stays f32. */
  quant: 'nf4' | 'none';
  lora: LoraSpec;
  /** Longest sequence step()/generate() will see (RoPE table and KV cache size). */
  maxSeqLen: number;
  /** Recompute each layer in backward instead of keeping its activations (less memory, ~1.3× time). */
  gradientCheckpointing?: boolean;
  /** Seeds LoRA init, dropout, NEFTune noise and sampling (default 0). */
  seed?: number;
  /** CPU threads; default: the number of cores. */
  threads?: number;
}

/**
 * Sequences packed back to back: tokens[i] belongs to the sequence seqLens says; no token attends
 * across a boundary. trained[i] = 1 makes token i a target (predicted from token i-1); the first
 * token of a sequence is never a target. Padding is just a sequence tail with trained = 0.
 */
export interface Batch {
  tokens: Int32Array;
  trained: Uint8Array;
  seqLens: Int32Array;
}

export interface StepOptions {
  /** NEFTune noise alpha (0/absent = off): U(±alpha/√(L·hidden)) on the embeddings, L = longest sequence. */
  neftuneAlpha?: number;
  /** Apply the LoRA dropout of loadModel (default true). */
  loraDropout?: boolean;
}

export interface LossResult {
  /** Mean cross-entropy over this batch's trained tokens (0 when it has none). */
  loss: number;
  trainedTokens: number;
}

export interface OptimizerOptions {
  lr: number;
  weightDecay?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Global gradient-norm clip (default 1.0; 0 = off). */
  maxGradNorm?: number;
}

export interface OptimizerStepResult {
  /** Global norm of the mean-loss gradients, before clipping. */
  gradNorm: number;
  /** Mean loss over every trained token of the micro-batches this update averaged. */
  loss: number;
  trainedTokens: number;
  /** Optimizer steps taken so far (1 after the first). */
  step: number;
}

export interface GenerateOptions {
  maxNewTokens?: number;
  /** 0 (default) = greedy. */
  temperature?: number;
  topP?: number;
  /** Generation stops after emitting one of these (it is included in the result). */
  stopTokens?: number[];
  /** false: the base model alone (default true). */
  useAdapter?: boolean;
}

export interface SessionMemory {
  /** GPU memory the session holds now (0 on the CPU backend). */
  deviceBytes: number;
  hostBytes: number;
  /** The most held at once by the backend that trains: GPU bytes on 'cuda', host bytes on 'cpu'. */
  peakBytes: number;
}

export interface SessionInfo {
  arch: 'llama' | 'mistral' | 'qwen2';
  /** Where step/evalLoss/optimizerStep run. */
  backend: Backend;
  vocabSize: number;
  hiddenSize: number;
  layers: number;
  loraParameters: number;
  optimizerSteps: number;
  threads: number;
}

/**
 * A loaded model with its adapter and optimizer. One call at a time: a call made while another is
 * running rejects with a "busy" message. Failures reject with a message that says what to do.
 */
export interface Session {
  /** Forward + backward; gradients accumulate until optimizerStep(). */
  step(batch: Batch, options?: StepOptions): Promise<LossResult>;
  /**
   * Averages the accumulated gradients over every trained token since the last update, clips, and
   * takes one AdamW step. gradNorm is the norm before clipping.
   */
  optimizerStep(options: OptimizerOptions): Promise<OptimizerStepResult>;
  evalLoss(batch: Batch): Promise<LossResult>;
  /** Next-token logits [vocabSize] after `tokens` (one sequence, forward only, adapter applied). */
  logits(tokens: Int32Array): Promise<Float32Array>;
  /**
   * New tokens (the prompt excluded); onToken sees each one before the promise settles. onToken
   * returning false stops the generation (within a token or two; later tokens are not shown to it).
   */
  generate(
    prompt: Int32Array,
    options?: GenerateOptions,
    // biome-ignore lint/suspicious/noConfusingVoidType: a listener that returns nothing keeps going
    onToken?: (token: number) => boolean | void,
  ): Promise<Int32Array>;
  /** PEFT folder: adapter_config.json + adapter_model.safetensors. */
  saveAdapter(dir: string, options?: { baseModelName?: string }): Promise<void>;
  loadAdapter(dir: string): Promise<void>;
  /** Adapter, optimizer moments, step and RNG: loadState() in a fresh session resumes exactly. */
  saveState(path: string): Promise<void>;
  loadState(path: string): Promise<void>;
  memory(): SessionMemory;
  info(): SessionInfo;
  /** Frees the model now (throws while a call is running). */
  dispose(): void;
}

export interface NativeModule {
  /** Synchronous and cheap; never throws for a missing driver or GPU, it reports them instead. */
  probe(): ProbeResult;
  loadModel(options: LoadModelOptions): Promise<Session>;
}
