// The trainer process: one per run, started by RunService (child_process.fork under Node, Electron's
// utilityProcess in the app; channel.ts hides the difference). It receives its job, loads the engine and the token files,
// and trains: seeded length-grouped micro-batches, gradient accumulation, the LR schedule, and every
// N steps eval loss, sample generations and a checkpoint. It writes only checkpoint files and
// reports everything else to its parent, which owns SQLite. A crash here costs the run, nothing more.
//
// Exact resume: the micro-batch order is a pure function of (seed, epoch, example lengths), so the
// position stored in a checkpoint (optimizer steps taken) says where the stream continues; the
// engine's saveState holds the adapter, the AdamW moments and the RNG.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import type { Batch, Session } from '../../native/index.js';
import { lengthGroupedBatches } from '../core/data/batching.js';
import { exampleLength, readTokenFile, type TokenFile } from '../core/data/token-file.js';
import { loadModelTokenizer } from '../core/data/tokenize.js';
import { loadNative } from '../core/engine/native.js';
import { learningRate } from '../core/runs/config.js';
import { modelContentHash } from '../core/runs/fit.js';
import { connectToParent } from './channel.js';
import type { CheckpointMeta, DataPosition, TrainerJob, TrainerMessage } from './protocol.js';
import { type EvalPoint, evalLossRisingWarning } from './warnings.js';

interface Faults {
  nanAtStep?: number;
  checkpointFailsAtStep?: number;
  slowMs?: number;
}

let pauseRequested = false;
let cancelRequested = false;

const parent = connectToParent(process);

function send(message: TrainerMessage): Promise<void> {
  return parent.send(message);
}

class TrainerFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

function faults(): Faults {
  const raw = process.env.TUNESMITH_TRAINER_FAULT;
  if (!raw) return {};
  try {
    return JSON.parse(raw) as Faults;
  } catch {
    return {};
  }
}

/** The micro-batches of the run, in order, epoch after epoch (each epoch its own seeded order). */
class BatchStream {
  readonly #file: TokenFile;
  readonly #lengths: number[];
  readonly #microBatch: number;
  readonly #seed: number;
  #epoch = -1;
  #order: number[][] = [];

  constructor(file: TokenFile, microBatch: number, seed: number) {
    this.#file = file;
    this.#lengths = Array.from({ length: file.examples }, (_, i) => exampleLength(file, i));
    this.#microBatch = microBatch;
    this.#seed = seed;
  }

  get perEpoch(): number {
    return Math.ceil(this.#file.examples / this.#microBatch);
  }

  /** Micro-batch number `m` of the run (0-based). */
  batch(m: number): Batch {
    const epoch = Math.floor(m / this.perEpoch);
    if (epoch !== this.#epoch) {
      this.#order = lengthGroupedBatches(this.#lengths, {
        batchSize: this.#microBatch,
        seed: (this.#seed + epoch) >>> 0,
      });
      this.#epoch = epoch;
    }
    return packExamples(this.#file, this.#order[m % this.perEpoch]!);
  }
}

/** Examples back to back: the engine keeps sequences apart by seqLens, so nothing is padded. */
function packExamples(file: TokenFile, indices: readonly number[]): Batch {
  const total = indices.reduce((n, i) => n + exampleLength(file, i), 0);
  const tokens = new Int32Array(total);
  const trained = new Uint8Array(total);
  const seqLens = new Int32Array(indices.length);
  let at = 0;
  indices.forEach((i, k) => {
    const start = file.offsets[i]!;
    const end = file.offsets[i + 1]!;
    tokens.set(file.tokens.subarray(start, end), at);
    trained.set(file.trained.subarray(start, end), at);
    seqLens[k] = end - start;
    at += end - start;
  });
  return { tokens, trained, seqLens };
}

async function evalLoss(session: Session, file: TokenFile, microBatch: number): Promise<number | null> {
  let sum = 0;
  let tokens = 0;
  for (let i = 0; i < file.examples; i += microBatch) {
    const indices = Array.from({ length: Math.min(microBatch, file.examples - i) }, (_, k) => i + k);
    const result = await session.evalLoss(packExamples(file, indices));
    sum += result.loss * result.trainedTokens;
    tokens += result.trainedTokens;
  }
  return tokens > 0 ? sum / tokens : null;
}

function folderSize(dir: string): number {
  let size = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    size += entry.isDirectory() ? folderSize(full) : statSync(full).size;
  }
  return size;
}

const isDiskFull = (err: unknown) => ['ENOSPC', 'EDQUOT'].includes((err as { code?: string }).code ?? '');

/**
 * Adapter + engine state + position, written under a temporary name and renamed, so a checkpoint
 * folder is whole or absent. Returns null when the disk is full (the temporary folder is removed).
 */
