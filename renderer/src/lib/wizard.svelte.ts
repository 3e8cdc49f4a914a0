// The wizard's choices, kept in localStorage so the wizard resumes at any step after a reload or a
// restart. Each step reads what the earlier steps chose and writes its own part.
import { getContext, setContext } from 'svelte';

export const WIZARD_STEPS = ['model', 'data', 'settings', 'train', 'try', 'export'] as const;
export type WizardStep = (typeof WIZARD_STEPS)[number];

export const STEP_TITLES: Record<WizardStep, string> = {
  model: 'Model',
  data: 'Data',
  settings: 'Settings',
  train: 'Train',
  try: 'Try it',
  export: 'Export',
};

export type TemplateChoice = 'chatml' | 'model' | 'llama3' | 'mistral' | 'alpaca';
export type PresetChoice = 'reference' | 'quick' | 'thorough';

export interface WizardChoices {
  /** Model step. */
  modelDir: string | null;
  modelName: string | null;
  /** Data step: the dataset version to train on. */
  datasetId: number | null;
  versionId: number | null;
  /** Settings step. */
  template: TemplateChoice | null;
  preset: PresetChoice;
  /** `key=value` settings as `tunesmith train --set` takes them. */
  overrides: string[];
  backend: 'auto' | 'cpu' | 'cuda';
  /** Train step: the run made from these choices. */
  runId: number | null;
  /** Try/Export steps: the checkpoint picked (`best`, `last` or an id). */
  checkpoint: 'best' | 'last' | number;
}

const STORAGE_KEY = 'tunesmith.wizard';

export function emptyChoices(): WizardChoices {
  return {
    modelDir: null,
    modelName: null,
    datasetId: null,
    versionId: null,
    template: null,
    preset: 'quick',
    overrides: [],
    backend: 'auto',
    runId: null,
    checkpoint: 'best',
  };
}

export class WizardState {
  choices = $state<WizardChoices>(emptyChoices());
  readonly #storage: Storage | undefined;

  constructor(storage: Storage | undefined = globalThis.localStorage) {
    this.#storage = storage;
    try {
      const saved = storage?.getItem(STORAGE_KEY);
      if (saved) this.choices = { ...emptyChoices(), ...(JSON.parse(saved) as Partial<WizardChoices>) };
    } catch {
      // A damaged saved state starts the wizard afresh.
    }
  }

  /** Change some choices and save them. */
  update(patch: Partial<WizardChoices>): void {
    this.choices = { ...this.choices, ...patch };
    this.#storage?.setItem(STORAGE_KEY, JSON.stringify(this.choices));
  }

  /** Start a new fine-tune from scratch. */
  reset(): void {
    this.choices = emptyChoices();
    this.#storage?.removeItem(STORAGE_KEY);
  }

  /** Whether a step can be opened: every earlier step has what it needs. */
  reachable(step: WizardStep): boolean {
    const c = this.choices;
    switch (step) {
      case 'model':
        return true;
      case 'data':
        return c.modelDir !== null;
      case 'settings':
        return c.modelDir !== null && c.versionId !== null;
      case 'train':
        return c.runId !== null;
      case 'try':
      case 'export':
        return c.runId !== null;
    }
  }

  /** The furthest step that can be opened: where "Continue" takes a returning user. */
  resumeStep(): WizardStep {
    return [...WIZARD_STEPS].reverse().find((s) => this.reachable(s)) ?? 'model';
  }
}

const KEY = Symbol('wizard');
export function setWizardState(state: WizardState): WizardState {
  setContext(KEY, state);
  return state;
}
export function useWizardState(): WizardState {
  return getContext<WizardState>(KEY);
}
