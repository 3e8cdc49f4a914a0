// The max length (tokens per example) the data step measures against: a `maxLen=` override from the
// settings, else the chosen preset's (main/core/runs/config.ts).
import type { WizardChoices } from './wizard.svelte';

const PRESET_MAX_LEN: Record<WizardChoices['preset'], number> = {
  reference: 4096,
  quick: 2048,
  thorough: 4096,
};

export function maxLenOf(choices: Pick<WizardChoices, 'preset' | 'overrides'>): number {
  for (const override of choices.overrides) {
    const match = /^maxLen=(\d+)$/.exec(override.trim());
    if (match) return Number(match[1]);
  }
  return PRESET_MAX_LEN[choices.preset];
}
