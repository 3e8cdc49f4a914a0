// Every training setting, once for the whole app: its name as `--set key=value` takes it, a plain
// label and one-line explanation (the Advanced panel, a run's settings, the comparison of runs), and
// the values main accepts (main/core/runs/config.ts,
// hyperparametersSchema — test/component/hyper-settings.test.ts keeps the two in step). Values are
// edited as text and become `key=value` overrides on top of the chosen preset.
export type SettingKind =
  | { type: 'int'; min: number; max: number; nullable?: boolean }
  | { type: 'number'; min: number; max: number; minExclusive?: boolean; nullable?: boolean }
  | { type: 'choice'; options: readonly { value: string; label: string }[] }
  | { type: 'bool' }
  | { type: 'targets' };

export type SettingGroup = 'length' | 'learning' | 'adapter' | 'memory' | 'checks' | 'optimizer' | 'machine';

export interface SettingInfo {
  key: string;
  label: string;
  help: string;
  group: SettingGroup;
  kind: SettingKind;
}

export const GROUP_TITLES: Record<SettingGroup, string> = {
  length: 'How long it trains',
  learning: 'How fast it learns',
  adapter: 'The adapter (what training adds to the model)',
  memory: 'Memory',
  checks: 'Progress checks and saves',
  optimizer: 'Fine details',
  machine: 'This computer',
};

export const LORA_TARGETS = [
  'q_proj',
  'k_proj',
  'v_proj',
  'o_proj',
  'gate_proj',
  'up_proj',
  'down_proj',
] as const;

const int = (min: number, max: number, nullable = false): SettingKind => ({
  type: 'int',
  min,
  max,
  nullable,
});

