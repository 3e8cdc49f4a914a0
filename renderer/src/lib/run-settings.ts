// A run's configuration as rows a person can read: a plain name, the value, what it means, and the
// technical name for those who know it. RunConfig lists them; ConfigDiff lines them up across runs.
// The settings' names and meanings are the Advanced panel's (lib/hyper-settings.ts).
import type { RunDefinitionInfo } from '../../../main/api/contract';
import { baseName, formatBytes } from './format';
import { SETTINGS_BY_KEY, settingWords } from './hyper-settings';

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

const SPLIT_SOURCE: Record<RunDefinitionInfo['split']['source'], string> = {
  'eval-file': 'checking examples from a separate file',
  split: 'checking examples set aside from your data',
  none: 'no checking examples',
};

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
    row('overrides', 'Settings changed from the recipe', settingWords('overrides', d.overrides)),
    row('backend', 'Trained on', d.backend === 'cuda' ? 'GPU (CUDA)' : 'CPU'),
    row(
      'fit',
      'Memory',
      `needed about ${formatBytes(d.fit.totalBytes)}; ${formatBytes(d.fit.availableBytes)} was free when it was set up`,
      d.fit.device,
    ),
  ];
}

function planRows(d: RunDefinitionInfo): SettingRow[] {
  const row = (key: keyof RunDefinitionInfo['plan'], label: string, help: string): SettingRow => ({
    key: `plan.${key}`,
    technical: key,
    label,
    value: settingWords(key, d.plan[key]),
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
    label: SETTINGS_BY_KEY.get(key)?.label ?? key,
    value: settingWords(key, value),
    help: SETTINGS_BY_KEY.get(key)?.help ?? '',
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
