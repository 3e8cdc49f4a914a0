// The trainer process: one per run, started by RunService (child_process.fork under Node, Electron's
// utilityProcess in the app; channel.ts hides the difference). It receives its job, loads the engine and the token files,
// and trains: seeded length-grouped micro-batches, gradient accumulation, the LR schedule, and every
// N steps eval loss, sample generations and a checkpoint. It writes only checkpoint files and
// reports everything else to its parent, which owns SQLite. A crash here costs the run, nothing more.
//
// Exact resume: the micro-batch order is a pure function of (seed, epoch, example lengths), so the
// position stored in a checkpoint (optimizer steps taken) says where the stream continues; the
// engine's saveState holds the adapter, the AdamW moments and the RNG. A resume with a smaller
// micro-batch (after running out of memory) re-cuts the rest of the epoch (batch-stream.ts).
//
// On a GPU, before training, a measured memory check (calibrate.ts) picks the micro-batch at the
// longest example; running out of memory during training is reported as code "out-of-memory" and
// RunService restarts from the last checkpoint with a smaller micro-batch.
import {
  appendFileSync,
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
import { exampleLength, readTokenFile, type TokenFile } from '../core/data/token-file.js';
import { loadModelTokenizer } from '../core/data/tokenize.js';
import { loadNative } from '../core/engine/native.js';
import { calibrateMicroBatch, calibrationMessage } from '../core/runs/calibrate.js';
import { learningRate } from '../core/runs/config.js';
import { modelContentHash } from '../core/runs/fit.js';
import { type BatchShape, engineOutOfMemoryMessage, isOutOfMemory } from '../core/runs/oom.js';
import { BatchStream } from './batch-stream.js';
import { connectToParent } from './channel.js';
import type { CheckpointMeta, DataPosition, TrainerJob, TrainerMessage } from './protocol.js';
import { type EvalPoint, evalLossRisingWarning } from './warnings.js';

/** Test hooks (TUNESMITH_TRAINER_FAULT, JSON). */
interface Faults {
  nanAtStep?: number;
  checkpointFailsAtStep?: number;
  slowMs?: number;
  /** Throw the engine's out-of-memory error during this step, while the micro-batch is above `oomFitsMicroBatch`. */
  oomAtStep?: number;
  /** The largest micro-batch that "fits" for oomAtStep (default 0: none does). */
  oomFitsMicroBatch?: number;
  /** Append `{"step":N,"examples":[…]}` per optimizer step to this file (which examples it used). */
  traceFile?: string;
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

  const lengths = Array.from({ length: trainFile.examples }, (_, i) => exampleLength(trainFile, i));
  const shape = await chooseShape(session, job, trainFile, lengths);
  // The stream as the checkpoint left it, continued with this run's micro-batch.
  const stream = new BatchStream(
    lengths,
    position.microBatch ?? job.firstMicroBatch ?? h.microBatch,
    h.seed,
    position.resplit,
  ).continueWith(position.microBatches, shape.microBatch);
  const evalHistory: EvalPoint[] = [];
  const warned = new Set<string>();
  const started = performance.now();
  const startStep = position.step;
  let lastCheckpointStep = position.step;
  for (let step = position.step; step < job.totalSteps; ) {
    const stepStart = performance.now();
    const examples: number[] = [];
    for (let a = 0; a < shape.gradAccum; a++) {
      const indices = stream.batch(position.microBatches);
      if (fault.oomAtStep === step + 1 && shape.microBatch > (fault.oomFitsMicroBatch ?? 0)) {
        throw new Error(engineOutOfMemoryMessage('a training step', 12.3e9, 7.9e9));
      }
      await session.step(packExamples(trainFile, indices), {
        neftuneAlpha: h.neftuneAlpha,
        loraDropout: true,
      });
      examples.push(...indices);
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
    if (fault.traceFile) appendFileSync(fault.traceFile, `${JSON.stringify({ step, examples })}\n`);
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
      epoch: Math.floor(stream.epochAt(position.microBatches)),
      microBatch: stream.microBatch,
      ...(position.microBatches < stream.resplit.startsAt + stream.resplit.batches.length
        ? { resplit: stream.resplit }
        : {}),
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
      epoch: stream.epochAt(position.microBatches),
    });
    const last = step === job.totalSteps;
    if (step % h.evalEvery === 0 || last) {
      lastEvalLoss = evalFile ? await evalLoss(session, evalFile, shape.microBatch) : null;
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

/**
 * The micro-batch to train with. On a GPU (unless the job says not to) a measured check: a few
 * forward/backward steps at the longest example, smaller micro-batches while out of memory; the
 * engine state is saved before and loaded after, so the check leaves no gradients or RNG draws
 * behind. On the CPU the fit check before the start stands in for it.
 */
async function chooseShape(
  session: Session,
  job: TrainerJob,
  file: TokenFile,
  lengths: readonly number[],
): Promise<BatchShape> {
  const planned = { microBatch: job.hyper.microBatch, gradAccum: job.hyper.gradAccum };
  // On the CPU RunService's first 'started' line in the run log says the check was skipped.
  if (job.backend !== 'cuda' || job.calibrate === false || lengths.length === 0) return planned;
  const longest = lengths.indexOf(Math.max(...lengths));
  const saved = path.join(job.runDir, `calibration-${process.pid}.bin`);
  mkdirSync(job.runDir, { recursive: true });
  await session.saveState(saved);
  try {
    const result = await calibrateMicroBatch(planned, async (microBatch) => {
      const batch = packExamples(
        file,
        Array.from({ length: microBatch }, () => longest),
      );
      for (let i = 0; i < 2; i++) await session.step(batch, { neftuneAlpha: 0, loraDropout: false });
    });
    await session.loadState(saved);
    await send({
      type: 'calibration',
      chosen: result.chosen,
      planned,
      message: calibrationMessage(planned, result, lengths[longest]!),
    });
    return result.chosen;
  } finally {
    rmSync(saved, { force: true });
  }
}

async function runJob(job: TrainerJob): Promise<void> {
  try {
    await train(job);
  } catch (err) {
    const e = err as { code?: unknown; message?: string; hint?: string };
    await send({
      type: 'failed',
      code:
        err instanceof TrainerFailure
          ? err.code
          : isOutOfMemory(err)
            ? 'out-of-memory'
            : typeof e.code === 'string'
              ? e.code
              : 'trainer-error',
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
