// A run's hyperparameters: three presets (the reference recipe, quick, thorough), `--set key=value`
// overrides checked against one zod schema, the plan they give for a dataset (optimizer steps,
// epochs), the learning-rate schedule, and the sanity warnings shown before a run starts.
// The reference recipe is the TRL script of shared/reference/: it trains a fixed 6000 optimizer
// steps; quick and thorough count epochs instead, so they scale with the dataset.
import { z } from 'zod';

export const PRESET_NAMES = ['reference', 'quick', 'thorough'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const LORA_TARGETS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

const positiveInt = z.number().int().min(1);

export const hyperparametersSchema = z
  .object({
    quant: z.enum(['nf4', 'none']),
    loraR: positiveInt.max(1024),
    loraAlpha: z.number().positive(),
    loraDropout: z.number().min(0).max(0.9),
    loraTargets: z.array(z.enum(LORA_TARGETS)).min(1),
    lr: z.number().positive().max(1),
    schedule: z.enum(['cosine', 'linear', 'constant']),
    warmupSteps: z.number().int().min(0),
    microBatch: positiveInt.max(1024),
    gradAccum: positiveInt.max(4096),
    /** Passes over the training examples; null when maxSteps decides. */
    epochs: z.number().positive().max(1000).nullable(),
    /** Optimizer steps; null when epochs decide. When both are set, maxSteps wins (as in TRL). */
    maxSteps: positiveInt.nullable(),
    gradientCheckpointing: z.boolean(),
    weightDecay: z.number().min(0).max(1),
    beta1: z.number().min(0).max(0.9999),
    beta2: z.number().min(0).max(0.99999),
    eps: z.number().positive().max(1e-3),
    maxGradNorm: z.number().min(0),
    neftuneAlpha: z.number().min(0).max(100),
    maxLen: z.number().int().min(16).max(131072),
    evalEvery: positiveInt,
    checkpointEvery: positiveInt,
    keepCheckpoints: positiveInt.max(100),
    samples: z.number().int().min(0).max(32),
    sampleMaxNewTokens: positiveInt.max(4096),
    seed: z.number().int().min(0).max(0xffffffff),
    /** CPU threads; 0 = one per core. Fixed threads make CPU runs reproducible. */
    threads: z.number().int().min(0).max(1024),
  })
  .strict();

export type Hyperparameters = z.infer<typeof hyperparametersSchema>;

export interface Preset {
  name: PresetName;
  title: string;
  /** What it does, for someone who has never heard of a learning rate. */
  description: string;
  /** The hyperparameters for a dataset of `trainExamples` examples. */
  build(trainExamples: number): Hyperparameters;
}

const COMMON = {
  quant: 'nf4',
  loraTargets: [...LORA_TARGETS],
  schedule: 'cosine',
  microBatch: 1,
  gradAccum: 4,
  gradientCheckpointing: true,
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  maxGradNorm: 0.3,
  keepCheckpoints: 3,
  samples: 3,
  sampleMaxNewTokens: 64,
  seed: 42,
  threads: 0,
} as const satisfies Partial<Hyperparameters>;

/** Optimizer steps per epoch for a dataset size and batch settings (at least one). */
export function stepsPerEpoch(trainExamples: number, microBatch: number, gradAccum: number): number {
  return Math.max(1, Math.ceil(Math.ceil(trainExamples / microBatch) / gradAccum));
}

/** Eval/checkpoint about `times` times over a run of `total` steps. */
const every = (total: number, times: number) => Math.max(1, Math.round(total / times));

export const PRESETS: Record<PresetName, Preset> = {
  reference: {
    name: 'reference',
    title: 'Reference recipe',
    description:
      'The recipe the project started from: 6000 small training steps of 4 examples each, learning ' +
      'slowly (5e-5) with a gentle start (100 warm-up steps) and a gentle finish, checking progress ' +
      'and saving every 100 steps. Made for thousands of examples and a GPU; long on small datasets.',
    build: () => ({
      ...COMMON,
      loraTargets: [...LORA_TARGETS],
      loraR: 16,
      loraAlpha: 16,
      loraDropout: 0.05,
      lr: 5e-5,
      warmupSteps: 100,
      epochs: null,
      maxSteps: 6000,
      maxGradNorm: 1,
      neftuneAlpha: 5,
      maxLen: 4096,
      evalEvery: 100,
      checkpointEvery: 100,
    }),
  },
  quick: {
    name: 'quick',
    title: 'Quick',
    description:
      'A fast first try: a few passes over your examples (more passes for small datasets), learning ' +
      'fast, checking progress about five times. Good to see whether your data teaches what you want.',
    build: (trainExamples) => {
      const epochs = Math.min(3, Math.max(1, Math.ceil(64 / Math.max(1, trainExamples))));
      const total = epochs * stepsPerEpoch(trainExamples, 1, 4);
      return {
        ...COMMON,
        loraTargets: [...LORA_TARGETS],
        loraR: 8,
        loraAlpha: 16,
        loraDropout: 0.05,
        lr: 2e-4,
        warmupSteps: Math.floor(total * 0.05),
        epochs,
        maxSteps: null,
        neftuneAlpha: 5,
        maxLen: 2048,
        evalEvery: every(total, 5),
        checkpointEvery: every(total, 5),
      };
    },
  },
  thorough: {
    name: 'thorough',
    title: 'Thorough',
    description:
      'A careful run: three passes over your examples (more for small datasets) with a larger ' +
      'adapter, learning more slowly, checking progress about ten times. Takes longer; usually ' +
      'follows your style more closely.',
    build: (trainExamples) => {
      const epochs = Math.min(10, Math.max(3, Math.ceil(200 / Math.max(1, trainExamples))));
      const total = epochs * stepsPerEpoch(trainExamples, 1, 4);
      return {
        ...COMMON,
        loraTargets: [...LORA_TARGETS],
        loraR: 16,
        loraAlpha: 32,
        loraDropout: 0.05,
        lr: 1e-4,
        warmupSteps: Math.floor(total * 0.05),
        epochs,
        maxSteps: null,
        neftuneAlpha: 5,
        maxLen: 4096,
        evalEvery: every(total, 10),
        checkpointEvery: every(total, 10),
      };
    },
  },
};

export class RunConfigError extends Error {
  override readonly name = 'RunConfigError';
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** `key=value` → a typed value: numbers, booleans, null, comma lists for loraTargets, else text. */
function parseValue(key: string, raw: string): unknown {
  const text = raw.trim();
  if (key === 'loraTargets') return text.split(',').map((s) => s.trim());
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'null' || ((key === 'epochs' || key === 'maxSteps') && text === 'none')) return null;
  if (text !== '' && Number.isFinite(Number(text))) return Number(text);
  return text;
}

/** Applies `key=value` overrides; an unknown key or a bad value says which and what is allowed. */
export function applyOverrides(base: Hyperparameters, overrides: readonly string[]): Hyperparameters {
  const merged: Record<string, unknown> = { ...base };
  for (const item of overrides) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      throw new RunConfigError(
        'bad-setting',
        `"${item}" is not a setting: write key=value, e.g. lr=1e-4.`,
        `Settings: ${Object.keys(hyperparametersSchema.shape).join(', ')}.`,
      );
    }
    const key = item.slice(0, eq).trim();
    if (!(key in hyperparametersSchema.shape)) {
      throw new RunConfigError(
        'bad-setting',
        `There is no setting "${key}".`,
        `Settings: ${Object.keys(hyperparametersSchema.shape).join(', ')}.`,
      );
    }
    merged[key] = parseValue(key, item.slice(eq + 1));
  }
  return validateHyperparameters(merged);
}

