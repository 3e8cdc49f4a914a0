// Proof that an export behaves like the engine: the exported GGUF files are loaded in llama.cpp
// (node-llama-cpp, CPU, one thread) and compared with the engine (float32 weights, no NF4) on the
// same token ids. Checks: (a) base next-token probabilities, (b) the same with the adapter applied,
// (c) greedy generation with the adapter: the same tokens (so the same end token, if any).
// node-llama-cpp is a devDependency: its prebuilt llama.cpp binaries come from npm; it is never
// allowed to download or build anything (build: 'never', skipDownload).
import type { LoraSpec, Session } from '../../../native/index.js';
import { readAdapterSpec } from '../engine/generate.js';
import { loadNative } from '../engine/native.js';
import { ExportError } from './errors.js';

export interface VerifyCheck {
  name:
    | 'base-probabilities'
    | 'adapter-probabilities'
    | 'adapter-generation'
    | 'merged-probabilities'
    | 'merged-generation';
  passed: boolean;
  /** Probability checks: the largest |p_engine − p_llama.cpp| over the whole vocabulary. */
  maxAbsProbDiff?: number;
  /** The largest |log p_engine − log p_llama.cpp| (tokens with p > 1e-12): sensitive where p is small. */
  maxAbsLogProbDiff?: number;
  /** Both pick the same most likely next token. */
  sameArgmax?: boolean;
  tolerance?: Tolerance;
  engineTokens?: number[];
  llamaCppTokens?: number[];
  /** Generation ended with a stop token in both. */
  stopped?: boolean;
  detail: string;
}

export interface VerifyRequest {
  modelDir: string;
  baseGguf: string;
  adapterDir?: string;
  adapterGguf?: string;
  /** baseGguf already holds the adapter (a merged export): compare it with the engine + adapter. */
  merged?: boolean;
  prompt: Int32Array;
  stopTokens: number[];
  maxNewTokens?: number;
  tolerance?: Tolerance;
}

export interface Tolerance {
  prob: number;
  logProb: number;
}

/** float32 end to end: what two correct fp32 implementations differ by. */
export const FP32_TOLERANCE: Tolerance = { prob: 1e-4, logProb: 1e-3 };

// biome-ignore lint/suspicious/noExplicitAny: node-llama-cpp is loaded lazily, typed where used
type Llama = any;
// llama.cpp keeps its KV cache in F16 by default; F32 here, so the comparison is fp32 throughout.
const FP32_CONTEXT = {
  experimentalKvCacheKeyType: 'F32',
  experimentalKvCacheValueType: 'F32',
  flashAttention: false,
};

let llamaPromise: Promise<Llama> | null = null;

async function getLlamaCpp(): Promise<Llama> {
  llamaPromise ??= (async () => {
    process.env.NODE_LLAMA_CPP_SKIP_DOWNLOAD = 'true';
    let mod: { getLlama: (o: unknown) => Promise<Llama>; LlamaLogLevel: Record<string, string> };
    try {
      mod = (await import('node-llama-cpp')) as never;
    } catch (err) {
      throw new ExportError(
        'verify-unavailable',
        `Verification needs node-llama-cpp, which is not installed (${(err as Error).message}).`,
        'Install the development dependencies (npm install) or export without --verify.',
      );
    }
    return mod.getLlama({
      gpu: false,
      build: 'never',
      skipDownload: true,
      usePrebuiltBinaries: true,
      progressLogs: false,
      maxThreads: 1,
      logLevel: mod.LlamaLogLevel.error,
    });
  })();
  return llamaPromise;
}

function softmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  const out = new Float64Array(logits.length);
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += out[i] = Math.exp(logits[i]! - max);
  for (let i = 0; i < out.length; i++) out[i]! /= sum;
  return out;
}

const argmax = (p: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < p.length; i++) if (p[i]! > p[best]!) best = i;
  return best;
};

/** llama.cpp's full next-token distribution after `tokens` (temperature 1, no truncation). */
async function llamaCppProbabilities(
  model: Llama,
  adapter: string | undefined,
  tokens: Int32Array,
  vocab: number,
): Promise<Float64Array> {
  const context = await model.createContext({
    ...FP32_CONTEXT,
    contextSize: Math.max(64, tokens.length + 8),
    threads: 1,
    ...(adapter ? { lora: adapter } : {}),
  });
  try {
    const sequence = context.getSequence();
    const input = [...tokens];
    const last = input.pop()!;
    const out = await sequence.controlledEvaluate([
      ...input,
      [
        last,
        { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } },
      ],
    ]);
    const probs = new Float64Array(vocab);
    const map = out.at(-1)?.next?.probabilities as Map<number, number> | undefined;
    if (!map) throw new Error('llama.cpp returned no probabilities');
    for (const [token, p] of map) probs[token] = p;
    return probs;
  } finally {
    await context.dispose();
  }
}