export const SETTINGS: readonly SettingInfo[] = [
  {
    key: 'epochs',
    group: 'length',
    label: 'Passes over your examples (epochs)',
    kind: { type: 'number', min: 0, max: 1000, minExclusive: true, nullable: true },
    help: 'How many times training reads all your examples. Leave empty to use “Fixed number of steps” instead.',
  },
  {
    key: 'maxSteps',
    group: 'length',
    label: 'Fixed number of steps',
    kind: int(1, Number.MAX_SAFE_INTEGER, true),
    help: 'Stop after this many learning steps. When set, it wins over passes; empty means passes decide.',
  },
  {
    key: 'microBatch',
    group: 'length',
    label: 'Examples at once (micro-batch)',
    kind: int(1, 1024),
    help: 'Examples worked on together. More is faster but needs more memory.',
  },
  {
    key: 'gradAccum',
    group: 'length',
    label: 'Batches per step (gradient accumulation)',
    kind: int(1, 4096),
    help: 'Batches added up before each learning step: each step learns from examples at once × this.',
  },
  {
    key: 'lr',
    group: 'learning',
    label: 'Learning speed (learning rate)',
    kind: { type: 'number', min: 0, max: 1, minExclusive: true },
    help: 'How big each learning step is. Too high and training goes wild; too low and little changes. Usual: 1e-5 to 3e-4.',
  },
  {
    key: 'schedule',
    group: 'learning',
    label: 'Learning speed over time',
    kind: {
      type: 'choice',
      options: [
        { value: 'cosine', label: 'Slow down smoothly (cosine)' },
        { value: 'linear', label: 'Slow down evenly (linear)' },
        { value: 'constant', label: 'Stay the same (constant)' },
      ],
    },
    help: 'Whether the learning rate eases off towards the end, which usually gives a steadier result.',
  },
  {
    key: 'warmupSteps',
    group: 'learning',
    label: 'Gentle start (warm-up steps)',
    kind: int(0, Number.MAX_SAFE_INTEGER),
    help: 'Steps at the start where the learning rate grows gently from zero, so early steps do no harm.',
  },
  {
    key: 'neftuneAlpha',
    group: 'learning',
    label: 'Training noise (NEFTune)',
    kind: { type: 'number', min: 0, max: 100 },
    help: 'A little noise added to the input while training often makes replies better. 0 turns it off; 5 is usual.',
  },
  {
    key: 'loraR',
    group: 'adapter',
    label: 'Adapter size (LoRA rank)',
    kind: int(1, 1024),
    help: 'How much the adapter can learn. Bigger learns more but is slower and can memorize. Usual: 8 to 64.',
  },
  {
    key: 'loraAlpha',
    group: 'adapter',
    label: 'Adapter strength (LoRA alpha)',
    kind: { type: 'number', min: 0, max: Number.MAX_VALUE, minExclusive: true },
    help: 'How strongly the adapter’s changes count. Usually the same as the size, or twice it.',
  },
  {
    key: 'loraDropout',
    group: 'adapter',
    label: 'Adapter dropout',
    kind: { type: 'number', min: 0, max: 0.9 },
    help: 'Share of the adapter switched off at random while training, so it does not memorize. Usual: 0.05.',
  },
  {
    key: 'loraTargets',
    group: 'adapter',
    label: 'Parts of the model that get an adapter',
    kind: { type: 'targets' },
    help: 'Attention (q, k, v, o) and feed-forward (gate, up, down) layers. All of them learns the most.',
  },
  {
    key: 'maxLen',
    group: 'memory',
    label: 'Longest example (tokens)',
    kind: int(16, 131072),
    help: 'Examples longer than this are left out. A token is about ¾ of a word. Longer needs more memory.',
  },
  {
    key: 'gradientCheckpointing',
    group: 'memory',
    label: 'Save memory (gradient checkpointing)',
    kind: { type: 'bool' },
    help: 'Uses much less memory by redoing some work; about a third slower. Keep it on unless memory is plenty.',
  },
  {
    key: 'quant',
    group: 'memory',
    label: 'Shrink the base model',
    kind: {
      type: 'choice',
      options: [
        { value: 'nf4', label: 'Yes, to 4 bits (nf4, QLoRA)' },
        { value: 'none', label: 'No, full precision' },
      ],
    },
    help: '4 bits needs about a quarter of the memory with little loss in quality.',
  },
  {
    key: 'evalEvery',
    group: 'checks',
    label: 'Check progress every … steps',
    kind: int(1, Number.MAX_SAFE_INTEGER),
    help: 'How often the model is tested on examples it does not train on (the eval loss).',
  },
  {
    key: 'checkpointEvery',
    group: 'checks',
    label: 'Save a checkpoint every … steps',
    kind: int(1, Number.MAX_SAFE_INTEGER),
    help: 'How often the adapter is saved, so you can resume, try or export an earlier one.',
  },
  {
    key: 'keepCheckpoints',
    group: 'checks',
    label: 'Checkpoints to keep',
    kind: int(1, 100),
    help: 'How many recent saves stay on disk. The best one is always kept.',
  },
  {
    key: 'samples',
    group: 'checks',
    label: 'Sample replies per check',
    kind: int(0, 32),
    help: 'How many example replies the model writes at each check, so you can read how it answers.',
  },
  {
    key: 'sampleMaxNewTokens',
    group: 'checks',
    label: 'Longest sample reply (tokens)',
    kind: int(1, 4096),
    help: 'Sample replies stop here if the model does not end them itself.',
  },
  {
    key: 'maxGradNorm',
    group: 'optimizer',
    label: 'Step size cap (max grad norm)',
    kind: { type: 'number', min: 0, max: Number.MAX_VALUE },
    help: 'Limits how far one odd example can push the model in a single step. 0 means no cap.',
  },
  {
    key: 'weightDecay',
    group: 'optimizer',
    label: 'Weight decay',
    kind: { type: 'number', min: 0, max: 1 },
    help: 'Gently pulls the adapter towards zero to avoid memorizing. 0 is usual for adapters.',
  },
  {
    key: 'beta1',
    group: 'optimizer',
    label: 'Momentum (Adam β1)',
    kind: { type: 'number', min: 0, max: 0.9999 },
    help: 'How much earlier steps steer the next one. 0.9 is standard.',
  },
  {
    key: 'beta2',
    group: 'optimizer',
    label: 'Step smoothing (Adam β2)',
    kind: { type: 'number', min: 0, max: 0.99999 },
    help: 'How slowly the optimizer adapts its step sizes. 0.999 is standard.',
  },
  {
    key: 'eps',
    group: 'optimizer',
    label: 'Stability constant (Adam ε)',
    kind: { type: 'number', min: 0, max: 1e-3, minExclusive: true },
    help: 'A tiny number that keeps the optimizer’s arithmetic stable. 1e-8 is standard.',
  },
  {
    key: 'seed',
    group: 'machine',
    label: 'Random seed',
    kind: int(0, 0xffffffff),
    help: 'The same seed with the same settings and data gives the same run.',
  },
  {
    key: 'threads',
    group: 'machine',
    label: 'CPU threads',
    kind: int(0, 1024),
    help: 'For CPU training: 0 uses one per core. A fixed number makes CPU runs exactly repeatable.',
  },
];

