import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ExportDetails } from '../../main/api/contract';
import { WizardState } from '../../renderer/src/lib/wizard.svelte';
import ExportStep from '../../renderer/src/pages/wizard/ExportStep.svelte';
import { FakeApi } from './fake-api';
import { checkpoint, exportDetails, newRunDetails } from './fixtures';

/** What exports.create answers for run 7's export #4. */
const exported = (patch: Partial<ExportDetails> = {}) => exportDetails(4, patch, 7);

import Harness from './Harness.svelte';

let api: FakeApi;
vi.mock('../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../renderer/src/lib/api')>()),
  getApi: () => api,
}));

async function setup() {
  localStorage.clear();
  const wizard = new WizardState(localStorage);
  wizard.update({ runId: 7 });
  render(Harness, { props: { component: ExportStep, wizard } });
  await waitFor(() => expect((screen.getByTestId('export-start') as HTMLButtonElement).disabled).toBe(false));
}

beforeEach(() => {
  api = new FakeApi();
  api.answer('runs.get', newRunDetails(7, { checkpoints: [checkpoint(12, 120, 1.2)] }));
});
afterEach(cleanup);

describe('Export step', () => {
  it('exports for Ollama with verification by default, shows progress, the checks and the command', async () => {
    let finish!: (details: ExportDetails) => void;
    api.answer('exports.create', () => new Promise<ExportDetails>((resolve) => (finish = resolve)));
    await setup();
    expect(
      (screen.getByTestId('export-format-ollama').querySelector('input') as HTMLInputElement).checked,
    ).toBe(true);
    expect(screen.getByTestId('export-format-ollama').textContent).toContain('one command');

    await fireEvent.click(screen.getByTestId('export-start'));
    api.emit('exports.progress', { exportId: 4, runId: 7, message: 'Writing the adapter GGUF' });
    api.emit('exports.progress', { exportId: 9, runId: 8, message: 'Another run’s export' });
    await waitFor(() =>
      expect(screen.getByTestId('export-progress').textContent).toContain('Writing the adapter GGUF'),
    );
    expect(screen.getByTestId('export-progress').textContent).not.toContain('Another run');
    expect(api.inputs('exports.create')[0]).toEqual({
      runId: 7,
      checkpoint: 'best',
      format: 'ollama',
      verify: true,
      force: false,
    });

    finish(exported());
    const verification = await screen.findByTestId('export-verification');
    expect(verification.textContent).toContain('Verified in llama.cpp');
    expect(verification.textContent).toContain('max |Δp| 2.1e-7');
    expect(screen.getByTestId('ollama-command').textContent).toBe(exported().ollamaCommand);
  });

  it('says when llama.cpp found differences', async () => {
    api.answer(
      'exports.create',
      exported({
        verification: {
          passed: false,
          checks: [
            { name: 'Same next-token probabilities', passed: false, detail: 'max |Δp| 0.3 (tolerance 1e-4)' },
          ],
        },
      }),
    );
    await setup();
    await fireEvent.click(screen.getByTestId('export-start'));
    const verification = await screen.findByTestId('export-verification');
    expect(verification.textContent).toContain('found differences');
    expect(verification.textContent).toContain('Failed:');
  });

  it('sends the chosen format and checkpoint, and checks the Ollama name', async () => {
    api.answer('exports.create', exported({ format: 'peft', ollamaCommand: null, verification: null }));
    await setup();
    await fireEvent.input(screen.getByTestId('export-name'), { target: { value: 'My Model' } });
    expect((screen.getByTestId('export-start') as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(screen.getByTestId('export-format-peft').querySelector('input')!);
    await fireEvent.change(screen.getByTestId('checkpoint-picker'), { target: { value: 'last' } });
    await fireEvent.click(screen.getByTestId('export-start'));
    await screen.findByTestId('export-result');
    expect(api.inputs('exports.create')[0]).toMatchObject({ format: 'peft', checkpoint: 'last' });
    expect(api.inputs('exports.create')[0]).not.toHaveProperty('name');
    expect(screen.queryByTestId('ollama-command')).toBeNull();
  });

  it('shows the folder path when it cannot be opened here', async () => {
    api.answer('exports.create', exported());
    api.answer('system.openPath', ({ path }) => ({ opened: false, path }));
    await setup();
    await fireEvent.click(screen.getByTestId('export-start'));
    await fireEvent.click(await screen.findByTestId('open-folder'));
    const folder = exported().export.path;
    expect(api.inputs('system.openPath')).toEqual([{ path: folder }]);
    expect((await screen.findByTestId('export-path')).textContent).toBe(folder);
  });

  it('shows a failed export with what to do', async () => {
    api.fail('exports.create', {
      code: 'exists',
      message: 'The folder /home/exports/run-7-ollama already exists.',
      hint: 'Tick “Replace an earlier export”, or choose another name.',
    });
    await setup();
    await fireEvent.click(screen.getByTestId('export-start'));
    const error = await screen.findByTestId('export-error');
    expect(error.textContent).toContain('already exists');
    expect(error.textContent).toContain('Replace an earlier export');
  });
});
