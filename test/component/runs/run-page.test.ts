// The run page: config, checkpoints, samples and charts from runs.get / runs.metrics; live updates;
// the interrupted state said plainly; errors with their hint.
import { cleanup, fireEvent, render, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import RunPage from '../../../renderer/src/pages/runs/RunPage.svelte';
import { FakeApi } from '../fake-api';
import { FakePlot, nextFrame } from '../fake-uplot';
import { checkpoint, exportSummary, metrics, runDetails, runSummary } from '../fixtures';
import Harness from '../Harness.svelte';

let api: FakeApi;
vi.mock('../../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../../renderer/src/lib/api')>()),
  getApi: () => api,
}));
vi.mock('uplot', async () => ({ default: (await import('../fake-uplot')).FakePlot }));

beforeEach(() => {
  window.location.hash = '#/runs/1';
  FakePlot.reset();
  api = new FakeApi()
    .answer('runs.get', runDetails(1))
    .answer('runs.metrics', metrics())
    .answer('exports.list', [exportSummary(7, 1), exportSummary(8, 2)]);
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
});

function renderPage(runId = 1) {
  return render(Harness, { props: { component: RunPage, props: { runId } } });
}

/** The plot whose series include `label`. */
function plotWith(label: string): FakePlot | undefined {
  return FakePlot.live.find((p) => p.options.series.some((s) => s.label === label));
}

