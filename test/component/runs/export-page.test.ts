// The export page: the lineage from exports.get (dataset version → run → checkpoint → files), the
// check in llama.cpp, the Ollama command, the folder shown as a path when it cannot be opened.
import { cleanup, fireEvent, render, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import ExportPage from '../../../renderer/src/pages/runs/ExportPage.svelte';
import { FakeApi } from '../fake-api';
import { exportDetails, exportSummary } from '../fixtures';
import Harness from '../Harness.svelte';

let api: FakeApi;
vi.mock('../../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../../renderer/src/lib/api')>()),
  getApi: () => api,
}));

beforeEach(() => {
  window.location.hash = '#/exports/7';
  api = new FakeApi()
    .answer('exports.get', exportDetails(7))
    .answer('system.openPath', ({ path }) => ({ opened: false, path }));
});
afterEach(cleanup);

function renderPage(exportId = 7) {
  return render(Harness, { props: { component: ExportPage, props: { exportId } } });
}

describe('ExportPage', () => {
  it('traces the export back: dataset version → run → checkpoint → files', async () => {
    const { findByTestId } = renderPage();
    const lineage = await findByTestId('lineage');
    expect(api.inputs('exports.get')).toEqual([{ exportId: 7 }]);
    expect(within(lineage).getByTestId('lineage-dataset').textContent).toContain(
      'support-replies, version 4',
    );
    const run = within(lineage).getByTestId('lineage-run');
    expect(within(run).getByRole('link').getAttribute('href')).toBe('#/runs/5');
    expect(run.textContent).toContain('tiny-llama');
    expect(within(lineage).getByTestId('lineage-checkpoint').textContent).toContain('step 46');
    const files = within(lineage).getByTestId('lineage-files').textContent;
    expect(files).toContain('adapter.gguf');
    expect(files).toContain('Modelfile');
    expect(files).toContain('6.0 MB');
  });

  it('shows the check in llama.cpp and the Ollama command', async () => {
    const { findByTestId, getByTestId } = renderPage();
    const verification = await findByTestId('export-verification');
    expect(verification.textContent).toContain('Passed');
    expect(verification.textContent).toContain('max |Δp| 2.1e-7');
    expect(getByTestId('ollama-command').textContent).toContain('ollama create support-bot -f Modelfile');
  });

  it('shows the folder path when it cannot be opened (the browser server)', async () => {
    const { findByTestId, getByRole } = renderPage();
    const field = await findByTestId('path-field');
    expect(field.textContent).toContain('/home/me/.tunesmith/exports/run-5-ollama');
    await fireEvent.click(getByRole('button', { name: 'Open the export folder in the file manager' }));
    expect(api.inputs('system.openPath')).toEqual([{ path: '/home/me/.tunesmith/exports/run-5-ollama' }]);
    await waitFor(() =>
      expect(within(field).getByTestId('path-note').textContent).toContain('copy the path'),
    );
  });

  it('shows the progress of an export still being written, then the result', async () => {
    api.answer(
      'exports.get',
      exportDetails(7, { export: exportSummary(7, 5, { status: 'running' }), verification: null }),
    );
    const { findByTestId, queryByTestId } = renderPage();
    const progress = await findByTestId('export-progress');
    api.emit('exports.progress', { exportId: 7, runId: 5, message: 'Checking in llama.cpp' });
    await waitFor(() => expect(progress.textContent).toContain('Checking in llama.cpp'));
    api.answer('exports.get', exportDetails(7));
    api.emit('exports.progress', { exportId: 7, runId: 5, message: 'Done', done: { status: 'completed' } });
    await waitFor(() => expect(queryByTestId('export-progress')).toBeNull());
  });

  it('shows why an export failed, with the hint', async () => {
    api.answer(
      'exports.get',
      exportDetails(7, {
        export: exportSummary(7, 5, { status: 'failed' }),
        error: { message: 'The disk is full.', hint: 'Free some space and export again.' },
      }),
    );
    const { findByTestId } = renderPage();
    const notice = await findByTestId('error-notice');
    expect(notice.textContent).toContain('The disk is full.');
    expect(notice.textContent).toContain('Free some space and export again.');
  });

  it('shows the message and the hint when the export cannot be loaded', async () => {
    api.fail('exports.get', {
      code: 'not-found',
      message: 'There is no export 9.',
      hint: 'See the run’s exports.',
    });
    const { findByTestId } = renderPage(9);
    const notice = await findByTestId('error-notice');
    expect(notice.textContent).toContain('There is no export 9.');
    expect(notice.textContent).toContain('See the run’s exports.');
  });
});
