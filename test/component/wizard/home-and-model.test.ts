// Home (recent runs, new fine-tune) and the model step (demo, folder check, fit, continue).
import { cleanup, fireEvent, render } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { WizardState } from '../../../renderer/src/lib/wizard.svelte';
import Home from '../../../renderer/src/pages/Home.svelte';
import ModelStep from '../../../renderer/src/pages/wizard/ModelStep.svelte';
import { FakeApi } from '../fake-api';
import { model, runSummary } from '../fixtures';
import Harness from '../Harness.svelte';

let api: FakeApi;
vi.mock('../../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../../renderer/src/lib/api')>()),
  getApi: () => api,
}));

let wizard: WizardState;
beforeEach(() => {
  api = new FakeApi();
  localStorage.clear();
  wizard = new WizardState(localStorage);
  window.location.hash = '#/';
});
afterEach(cleanup);

describe('Home', () => {
  it('lists recent runs with their state in words, failures with the reason', async () => {
    api.answer('runs.list', [
      runSummary(2, { name: 'support bot', status: 'running', finishedAt: null }),
      runSummary(1, {
        name: 'first try',
        status: 'failed',
        error: { message: 'Out of memory.', hint: 'Use a shorter max length.' },
      }),
    ]);
    const view = render(Harness, { props: { component: Home, wizard } });
    const running = await view.findByTestId('recent-run-2');
    expect(running.textContent).toContain('support bot');
    expect(running.textContent).toContain('Training');
    expect(running.querySelector('a')?.getAttribute('href')).toBe('#/runs/2');
    const failed = view.getByTestId('recent-run-1');
    expect(failed.textContent).toContain('Failed');
    expect(failed.textContent).toContain('Out of memory. Use a shorter max length.');
  });

  it('says there are no runs yet, and "New fine-tune" starts the wizard afresh', async () => {
    api.answer('runs.list', []);
    wizard.update({ modelDir: '/old', modelName: 'old' });
    const view = render(Harness, { props: { component: Home, wizard } });
    expect((await view.findByTestId('recent-runs-empty')).textContent).toContain('No fine-tunes yet');
    expect(view.getByTestId('resume-wizard').textContent).toContain('old');
    await fireEvent.click(view.getByTestId('new-finetune'));
    expect(wizard.choices.modelDir).toBeNull();
    expect(window.location.hash).toBe('#/wizard/model');
  });
});

describe('ModelStep', () => {
  it('uses the demo model, shows whether it fits, and continues to the data', async () => {
    api
      .answer('models.list', [])
      .answer('models.createDemo', model(9, { name: 'Demo', source: 'demo', path: '/home/models/demo' }));
    const view = render(Harness, { props: { component: ModelStep, wizard } });
    const next = view.getByTestId('model-continue') as HTMLButtonElement;
    expect(next.disabled).toBe(true);

    await fireEvent.click(view.getByTestId('demo-model-button'));
    const fit = await view.findByTestId('model-fit');
    expect(fit.textContent).toContain('Yes.');
    expect(fit.textContent).toContain('trains on the CPU');
    expect(view.getByTestId('model-architecture').textContent).toBe('qwen2');
    expect(view.getByTestId('model-size').textContent).toContain('494 million parameters');
    expect(wizard.choices).toMatchObject({ modelDir: '/home/models/demo', modelName: 'Demo' });

    expect(next.disabled).toBe(false);
    await fireEvent.click(next);
    expect(window.location.hash).toBe('#/wizard/data');
  });

  it('explains why a folder cannot be used, with what to do', async () => {
    api.answer('models.list', []).fail('models.add', {
      code: 'model-incomplete',
      message: '/tmp/half has no tokenizer.json.',
      hint: 'Download the whole model folder again, or choose the folder that holds config.json.',
    });
    const view = render(Harness, { props: { component: ModelStep, wizard } });
    await fireEvent.input(view.getByTestId('model-path-input'), { target: { value: '/tmp/half' } });
    await fireEvent.click(view.getByTestId('model-add-button'));
    const error = await view.findByTestId('model-error');
    expect(error.textContent).toContain('/tmp/half has no tokenizer.json.');
    expect(error.textContent).toContain('Download the whole model folder again');
    expect(api.inputs('models.add')).toEqual([{ path: '/tmp/half' }]);
    expect((view.getByTestId('model-continue') as HTMLButtonElement).disabled).toBe(true);
    expect(wizard.choices.modelDir).toBeNull();
  });

  it('offers the system folder chooser in the desktop app and checks the chosen folder', async () => {
    Object.defineProperty(api, 'transport', { value: 'ipc' });
    api
      .answer('models.list', [])
      .answer('system.chooseFolder', { available: true, path: '/models/qwen' })
      .answer('models.add', { model: model(4, { name: 'qwen', path: '/models/qwen' }), warnings: [] });
    const view = render(Harness, { props: { component: ModelStep, wizard } });
    await fireEvent.click(view.getByTestId('model-choose-folder'));
    await view.findByTestId('model-details');
    expect(api.inputs('models.add')).toEqual([{ path: '/models/qwen' }]);
    expect(wizard.choices.modelDir).toBe('/models/qwen');
  });

  it('has no folder chooser in a browser (the server has none): the path is typed', async () => {
    api.answer('models.list', []);
    const view = render(Harness, { props: { component: ModelStep, wizard } });
    await view.findByTestId('model-path-input');
    expect(view.queryByTestId('model-choose-folder')).toBeNull();
  });

  it('says a hint once when main already put it in the message', async () => {
    api.answer('models.list', []).fail('models.add', {
      code: 'model-incomplete',
      message: '/tmp is not a model folder.\n- config.json is missing.\nDownload the whole folder.',
      hint: 'Download the whole folder.',
    });
    const view = render(Harness, { props: { component: ModelStep, wizard } });
    await fireEvent.input(view.getByTestId('model-path-input'), { target: { value: '/tmp' } });
    await fireEvent.click(view.getByTestId('model-add-button'));
    const error = await view.findByTestId('model-error');
    expect(error.textContent?.split('Download the whole folder.')).toHaveLength(2);
    expect(error.textContent).not.toContain('What to do');
  });

  it('says plainly when a checked folder does not fit this computer', async () => {
    const big = model(3, {
      name: 'Big',
      fit: {
        device: 'cuda',
        availableBytes: 8 * 1024 ** 3,
        memory: [{ seqLen: 2048, bytes: 20 * 1024 ** 3, fits: false }],
        fits: false,
        verdict: 'Does not fit RTX 4060 (8.0 GB free): needs 20.0 GB at 2k tokens.',
      },
    });
    api
      .answer('models.list', [])
      .answer('models.add', { model: big, warnings: ['The tokenizer has no chat template.'] });
    const view = render(Harness, { props: { component: ModelStep, wizard } });
    await fireEvent.input(view.getByTestId('model-path-input'), { target: { value: big.path } });
    await fireEvent.click(view.getByTestId('model-add-button'));
    const fit = await view.findByTestId('model-fit');
    expect(fit.textContent).toContain('No.');
    expect(fit.textContent).toContain('Does not fit RTX 4060');
    expect(view.getByTestId('model-warnings').textContent).toContain('no chat template');
  });

  it('resumes with the model chosen before', async () => {
    wizard.update({ modelDir: '/models/model-2', modelName: 'model-2' });
    api.answer('models.list', [model(1), model(2)]);
    const view = render(Harness, { props: { component: ModelStep, wizard } });
    expect((await view.findByTestId('model-details')).textContent).toContain('model-2');
    expect((view.getByTestId('model-continue') as HTMLButtonElement).disabled).toBe(false);
  });
});