describe('RunPage', () => {
  it('shows the settings with plain names and the numbers power users look for', async () => {
    const { findByTestId } = renderPage();
    const config = await findByTestId('run-config');
    const lr = within(config).getByTestId('setting-hyper.lr');
    expect(lr.textContent).toContain('Learning speed (learning rate)');
    expect(lr.textContent).toContain('0.0002');
    expect(lr.textContent).toContain('lr');
    expect(within(config).getByTestId('setting-plan.totalSteps').textContent).toContain('69');
    expect(within(config).getByTestId('setting-split').textContent).toContain(
      '90 to learn from, 10 to check with',
    );
    expect(api.inputs('runs.get')).toEqual([{ runId: 1 }]);
  });

  it('lists the checkpoints, marking the best, and the samples grouped by step, newest first', async () => {
    const { findByTestId, getByTestId } = renderPage();
    const checkpoints = await findByTestId('run-checkpoints');
    expect(within(checkpoints).getAllByRole('row')).toHaveLength(4); // header + 3
    expect(within(getByTestId('checkpoint-row-12')).getByText('best')).toBeTruthy();
    expect(within(getByTestId('checkpoint-row-11')).queryByText('best')).toBeNull();

    const samples = getByTestId('run-samples');
    const groups = within(samples).getAllByTestId(/^samples-step-/);
    expect(groups.map((g) => g.dataset.testid)).toEqual(['samples-step-46', 'samples-step-23']);
    expect(groups[0]!.textContent).toContain('The capital of France is Paris.');
    expect(groups[1]!.textContent).toContain('Cut off at the length limit');
    // A reply of blank lines says so instead of showing an empty box.
    expect(groups[0]!.textContent).toContain('Only spaces and line breaks.');
  });

  it('lists only the exports of this run', async () => {
    const { findByTestId } = renderPage();
    const section = await findByTestId('run-exports');
    await waitFor(() => expect(within(section).queryByTestId('export-row-7')).not.toBeNull());
    expect(within(section).queryByTestId('export-row-8')).toBeNull();
  });

  it('charts the metrics: training and eval loss together, the learning rate on its own', async () => {
    const { findByTestId } = renderPage();
    await findByTestId('run-charts');
    const loss = plotWith('Training loss');
    expect(loss?.options.series.map((s) => s.label)).toEqual(['Step', 'Training loss', 'Eval loss']);
    expect(Array.from(loss!.data[1]!)).toEqual([2.5, 1.9, 1.4, 1.1]);
    expect(plotWith('Learning rate')).toBeDefined();
  });

  it('follows a running run: steps move the progress and the chart, a new checkpoint appears', async () => {
    api.answer('runs.get', runDetails(1, { run: runSummary(1, { status: 'running', finishedAt: null }) }));
    const { findByTestId, getByTestId } = renderPage();
    await findByTestId('run-charts');
    const step = (n: number) =>
      api.emit('runs.event', {
        runId: 1,
        type: 'step',
        step: n,
        totalSteps: 69,
        loss: 0.5,
        lr: 1e-4,
        gradNorm: 0.3,
        trainedTokens: 1000,
        tokensPerSecond: 250,
        etaSeconds: 125,
        memoryBytes: 1e9,
        epoch: 1,
      });
    step(69);
    await waitFor(() => expect(getByTestId('run-eta').textContent).toContain('2 min 5 s'));
    // Another run's events are not this page's business.
    api.emit('runs.event', {
      runId: 2,
      type: 'checkpoint',
      step: 5,
      path: '/x',
      sizeBytes: 1,
      evalLoss: null,
    });
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(api.inputs('runs.get')).toHaveLength(1);

    await waitFor(() => expect(Array.from(plotWith('Training loss')!.data[1]!).at(-1)).toBe(0.5), {
      timeout: 3000,
    });
    await nextFrame();
    expect(within(getByTestId('run-summary')).getByText('0.5')).toBeTruthy();

    api.answer(
      'runs.get',
      runDetails(1, {
        run: runSummary(1, { status: 'running', finishedAt: null }),
        checkpoints: [...runDetails(1).checkpoints, checkpoint(14, 69, 0.9)],
      }),
    );
    api.emit('runs.event', {
      runId: 1,
      type: 'checkpoint',
      step: 69,
      path: '/x',
      sizeBytes: 1,
      evalLoss: 0.9,
    });
    await waitFor(() => expect(getByTestId('checkpoint-row-14')).toBeTruthy());
    expect(api.inputs('runs.get')).toHaveLength(2);
  });

  it('says plainly that an interrupted run stopped, and resumes it', async () => {
    api
      .answer(
        'runs.get',
        runDetails(1, {
          run: runSummary(1, { status: 'paused', error: { code: 'interrupted', message: 'gone' } }),
          interrupted: true,
          latest: { step: 40, loss: 1, evalLoss: null, stopRate: null },
        }),
      )
      .answer('runs.resume', runSummary(1, { status: 'running', finishedAt: null }));
    const { findByTestId, getByTestId } = renderPage();
    const notice = await findByTestId('run-interrupted');
    expect(notice.textContent).toContain('This run stopped unexpectedly at step 40.');
    expect(notice.textContent).toContain('Resume continues from its last checkpoint.');
    await fireEvent.click(getByTestId('run-resume'));
    expect(api.inputs('runs.resume')).toEqual([{ runId: 1 }]);
    await waitFor(() => expect(getByTestId('run-status').textContent).toBe('Training'));
  });

  it('pauses: the trainer\'s "paused" wins over the older answer of the pause call', async () => {
    const running = runDetails(1, { run: runSummary(1, { status: 'running', finishedAt: null }) });
    const paused = runDetails(1, { run: runSummary(1, { status: 'paused', finishedAt: null }) });
    api.answer('runs.get', running).answer('runs.pause', () => {
      // main answers with the row as it was when the pause was asked for, after the trainer has
      // already reported that it paused.
      api.answer('runs.get', paused);
      api.emit('runs.event', { runId: 1, type: 'status', run: paused.run });
      return running.run;
    });
    const { findByRole, getByTestId } = renderPage();
    await fireEvent.click(await findByRole('button', { name: 'Pause' }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(getByTestId('run-status').textContent).toBe('Paused');
    expect(getByTestId('run-resume')).toBeTruthy();
  });

  it('shows why a failed run failed, with the hint', async () => {
    api.answer(
      'runs.get',
      runDetails(1, {
        run: runSummary(1, {
          status: 'failed',
          error: { code: 'oom', message: 'The GPU ran out of memory.', hint: 'Lower "Examples at once".' },
        }),
      }),
    );
    const { findByTestId } = renderPage();
    const failed = await findByTestId('run-failed');
    expect(failed.textContent).toContain('The GPU ran out of memory.');
    expect(failed.textContent).toContain('Lower "Examples at once".');
  });

  it('shows the message and the hint when the run cannot be loaded', async () => {
    api.fail('runs.get', { code: 'not-found', message: 'There is no run 9.', hint: 'See the list of runs.' });
    const { findByTestId } = renderPage(9);
    const notice = await findByTestId('error-notice');
    expect(notice.textContent).toContain('There is no run 9.');
    expect(notice.textContent).toContain('See the list of runs.');
  });
});
