import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WizardState } from '../../renderer/src/lib/wizard.svelte';
import SettingsStep from '../../renderer/src/pages/wizard/SettingsStep.svelte';
import { FakeApi } from './fake-api';
import { planInfo, runSummary } from './fixtures';
import Harness from './Harness.svelte';

let api: FakeApi;
vi.mock('../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../renderer/src/lib/api')>()),
  getApi: () => api,
}));

function setup() {
  localStorage.clear();
  const wizard = new WizardState(localStorage);
  wizard.update({ modelDir: '/models/tiny', modelName: 'tiny', versionId: 3 });
  render(Harness, { props: { component: SettingsStep, wizard } });
  return { wizard };
}

beforeEach(() => {
  api = new FakeApi();
  window.location.hash = '#/wizard/settings';
});
afterEach(cleanup);

describe('Settings step', () => {
  it('asks for a new plan when the preset or a setting changes, and shows the new estimate', async () => {
    // Longer runs for the thorough preset, shorter with a smaller maxLen: the estimate must follow.
    api.answer('runs.plan', (input) => {
      if (input.overrides?.includes('maxLen=512')) return planInfo(600);
      return planInfo(input.preset === 'thorough' ? 3 * 3600 : 25 * 60);
    });
    setup();
    await waitFor(() =>
      expect(screen.getByTestId('plan-estimate').textContent).toContain('about 25 minutes'),
    );

    await fireEvent.click(screen.getByTestId('preset-thorough'));
    await waitFor(() => expect(screen.getByTestId('plan-estimate').textContent).toContain('about 3 h'));
    expect(api.inputs('runs.plan').at(-1)).toMatchObject({
      modelDir: '/models/tiny',
      datasetVersionId: 3,
      preset: 'thorough',
    });

    await fireEvent.click(screen.getByTestId('advanced-toggle'));
    const maxLen = screen.getByTestId('setting-maxLen') as HTMLInputElement;
    expect(maxLen.value).toBe('2048'); // the plan's value, shown before any change
    await fireEvent.input(maxLen, { target: { value: '512' } });
    await waitFor(() =>
      expect(screen.getByTestId('plan-estimate').textContent).toContain('about 10 minutes'),
    );
    expect(api.inputs('runs.plan').at(-1)?.overrides).toEqual(['maxLen=512']);
  });

  it('explains an invalid value next to the field and will not start', async () => {
    api.answer('runs.plan', () => planInfo(60));
    setup();
    await waitFor(() => expect(screen.getByTestId('plan-estimate')).toBeTruthy());
    const asked = api.inputs('runs.plan').length;

    await fireEvent.click(screen.getByTestId('advanced-toggle'));
    const lr = screen.getByTestId('setting-lr');
    await fireEvent.input(lr, { target: { value: 'fast' } });
    expect(screen.getByTestId('setting-lr-error').textContent).toMatch(/Enter a number above 0/);
    expect(lr.getAttribute('aria-invalid')).toBe('true');
    expect((screen.getByTestId('start-training') as HTMLButtonElement).disabled).toBe(true);

    await new Promise((r) => setTimeout(r, 400));
    expect(api.inputs('runs.plan')).toHaveLength(asked); // nothing sent while a value is wrong

    await fireEvent.input(lr, { target: { value: '1e-4' } });
    expect(screen.queryByTestId('setting-lr-error')).toBeNull();
    await waitFor(() =>
      expect((screen.getByTestId('start-training') as HTMLButtonElement).disabled).toBe(false),
    );
  });

  it('shows why a plan cannot run and what to change, and blocks Start', async () => {
    api.fail('runs.plan', {
      code: 'does-not-fit',
      message: 'Training needs about 14.2 GiB of memory but 7.5 GiB is free.',
      hint: 'Try --set maxLen=1024.',
    });
    setup();
    const note = await screen.findByTestId('plan-error');
    expect(note.textContent).toContain('14.2 GiB of memory but 7.5 GiB is free');
    expect(note.textContent).toContain('In Advanced settings: Try maxLen=1024.');
    expect((screen.getByTestId('start-training') as HTMLButtonElement).disabled).toBe(true);
  });

  it('lists the warnings of a plan', async () => {
    api.answer('runs.plan', () =>
      planInfo(60, {
        warnings: [
          { code: 'eval-never', message: 'Progress is checked every 500 steps but the run has 120.' },
        ],
      }),
    );
    setup();
    expect((await screen.findByTestId('plan-warnings')).textContent).toContain('checked every 500 steps');
  });

  it('creates and starts the run, remembers it, and goes to the Train step', async () => {
    api.answer('runs.plan', () => planInfo(60));
    api.answer('runs.create', (input) => ({
      run: runSummary(12, { status: 'created' }),
      definition: planInfo(60).definition,
      input,
    }));
    api.answer('runs.start', ({ runId }) => runSummary(runId, { status: 'running' }));
    const { wizard } = setup();
    await fireEvent.click(screen.getByTestId('preset-reference'));
    await fireEvent.click(screen.getByTestId('advanced-toggle'));
    await fireEvent.input(screen.getByTestId('setting-loraR'), { target: { value: '32' } });
    const start = screen.getByTestId('start-training') as HTMLButtonElement;
    await waitFor(() => expect(start.disabled).toBe(false));
    await fireEvent.click(start);

    await waitFor(() => expect(window.location.hash).toBe('#/wizard/train'));
    expect(api.inputs('runs.create')[0]).toMatchObject({ preset: 'reference', overrides: ['loraR=32'] });
    expect(api.inputs('runs.start')).toEqual([{ runId: 12 }]);
    expect(wizard.choices).toMatchObject({ runId: 12, preset: 'reference', overrides: ['loraR=32'] });
  });

  it('shows why training did not start', async () => {
    api.answer('runs.plan', () => planInfo(60));
    api.fail('runs.create', {
      code: 'no-data',
      message: 'The dataset has no examples left.',
      hint: 'Go back to Data.',
    });
    setup();
    const start = screen.getByTestId('start-training') as HTMLButtonElement;
    await waitFor(() => expect(start.disabled).toBe(false));
    await fireEvent.click(start);
    const note = await screen.findByTestId('start-error');
    expect(note.textContent).toContain('The dataset has no examples left.');
    expect(note.textContent).toContain('Go back to Data.');
    expect(window.location.hash).toBe('#/wizard/settings');
  });
});
