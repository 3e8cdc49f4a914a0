// A run's configuration as rows a person can read: a plain name, the value, what it means, and the
// technical name for those who know it. RunConfig lists them; ConfigDiff lines them up across runs.
import type { RunDefinitionInfo } from '../../../main/api/contract';
import { baseName, formatBytes } from './format';

export interface SettingRow {
  /** Stable key, e.g. `hyper.lr` or `plan.totalSteps`; the same setting has the same key in every run. */
  key: string;
  /** The technical name (as `tunesmith train --set` takes it, for settings). */
  technical: string;
  label: string;
  value: string;
  help: string;
  group: 'what' | 'plan' | 'settings';
}

/** Plain names and meanings of the training settings (main/core/runs/config.ts). */
const SETTINGS: Record<string, { label: string; help: string }> = {
  quant: {
    label: 'Base model compression',
    help: 'nf4 keeps the base model in 4 bits to save memory (QLoRA); none keeps full precision.',
  },
  loraR: {
    label: 'Adapter size (LoRA rank)',
    help: 'How much the adapter can learn. Bigger learns more but needs more memory and can memorise.',
  },
  loraAlpha: { label: 'Adapter strength (LoRA alpha)', help: 'How strongly the adapter’s changes count.' },
  loraDropout: {
    label: 'Adapter dropout',
    help: 'Share of the adapter switched off at random while training, so it does not memorise.',
  },
  loraTargets: {
    label: 'Parts of the model adapted',
    help: 'Which layers inside the model the adapter changes.',
  },
  lr: {
    label: 'Learning speed (learning rate)',
    help: 'How big each correction is. Too high and training goes wild; too low and it learns little.',
  },
  schedule: {
    label: 'Learning speed over time',
    help: 'cosine and linear slow the learning down towards the end; constant keeps it the same.',
  },
  warmupSteps: {
    label: 'Gentle start (warm-up steps)',
    help: 'Steps at the start while the learning speed ramps up.',
  },
  microBatch: {
    label: 'Examples at once (micro-batch)',
    help: 'Examples processed together. More needs more memory.',
  },
  gradAccum: {
    label: 'Batches per step (gradient accumulation)',
    help: 'Batches added up before each correction: examples per step = examples at once × this.',
  },
  epochs: {
    label: 'Passes over your examples (epochs)',
    help: 'Empty when a fixed number of steps decides instead.',
  },
  maxSteps: {
    label: 'Fixed number of steps',
    help: 'When set, decides how long training runs instead of passes.',
  },
  gradientCheckpointing: {
    label: 'Save memory by recomputing',
    help: 'Uses less memory for a little more time (gradient checkpointing).',
  },
  weightDecay: {
    label: 'Weight decay',
    help: 'Nudges the adapter towards small values each step, to keep it simple.',
  },
  beta1: {
    label: 'Optimizer momentum (Adam β1)',
    help: 'How much each correction follows the previous ones.',
  },
  beta2: {
    label: 'Optimizer averaging (Adam β2)',
    help: 'How long the optimizer remembers how big corrections were.',
  },
  eps: { label: 'Optimizer safety margin (Adam ε)', help: 'A tiny number that avoids dividing by zero.' },
  maxGradNorm: {
    label: 'Largest correction (max grad norm)',
    help: 'Caps one correction so a single odd example cannot derail training.',
  },
  neftuneAlpha: {
    label: 'Training noise (NEFTune α)',
    help: 'A little noise while training, which often makes replies more natural. 0 turns it off.',
  },
  maxLen: { label: 'Longest example (tokens)', help: 'Examples longer than this are left out.' },
  evalEvery: {
    label: 'Check progress every (steps)',
    help: 'How often the model is tested on examples it does not train on, and writes sample replies.',
  },
  checkpointEvery: {
    label: 'Save a checkpoint every (steps)',
    help: 'How often a version you can export is saved.',
  },
  keepCheckpoints: {
    label: 'Checkpoints kept',
    help: 'Older ones are deleted; the best one is always kept.',
  },
  samples: { label: 'Sample replies per check', help: 'Fixed questions the model answers at each check.' },
  sampleMaxNewTokens: {
    label: 'Sample reply length limit (tokens)',
    help: 'Longer sample replies are cut off.',
  },
  seed: { label: 'Random seed', help: 'The same seed, data and settings give the same run.' },
  threads: { label: 'CPU threads', help: '0 uses one per core.' },
};