export function validateHyperparameters(value: unknown): Hyperparameters {
  const parsed = hyperparametersSchema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  throw new RunConfigError(
    'bad-setting',
    `Setting ${issue.path.join('.') || '(all)'}: ${issue.message}.`,
    'Change that --set value; `tunesmith train --help` lists the settings.',
  );
}

export interface TrainingPlan {
  trainExamples: number;
  evalExamples: number;
  stepsPerEpoch: number;
  totalSteps: number;
  /** Passes over the data the run makes (fractional when maxSteps cuts it). */
  epochs: number;
  /** Examples per optimizer step. */
  effectiveBatch: number;
}

export function planTraining(h: Hyperparameters, trainExamples: number, evalExamples: number): TrainingPlan {
  const perEpoch = stepsPerEpoch(trainExamples, h.microBatch, h.gradAccum);
  const totalSteps = h.maxSteps ?? Math.max(1, Math.ceil((h.epochs ?? 1) * perEpoch));
  return {
    trainExamples,
    evalExamples,
    stepsPerEpoch: perEpoch,
    totalSteps,
    epochs: totalSteps / perEpoch,
    effectiveBatch: h.microBatch * h.gradAccum,
  };
}

/** Learning rate for optimizer step `step` (0-based) of `total`: linear warm-up, then the schedule. */
export function learningRate(
  h: Pick<Hyperparameters, 'lr' | 'schedule' | 'warmupSteps'>,
  step: number,
  total: number,
): number {
  if (step < h.warmupSteps) return (h.lr * (step + 1)) / (h.warmupSteps + 1);
  const decaySteps = Math.max(1, total - h.warmupSteps);
  const progress = Math.min(1, (step - h.warmupSteps) / decaySteps);
  switch (h.schedule) {
    case 'constant':
      return h.lr;
    case 'linear':
      return h.lr * (1 - progress);
    case 'cosine':
      return h.lr * 0.5 * (1 + Math.cos(Math.PI * progress));
  }
}