async function writeCheckpoint(
  session: Session,
  job: TrainerJob,
  meta: CheckpointMeta,
  fault: Faults,
): Promise<{ path: string; sizeBytes: number } | null> {
  const root = path.join(job.runDir, 'checkpoints');
  mkdirSync(root, { recursive: true });
  const final = path.join(root, `step-${String(meta.step).padStart(6, '0')}`);
  const temp = `${final}.tmp-${process.pid}`;
  rmSync(temp, { recursive: true, force: true });
  try {
    mkdirSync(temp);
    await session.saveAdapter(path.join(temp, 'adapter'));
    await session.saveState(path.join(temp, 'state.bin'));
    if (fault.checkpointFailsAtStep === meta.step) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, write '${temp}/meta.json'`), {
        code: 'ENOSPC',
      });
    }
    writeFileSync(path.join(temp, 'meta.json'), JSON.stringify(meta, null, 2));
    rmSync(final, { recursive: true, force: true });
    renameSync(temp, final);
  } catch (err) {
    rmSync(temp, { recursive: true, force: true });
    if (isDiskFull(err)) return null;
    throw err;
  }
  return { path: final, sizeBytes: folderSize(final) };
}

export function readCheckpointMeta(dir: string): CheckpointMeta {
  return JSON.parse(readFileSync(path.join(dir, 'meta.json'), 'utf8')) as CheckpointMeta;
}

async function train(job: TrainerJob): Promise<void> {
  const fault = faults();
  const h = job.hyper;
  if (!existsSync(path.join(job.modelDir, 'config.json'))) {
    throw new TrainerFailure(
      'model-missing',
      `The model folder ${job.modelDir} is gone or has no config.json (was it moved or deleted?).`,
      'Put the model folder back where it was, then resume; or start a new run with --model at its new place.',
    );
  }
  if (modelContentHash(job.modelDir) !== job.modelHash) {
    throw new TrainerFailure(
      'model-changed',
      `The model in ${job.modelDir} is not the one this run started with (its config or weights changed).`,
      'Put the original model back, or start a new run with this model.',
    );
  }
  const trainFile = readTokenFile(job.trainTokenFile);
  const evalFile = job.evalTokenFile ? readTokenFile(job.evalTokenFile) : null;
  const tokenizer = loadModelTokenizer(job.modelDir);
  const longestPrompt = Math.max(0, ...job.samplePrompts.map((p) => p.ids.length));
  const session = await loadNative().loadModel({
    modelDir: job.modelDir,
    backend: job.backend,
    quant: h.quant,
    lora: { r: h.loraR, alpha: h.loraAlpha, dropout: h.loraDropout, targetModules: h.loraTargets },
    maxSeqLen: Math.max(trainFile.maxLen, longestPrompt + h.sampleMaxNewTokens),
    gradientCheckpointing: h.gradientCheckpointing,
    seed: h.seed,
    ...(h.threads > 0 ? { threads: h.threads } : {}),
  });
  let position: DataPosition = { step: 0, microBatches: 0, epoch: 0 };
  let lastEvalLoss: number | null = null;
  if (job.resumeFrom) {
    const meta = readCheckpointMeta(job.resumeFrom);
    await session.loadState(path.join(job.resumeFrom, 'state.bin'));
    position = meta.position;
    lastEvalLoss = meta.evalLoss;
  }
  await send({
    type: 'started',
    backend: job.backend,
    device: job.backend === 'cpu' ? 'CPU' : 'GPU 0',
    threads: session.info().threads,
    fromStep: position.step,
  });

  const stream = new BatchStream(trainFile, h.microBatch, h.seed);
  const evalHistory: EvalPoint[] = [];
  const warned = new Set<string>();
  const started = performance.now();
  const startStep = position.step;
  let lastCheckpointStep = position.step;
  for (let step = position.step; step < job.totalSteps; ) {
    const stepStart = performance.now();
    for (let a = 0; a < h.gradAccum; a++) {
      await session.step(stream.batch(position.microBatches), {
        neftuneAlpha: h.neftuneAlpha,
        loraDropout: true,
      });
      position.microBatches++;
    }
    const lr = learningRate(h, step, job.totalSteps);
    const result = await session.optimizerStep({
      lr,
      weightDecay: h.weightDecay,
      beta1: h.beta1,
      beta2: h.beta2,
      eps: h.eps,
      maxGradNorm: h.maxGradNorm,
    });
    step++;
    if (fault.slowMs) await new Promise((r) => setTimeout(r, fault.slowMs));
    const loss = fault.nanAtStep === step ? Number.NaN : result.loss;
    if (!Number.isFinite(loss) || !Number.isFinite(result.gradNorm)) {
      throw new TrainerFailure(
        'loss-not-finite',
        `Training diverged at step ${step}: the loss became ${loss} (gradient norm ${result.gradNorm}). The last good checkpoint ${lastCheckpointStep > 0 ? `(step ${lastCheckpointStep}) ` : ''}is kept.`,
        `Lower the learning rate (now ${h.lr}), e.g. --set lr=${h.lr / 10}, or set maxGradNorm=1, and start again.`,
      );
    }
    position = {
      step,
      microBatches: position.microBatches,
      epoch: Math.floor(position.microBatches / stream.perEpoch),
    };
    const elapsed = (performance.now() - started) / 1000;
    const stepSeconds = (performance.now() - stepStart) / 1000;
    await send({
      type: 'step',
      step,
      totalSteps: job.totalSteps,
      loss,
      lr,
      gradNorm: result.gradNorm,
      trainedTokens: result.trainedTokens,
      tokensPerSecond: stepSeconds > 0 ? result.trainedTokens / stepSeconds : 0,
      etaSeconds: (elapsed / (step - startStep)) * (job.totalSteps - step),
      memoryBytes: session.memory().hostBytes + session.memory().deviceBytes,
      epoch: position.microBatches / stream.perEpoch,
    });
    const last = step === job.totalSteps;
    if (step % h.evalEvery === 0 || last) {
      lastEvalLoss = evalFile ? await evalLoss(session, evalFile, h.microBatch) : null;
      let stopped = 0;
      for (const prompt of job.samplePrompts) {
        const out = Array.from(
          await session.generate(Int32Array.from(prompt.ids), {
            maxNewTokens: h.sampleMaxNewTokens,
            temperature: 0,
            stopTokens: job.stopTokens,
            useAdapter: true,
          }),
        );
        const ended = out.length > 0 && job.stopTokens.includes(out.at(-1)!);
        if (ended) stopped++;
        const body = ended ? out.slice(0, -1) : out;
        const output = tokenizer.tokenizer.decode(body, { skip_special_tokens: false });
        await send({ type: 'sample', step, prompt: prompt.text, output, stopped: ended });
      }
      const stopRate = job.samplePrompts.length ? stopped / job.samplePrompts.length : null;
      await send({ type: 'eval', step, loss: lastEvalLoss, stopRate });
      if (lastEvalLoss !== null) {
        evalHistory.push({ step, loss: lastEvalLoss });
        const rising = warned.has('eval-loss-rising') ? undefined : evalLossRisingWarning(evalHistory);
        if (rising) {
          warned.add(rising.code);
          await send(rising);
        }
      }
    }
    if (step % h.checkpointEvery === 0 || last || pauseRequested) {
      const meta: CheckpointMeta = {
        step,
        evalLoss: lastEvalLoss,
        position,
        modelHash: job.modelHash,
        savedAt: Date.now(),
      };
      const saved = await writeCheckpoint(session, job, meta, fault);
      if (!saved) {
        await send({
          type: 'paused',
          step: lastCheckpointStep,
          reason: 'disk-full',
          message: `The disk is full: the checkpoint at step ${step} could not be written (nothing half-written was left). The run is paused at its last checkpoint (step ${lastCheckpointStep}).`,
        });
        session.dispose();
        return;
      }
      lastCheckpointStep = step;
      await send({
        type: 'checkpoint',
        step,
        path: saved.path,
        sizeBytes: saved.sizeBytes,
        evalLoss: lastEvalLoss,
      });
    }
    if (cancelRequested) {
      await send({ type: 'cancelled', step });
      session.dispose();
      return;
    }
    if (pauseRequested && !last) {
      await send({ type: 'paused', step, reason: 'requested' });
      session.dispose();
      return;
    }
  }
  session.dispose();
  await send({ type: 'completed', step: job.totalSteps });
}

async function runJob(job: TrainerJob): Promise<void> {
  try {
    await train(job);
  } catch (err) {
    const e = err as { code?: unknown; message?: string; hint?: string };
    await send({
      type: 'failed',
      code: err instanceof TrainerFailure ? err.code : typeof e.code === 'string' ? e.code : 'trainer-error',
      message: e.message ?? String(err),
      ...(e.hint ? { hint: e.hint } : {}),
    });
  }
  await parent.flush();
  process.exit(0);
}

parent.onMessage((message) => {
  if (message.type === 'start') void runJob(message.job);
  else if (message.type === 'pause') pauseRequested = true;
  else if (message.type === 'cancel') cancelRequested = true;
});
// The parent is gone (app closed or killed): stop at once; the last checkpoint is what resumes.
parent.onParentGone(() => process.exit(0));
// Ctrl+C in a terminal reaches the whole process group: the parent turns it into a pause request,
// so the trainer itself must not die of it.
process.on('SIGINT', () => {});