async function llamaCppGreedy(
  model: Llama,
  adapter: string | undefined,
  tokens: Int32Array,
  stop: number[],
  max: number,
): Promise<number[]> {
  const context = await model.createContext({
    ...FP32_CONTEXT,
    contextSize: Math.max(64, tokens.length + max + 8),
    threads: 1,
    ...(adapter ? { lora: adapter } : {}),
  });
  try {
    // controlledEvaluate, not evaluate(): evaluate() ends at an end-of-generation token without
    // yielding it, and the check is precisely that generation ends with that token.
    const sequence = context.getSequence();
    const greedy = { generateNext: { token: true, options: { temperature: 0 } } };
    const out: number[] = [];
    let input: unknown[] = [...tokens];
    while (out.length < max) {
      const last = input.pop();
      const result = await sequence.controlledEvaluate([...input, [last, greedy]]);
      const token = result.at(-1)?.next?.token as number | undefined;
      if (token === undefined) throw new Error('llama.cpp generated no token');
      out.push(token);
      if (stop.includes(token)) break;
      input = [token];
    }
    return out;
  } finally {
    await context.dispose();
  }
}

/** Log-probabilities are compared where the engine's p > 1e-12 (float32 underflows below that). */
const LOGPROB_FLOOR = 1e-12;

function compare(
  name: VerifyCheck['name'],
  engine: Float64Array,
  llama: Float64Array,
  tolerance: Tolerance,
): VerifyCheck {
  let maxAbsProbDiff = 0;
  let maxAbsLogProbDiff = 0;
  for (let i = 0; i < engine.length; i++) {
    maxAbsProbDiff = Math.max(maxAbsProbDiff, Math.abs(engine[i]! - llama[i]!));
    if (engine[i]! > LOGPROB_FLOOR)
      maxAbsLogProbDiff = Math.max(maxAbsLogProbDiff, Math.abs(Math.log(engine[i]!) - Math.log(llama[i]!)));
  }
  const sameArgmax = argmax(engine) === argmax(llama);
  const passed = maxAbsProbDiff <= tolerance.prob && maxAbsLogProbDiff <= tolerance.logProb && sameArgmax;
  return {
    name,
    passed,
    maxAbsProbDiff,
    maxAbsLogProbDiff,
    sameArgmax,
    tolerance,
    detail: `max |Δp| ${maxAbsProbDiff.toExponential(2)} (≤ ${tolerance.prob.toExponential(0)}), max |Δ log p| ${maxAbsLogProbDiff.toExponential(2)} (≤ ${tolerance.logProb.toExponential(0)}), same top token: ${sameArgmax ? 'yes' : 'no'}`,
  };
}

async function engineSession(modelDir: string, lora: LoraSpec, maxSeqLen: number): Promise<Session> {
  return loadNative().loadModel({ modelDir, quant: 'none', lora, maxSeqLen, threads: 1 });
}

async function adapterChecks(
  r: VerifyRequest,
  model: Llama,
  names: [VerifyCheck['name'], VerifyCheck['name']],
  tolerance: Tolerance,
): Promise<VerifyCheck[]> {
  const maxNew = r.maxNewTokens ?? 16;
  const session = await engineSession(
    r.modelDir,
    readAdapterSpec(r.adapterDir!),
    r.prompt.length + maxNew + 1,
  );
  try {
    await session.loadAdapter(r.adapterDir!);
    const lora = r.merged ? undefined : r.adapterGguf;
    const engineP = softmax(await session.logits(r.prompt));
    const probabilities = compare(
      names[0],
      engineP,
      await llamaCppProbabilities(model, lora, r.prompt, engineP.length),
      tolerance,
    );
    const engineTokens = [
      ...(await session.generate(r.prompt, {
        maxNewTokens: maxNew,
        temperature: 0,
        stopTokens: r.stopTokens,
      })),
    ];
    const llamaCppTokens = await llamaCppGreedy(model, lora, r.prompt, r.stopTokens, maxNew);
    const same =
      engineTokens.length === llamaCppTokens.length && engineTokens.every((t, i) => t === llamaCppTokens[i]);
    const stopped =
      r.stopTokens.includes(engineTokens.at(-1)!) && r.stopTokens.includes(llamaCppTokens.at(-1)!);
    return [
      probabilities,
      {
        name: names[1],
        // Same tokens means the same stopping too; `stopped` says whether that was at an end token.
        passed: same,
        engineTokens,
        llamaCppTokens,
        stopped,
        detail: `${same ? 'same' : 'different'} greedy tokens (engine ${engineTokens.length}, llama.cpp ${llamaCppTokens.length}); ${stopped ? 'both stop at the end token' : 'not both stopped at the end token'}`,
      },
    ];
  } finally {
    session.dispose();
  }
}

export async function verifyExport(r: VerifyRequest): Promise<VerifyCheck[]> {
  const tolerance = r.tolerance ?? FP32_TOLERANCE;
  const llama = await getLlamaCpp();
  const model = await llama.loadModel({ modelPath: r.baseGguf, gpuLayers: 0 });
  try {
    if (r.merged)
      return await adapterChecks(r, model, ['merged-probabilities', 'merged-generation'], tolerance);
    const checks: VerifyCheck[] = [];
    const base = await engineSession(r.modelDir, { r: 1, alpha: 1 }, r.prompt.length + 1);
    try {
      const engineP = softmax(await base.logits(r.prompt));
      checks.push(
        compare(
          'base-probabilities',
          engineP,
          await llamaCppProbabilities(model, undefined, r.prompt, engineP.length),
          tolerance,
        ),
      );
    } finally {
      base.dispose();
    }
    if (r.adapterDir && r.adapterGguf)
      checks.push(
        ...(await adapterChecks(r, model, ['adapter-probabilities', 'adapter-generation'], tolerance)),
      );
    return checks;
  } finally {
    await model.dispose();
  }
}