export interface RunWarning {
  code: string;
  message: string;
}

/** Things that are allowed but probably not meant; shown before the run starts and stored with it. */
export function sanityWarnings(
  h: Hyperparameters,
  plan: TrainingPlan,
  exampleLengths: { longest: number; overMaxLen: number; total: number },
): RunWarning[] {
  const warnings: RunWarning[] = [];
  if (h.warmupSteps >= plan.totalSteps) {
    warnings.push({
      code: 'warmup-too-long',
      message: `Warm-up (${h.warmupSteps} steps) lasts the whole run (${plan.totalSteps} steps): the learning rate never reaches ${h.lr}. Set warmupSteps lower.`,
    });
  }
  if (h.evalEvery > plan.totalSteps) {
    warnings.push({
      code: 'eval-never',
      message: `Progress is checked every ${h.evalEvery} steps but the run has ${plan.totalSteps}: only the final check will happen. Set evalEvery lower.`,
    });
  }
  if (h.lr < 1e-6 || h.lr > 1e-3) {
    warnings.push({
      code: 'lr-unusual',
      message: `A learning rate of ${h.lr} is outside the usual LoRA range (1e-6 to 1e-3): ${h.lr > 1e-3 ? 'training may diverge' : 'the model may barely change'}.`,
    });
  }
  if (plan.trainExamples < plan.effectiveBatch) {
    warnings.push({
      code: 'dataset-smaller-than-step',
      message: `The dataset has ${plan.trainExamples} training examples, fewer than one optimizer step uses (${plan.effectiveBatch}): each step repeats nothing but averages fewer examples. Add examples or lower gradAccum.`,
    });
  }
  if (exampleLengths.total > 0 && exampleLengths.overMaxLen * 2 > exampleLengths.total) {
    warnings.push({
      code: 'max-length-short',
      message: `${exampleLengths.overMaxLen} of ${exampleLengths.total} examples are longer than the max length ${h.maxLen} tokens (longest ${exampleLengths.longest}). Raise maxLen.`,
    });
  }
  if (h.maxSteps !== null && plan.epochs > 50) {
    warnings.push({
      code: 'many-epochs',
      message: `${plan.totalSteps} steps are ${Math.round(plan.epochs)} passes over ${plan.trainExamples} examples: the model will likely memorize them. Use the quick or thorough preset, or set maxSteps lower.`,
    });
  }
  return warnings;
}
