// The Settings step's state: preset, template, backend and the Advanced panel's edits, checked as
// they are typed, and the plan (`runs.plan`: steps, memory fit, warnings, time) asked for again
// 300 ms after the last change. Only the newest answer is kept, so a slow old plan never replaces
// a newer one.
import type { CommandInput, RunPlanInfo, RunSummary } from '../../../main/api/contract';
import type { Api } from './api';
import {
  checkSetting,
  editsFromOverrides,
  overridesFromEdits,
  SETTINGS_BY_KEY,
  settingText,
} from './hyper-settings';
import { type Problem, problemOf } from './problem';
import type { PresetChoice, TemplateChoice, WizardChoices } from './wizard.svelte';

export const PLAN_DELAY_MS = 300;

export type RunRequest = CommandInput<'runs.plan'>;

export class SettingsForm {
  preset = $state<PresetChoice>('quick');
  template = $state<TemplateChoice | null>(null);
  backend = $state<'auto' | 'cpu' | 'cuda'>('auto');
  /** Text of each edited Advanced field, by setting key. */
  edits = $state<Record<string, string>>({});
  plan = $state.raw<RunPlanInfo | null>(null);
  planError = $state.raw<Problem | null>(null);
  planning = $state(false);
  starting = $state(false);
  startError = $state.raw<Problem | null>(null);
  /** The settings of the last plan that worked: fields show them while a newer plan is pending. */
  hyper = $state.raw<Record<string, unknown>>({});

  readonly #api: Api;
  readonly #modelDir: string;
  readonly #versionId: number;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #asked = 0;
  #created: { key: string; runId: number } | null = null;

  constructor(api: Api, choices: WizardChoices) {
    this.#api = api;
    this.#modelDir = choices.modelDir ?? '';
    this.#versionId = choices.versionId ?? 0;
    this.preset = choices.preset;
    this.template = choices.template;
    this.backend = choices.backend;
    this.edits = editsFromOverrides(choices.overrides);
  }

  /** Inline errors, by setting key. */
  readonly fieldErrors = $derived.by(() => {
    const errors: Record<string, string> = {};
    for (const [key, raw] of Object.entries(this.edits)) {
      const info = SETTINGS_BY_KEY.get(key);
      const checked = info ? checkSetting(info, raw) : { ok: false as const, error: 'Unknown setting.' };
      if (!checked.ok) errors[key] = checked.error;
    }
    return errors;
  });

  readonly valid = $derived(Object.keys(this.fieldErrors).length === 0);

  get overrides(): string[] {
    return overridesFromEdits(this.edits);
  }

  get request(): RunRequest {
    return {
      modelDir: this.#modelDir,
      datasetVersionId: this.#versionId,
      ...(this.template ? { template: this.template } : {}),
      preset: this.preset,
      overrides: this.overrides,
      backend: this.backend,
    };
  }

  /** A plan that says the run cannot start (does not fit, bad data) blocks Start. */
  get canStart(): boolean {
    return this.valid && this.planError === null && !this.starting && !this.planning;
  }

  /** What a field shows: the text typed, else the value the current plan uses. */
  fieldText(key: string): string {
    return this.edits[key] ?? settingText(this.hyper[key]);
  }

  setPreset(preset: PresetChoice): void {
    this.preset = preset;
    this.schedulePlan();
  }

  setTemplate(template: TemplateChoice | null): void {
    this.template = template;
    this.schedulePlan();
  }

  setBackend(backend: 'auto' | 'cpu' | 'cuda'): void {
    this.backend = backend;
    this.schedulePlan();
  }

  edit(key: string, raw: string): void {
    this.edits = { ...this.edits, [key]: raw };
    this.schedulePlan();
  }

  /** Back to the preset's value. */
  resetSetting(key: string): void {
    const { [key]: _, ...rest } = this.edits;
    this.edits = rest;
    this.schedulePlan();
  }

  /** Ask for a new plan after a quiet moment; an invalid field waits until it is fixed. */
  schedulePlan(delay = PLAN_DELAY_MS): void {
    clearTimeout(this.#timer);
    if (!this.valid) {
      this.planning = false;
      return;
    }
    this.planning = true;
    this.#timer = setTimeout(() => void this.refreshPlan(), delay);
  }

  async refreshPlan(): Promise<void> {
    const asked = ++this.#asked;
    this.planning = true;
    try {
      const plan = await this.#api.call('runs.plan', this.request);
      if (asked !== this.#asked) return;
      this.plan = plan;
      this.hyper = plan.definition.hyper;
      this.planError = null;
    } catch (err) {
      if (asked !== this.#asked) return;
      this.plan = null;
      this.planError = problemOf(err);
    } finally {
      if (asked === this.#asked) this.planning = false;
    }
  }

  /**
   * Creates the run and starts it; returns it, or null with `startError` set. A run created but not
   * started (the start failed) is started on the next try rather than created again.
   */
  async start(): Promise<RunSummary | null> {
    if (!this.valid) return null;
    this.starting = true;
    this.startError = null;
    const key = JSON.stringify(this.request);
    try {
      let created = this.#created?.key === key ? this.#created : null;
      if (!created) {
        const { run } = await this.#api.call('runs.create', this.request);
        created = { key, runId: run.id };
        this.#created = created;
      }
      const started = await this.#api.call('runs.start', { runId: created.runId });
      this.#created = null;
      return started;
    } catch (err) {
      this.startError = problemOf(err);
      return null;
    } finally {
      this.starting = false;
    }
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#asked++;
  }
}