const SPLIT_SOURCE: Record<RunDefinitionInfo['split']['source'], string> = {
  'eval-file': 'checking examples from a separate file',
  split: 'checking examples set aside from your data',
  none: 'no checking examples',
};

export function formatSettingValue(value: unknown): string {
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map(String).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function whatRows(d: RunDefinitionInfo): SettingRow[] {
  const row = (key: string, label: string, value: string, help = ''): SettingRow => ({
    key,
    technical: key,
    label,
    value,
    help,
    group: 'what',
  });
  return [
    row('modelDir', 'Base model', d.modelDir, `The model folder “${baseName(d.modelDir)}”.`),
    row(
      'modelHash',
      'Base model fingerprint',
      d.modelHash.slice(0, 12),
      'Changes when the model’s files change.',
    ),
    row('datasetVersionId', 'Dataset version', `#${d.datasetVersionId}`),
    row(
      'split',
      'Examples',
      `${d.split.train} to learn from, ${d.split.eval} to check with`,
      SPLIT_SOURCE[d.split.source],
    ),
    row('template', 'Chat format (template)', d.template, 'How conversations are laid out for the model.'),
    row('preset', 'Recipe', d.preset),
    row('overrides', 'Settings changed from the recipe', formatSettingValue(d.overrides)),
    row('backend', 'Trained on', d.backend === 'cuda' ? 'GPU (CUDA)' : 'CPU'),
    row(
      'fit',
      'Memory',
      `${formatBytes(d.fit.availableBytes)} free of ${formatBytes(d.fit.totalBytes)} when it was set up`,
      d.fit.device,
    ),
  ];
}

function planRows(d: RunDefinitionInfo): SettingRow[] {
  const row = (key: keyof RunDefinitionInfo['plan'], label: string, help: string): SettingRow => ({
    key: `plan.${key}`,
    technical: key,
    label,
    value: formatSettingValue(d.plan[key]),
    help,
    group: 'plan',
  });
  return [
    row('totalSteps', 'Training steps', 'Corrections the model gets in total.'),
    row('epochs', 'Passes over your examples', ''),
    row('stepsPerEpoch', 'Steps per pass', ''),
    row('effectiveBatch', 'Examples per step', ''),
    row('trainExamples', 'Examples to learn from', ''),
    row('evalExamples', 'Examples to check with', ''),
  ];
}

function settingRows(d: RunDefinitionInfo): SettingRow[] {
  return Object.entries(d.hyper).map(([key, value]) => ({
    key: `hyper.${key}`,
    technical: key,
    label: SETTINGS[key]?.label ?? key,
    value: formatSettingValue(value),
    help: SETTINGS[key]?.help ?? '',
    group: 'settings' as const,
  }));
}

/** Every row of a run's configuration: what was trained, the plan, then each setting. */
export function definitionRows(definition: RunDefinitionInfo): SettingRow[] {
  return [...whatRows(definition), ...planRows(definition), ...settingRows(definition)];
}

export interface DiffRow {
  key: string;
  technical: string;
  label: string;
  help: string;
  /** One value per run, in the runs' order; '—' where a run lacks the setting. */
  values: string[];
  differs: boolean;
}

/** Free memory at set-up time differs between any two runs; it is no setting. */
const NOT_COMPARED = new Set(['fit']);

/** Settings lined up across runs, in the first run's order (then any only later runs have). */
export function diffRows(definitions: RunDefinitionInfo[]): DiffRow[] {
  const perRun = definitions.map(
    (d) =>
      new Map(
        definitionRows(d)
          .filter((r) => !NOT_COMPARED.has(r.key))
          .map((r) => [r.key, r]),
      ),
  );
  const order: SettingRow[] = [];
  const seen = new Set<string>();
  for (const rows of perRun) {
    for (const row of rows.values()) {
      if (!seen.has(row.key)) {
        seen.add(row.key);
        order.push(row);
      }
    }
  }
  return order.map((row) => {
    const values = perRun.map((rows) => rows.get(row.key)?.value ?? '—');
    return {
      key: row.key,
      technical: row.technical,
      label: row.label,
      help: row.help,
      values,
      differs: values.some((v) => v !== values[0]),
    };
  });
}
