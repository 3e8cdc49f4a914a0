// Creating the Ollama model from an export: the button when Ollama is installed (Export step and
// export page), Ollama's lines while it works, the result or what went wrong, and the command with
// where to get Ollama when it is not installed.
import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ExportDetails, OllamaCreateResult } from '../../main/api/contract';
import { WizardState } from '../../renderer/src/lib/wizard.svelte';
import ExportPage from '../../renderer/src/pages/runs/ExportPage.svelte';
import ExportStep from '../../renderer/src/pages/wizard/ExportStep.svelte';
import { FakeApi } from './fake-api';
import { checkpoint, exportDetails, newRunDetails } from './fixtures';
import Harness from './Harness.svelte';

let api: FakeApi;
vi.mock('../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../renderer/src/lib/api')>()),
  getApi: () => api,
}));

/** Run 7's Ollama export #4, with Ollama installed or not. */
const exported = (patch: Partial<ExportDetails> = {}) =>
  exportDetails(4, { ollamaAvailable: true, ollamaName: 'support-bot', ...patch }, 7);

/** Exports run 7 in the Export step and waits for the result. */
async function exportInWizard(details: ExportDetails) {
  api.answer('exports.create', details);
  localStorage.clear();
  const wizard = new WizardState(localStorage);
  wizard.update({ runId: 7 });
  render(Harness, { props: { component: ExportStep, wizard } });
  await waitFor(() => expect((screen.getByTestId('export-start') as HTMLButtonElement).disabled).toBe(false));
  await fireEvent.click(screen.getByTestId('export-start'));
  await screen.findByTestId('export-result');
}

beforeEach(() => {
  api = new FakeApi();
  api.answer('runs.get', newRunDetails(7, { checkpoints: [checkpoint(12, 120, 1.2)] }));
});
afterEach(cleanup);

describe('Create it in Ollama now', () => {
  it("creates the model from the export step, showing Ollama's lines and how to run it", async () => {
    let finish!: (result: OllamaCreateResult) => void;
    api.answer('exports.ollamaCreate', () => new Promise((resolve) => (finish = resolve)));
    await exportInWizard(exported());

    const button = screen.getByTestId('ollama-create') as HTMLButtonElement;
    expect(button.textContent).toContain('Create it in Ollama now');
    await fireEvent.click(button);
    expect(api.inputs('exports.ollamaCreate')).toEqual([{ exportId: 4, name: 'support-bot' }]);
    expect(button.disabled).toBe(true);
    api.emit('exports.progress', { exportId: 4, runId: 7, message: 'Creating the Ollama model support-bot' });
    api.emit('exports.progress', { exportId: 4, runId: 7, message: 'writing manifest' });
    api.emit('exports.progress', { exportId: 9, runId: 8, message: 'Another export' });
    await waitFor(() =>
      expect(screen.getByTestId('ollama-create-progress').textContent).toContain('writing manifest'),
    );
    expect(screen.getByTestId('ollama-create-progress').textContent).not.toContain('Another export');
    expect(screen.queryByTestId('ollama-create-result')).toBeNull();

    finish({ ok: true, name: 'support-bot', output: 'writing manifest\nsuccess' });
    const result = await screen.findByTestId('ollama-create-result');
    expect(result.textContent).toMatch(/Done: run it with\s+ollama run support-bot/);
    expect((screen.getByTestId('ollama-create') as HTMLButtonElement).disabled).toBe(false);
    expect(api.listenerCount('exports.progress')).toBe(0);
    // The command stays there for running it by hand.
    expect(screen.getByTestId('ollama-command').textContent).toBe(exported().ollamaCommand);
  });

  it('says what went wrong and what to do when Ollama fails', async () => {
    api.fail('exports.ollamaCreate', {
      code: 'ollama-create-failed',
      message: '`ollama create support-bot` failed (exit code 1):\nError: could not connect to ollama app',
      hint: 'Is the Ollama app running? Start it (or run `ollama serve` in another terminal), then try again.',
    });
    await exportInWizard(exported());
    await fireEvent.click(screen.getByTestId('ollama-create'));
    const error = await screen.findByTestId('ollama-create-error');
    expect(error.textContent).toContain('could not connect to ollama app');
    expect(error.textContent).toContain('ollama serve');
    expect(screen.queryByTestId('ollama-create-result')).toBeNull();
  });

  it('without Ollama, shows the command and where to get Ollama, and no button', async () => {
    await exportInWizard(exported({ ollamaAvailable: false }));
    expect(screen.queryByTestId('ollama-create')).toBeNull();
    expect(screen.getByTestId('ollama-command').textContent).toBe(exported().ollamaCommand);
    expect(screen.getByTestId('ollama-missing').textContent).toContain(
      'Ollama was not found on this computer; install it from ollama.com',
    );
  });

  it('creates the model from the export page too', async () => {
    api
      .answer('exports.get', exported())
      .answer('exports.ollamaCreate', ({ name }) => ({ ok: true as const, name, output: 'success' }));
    render(Harness, { props: { component: ExportPage, props: { exportId: 4 } } });
    await fireEvent.click(await screen.findByTestId('ollama-create'));
    expect((await screen.findByTestId('ollama-create-result')).textContent).toContain(
      'ollama run support-bot',
    );
    expect(api.inputs('exports.ollamaCreate')).toEqual([{ exportId: 4, name: 'support-bot' }]);
  });
});
