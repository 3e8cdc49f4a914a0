import { describe, expect, it } from 'vitest';
import { WizardState } from '../../renderer/src/lib/wizard.svelte';

describe('WizardState', () => {
  it('remembers the choices across instances (a reload resumes the wizard)', () => {
    const first = new WizardState(localStorage);
    first.reset();
    expect(first.resumeStep()).toBe('model');
    first.update({ modelDir: '/m', versionId: 3 });
    const second = new WizardState(localStorage);
    expect(second.choices.modelDir).toBe('/m');
    expect(second.resumeStep()).toBe('settings');
    expect(second.reachable('train')).toBe(false);
  });

  it('starts afresh from a damaged saved state', () => {
    localStorage.setItem('tunesmith.wizard', '{not json');
    expect(new WizardState(localStorage).choices.modelDir).toBeNull();
  });
});