export const SETTINGS_BY_KEY: ReadonlyMap<string, SettingInfo> = new Map(SETTINGS.map((s) => [s.key, s]));

export type Checked = { ok: true } | { ok: false; error: string };

function range(min: number, max: number, minExclusive = false): string {
  if (max >= Number.MAX_SAFE_INTEGER) return minExclusive ? `above ${min}` : `of ${min} or more`;
  return minExclusive ? `above ${min}, up to ${max}` : `from ${min} to ${max}`;
}

/** Whether `raw` (as typed) is a value main accepts; the error says what to type instead. */
export function checkSetting(info: SettingInfo, raw: string): Checked {
  const text = raw.trim();
  const kind = info.kind;
  switch (kind.type) {
    case 'int':
    case 'number': {
      if (text === '' || text === 'none') {
        return kind.nullable ? { ok: true } : { ok: false, error: 'Enter a value.' };
      }
      const value = Number(text);
      const wanted = kind.type === 'int' ? 'a whole number' : 'a number';
      const bounds = range(kind.min, kind.max, kind.type === 'number' && kind.minExclusive);
      if (!Number.isFinite(value) || (kind.type === 'int' && !Number.isInteger(value))) {
        return {
          ok: false,
          error: `Enter ${wanted} ${bounds}${kind.type === 'number' ? ' (like 0.5 or 2e-4)' : ''}.`,
        };
      }
      const tooLow = kind.type === 'number' && kind.minExclusive ? value <= kind.min : value < kind.min;
      if (tooLow || value > kind.max) return { ok: false, error: `Enter ${wanted} ${bounds}.` };
      return { ok: true };
    }
    case 'choice':
      return kind.options.some((o) => o.value === text)
        ? { ok: true }
        : { ok: false, error: `Choose one of: ${kind.options.map((o) => o.value).join(', ')}.` };
    case 'bool':
      return text === 'true' || text === 'false' ? { ok: true } : { ok: false, error: 'Choose on or off.' };
    case 'targets': {
      const parts = text
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (parts.length === 0) return { ok: false, error: 'Pick at least one part.' };
      const unknown = parts.find((p) => !(LORA_TARGETS as readonly string[]).includes(p));
      return unknown ? { ok: false, error: `There is no part called “${unknown}”.` } : { ok: true };
    }
  }
}

/** A setting's value as a run's settings list shows it: choices in words, on/off as yes/no. */
export function settingWords(key: string, value: unknown): string {
  const kind = SETTINGS_BY_KEY.get(key)?.kind;
  if (kind?.type === 'choice') {
    const option = kind.options.find((o) => o.value === value);
    if (option) return option.label;
  }
  if (value === null || value === undefined) return '—';
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  if (Array.isArray(value)) return value.length === 0 ? 'none' : value.map(String).join(', ');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** A setting's value (from a run definition's `hyper`) as the text its field shows. */
export function settingText(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.join(',');
  return String(value);
}

/** `key=value` overrides (the wizard's saved form) → the text of each edited field. */
export function editsFromOverrides(overrides: readonly string[]): Record<string, string> {
  const edits: Record<string, string> = {};
  for (const item of overrides) {
    const eq = item.indexOf('=');
    if (eq > 0) edits[item.slice(0, eq).trim()] = item.slice(eq + 1).trim();
  }
  return edits;
}

/** Edited fields → `key=value` overrides; an emptied optional number is written `none`. */
export function overridesFromEdits(edits: Readonly<Record<string, string>>): string[] {
  return Object.entries(edits)
    .filter(([key]) => SETTINGS_BY_KEY.has(key))
    .map(([key, raw]) => `${key}=${raw.trim() === '' ? 'none' : raw.trim()}`);
}
