import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { MetricSeriesPoint, RunEventPayload } from '../../main/api/contract';
import { WizardState } from '../../renderer/src/lib/wizard.svelte';
import TrainStep from '../../renderer/src/pages/wizard/TrainStep.svelte';
import { FakeApi } from './fake-api';
import { FakePlot } from './fake-uplot';
import { checkpoint, definition, newRunDetails, runSummary } from './fixtures';

const TOTAL = definition().plan.totalSteps;

import Harness from './Harness.svelte';

let api: FakeApi;
vi.mock('../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../renderer/src/lib/api')>()),
  getApi: () => api,
}));
vi.mock('uplot', async () => ({ default: (await import('./fake-uplot')).FakePlot }));

const points = (n: number, f: (step: number) => number): MetricSeriesPoint[] =>
  Array.from({ length: n }, (_, i) => ({ step: i + 1, value: f(i + 1), at: 0 }));

function step(n: number): RunEventPayload {
  return {
    runId: 7,
    type: 'step',
    step: n,
    totalSteps: TOTAL,
    loss: 2 - n / 100,
    lr: 2e-4,
    gradNorm: 0.5,
    trainedTokens: n * 4000,
    tokensPerSecond: 1234,
    etaSeconds: 12 * 60,
    memoryBytes: 3 * 2 ** 30,
    epoch: 1,
  };
}

function lossChart(): FakePlot {
  const plot = FakePlot.live.find((p) => p.options.series.some((s) => s.label === 'Eval loss'));
  if (!plot) throw new Error('no loss chart');
  return plot;
}

async function setup() {
  localStorage.clear();
  const wizard = new WizardState(localStorage);
  wizard.update({ modelDir: '/models/tiny', versionId: 3, runId: 7 });
  render(Harness, { props: { component: TrainStep, wizard } });
  await waitFor(() => expect(screen.getByTestId('run-status').textContent).not.toBe('Loading…'));
}

beforeEach(() => {
  api = new FakeApi();
  FakePlot.reset();
  api.answer(
    'runs.get',
    newRunDetails(7, { latest: { step: 50, loss: 1.5, evalLoss: 1.6, stopRate: null } }),
  );
  api.answer('runs.metrics', {
    loss: points(50, (s) => 2 - s / 100),
    eval_loss: points(2, (s) => s),
    lr: points(50, () => 2e-4),
  });
});
afterEach(cleanup);

describe('Train step', () => {
  it('shows the whole curve so far, then appends each step event with speed and time left', async () => {
    await setup();
    await waitFor(() => expect(lossChart().data[0]).toHaveLength(50));
    expect(screen.getByTestId('run-step').textContent).toBe(`50 of ${TOTAL}`);

    api.emit('runs.event', step(51));
    api.emit('runs.event', step(52));
    api.emit('runs.event', { ...step(53), runId: 8 }); // another run: ignored
    await waitFor(() => expect(Array.from(lossChart().data[0]).slice(-2)).toEqual([51, 52]));
    expect(
      FakePlot.instances.filter((p) => p.options.series.some((s) => s.label === 'Eval loss')),
    ).toHaveLength(1);
    expect(screen.getByTestId('run-step').textContent).toBe(`52 of ${TOTAL}`);
    expect(screen.getByTestId('run-tokens-per-second').textContent).toContain('1,234 tokens/s');
    expect(screen.getByTestId('run-eta').textContent).toContain('about 12 minutes');
    expect(screen.getByTestId('run-memory').textContent).toContain('3.0 GB');
  });

  it('keeps events that arrive while the run is loading', async () => {
    let answer!: () => void;
    api.answer(
      'runs.metrics',
      () =>
        new Promise((resolve) => {
          answer = () => resolve({ loss: points(50, () => 1) });
        }),
    );
    localStorage.clear();
    const wizard = new WizardState(localStorage);
    wizard.update({ runId: 7 });
    render(Harness, { props: { component: TrainStep, wizard } });
    await waitFor(() => expect(answer).toBeTypeOf('function'));
    api.emit('runs.event', step(51));
    answer();
    await waitFor(() => expect(screen.getByTestId('run-step').textContent).toBe(`51 of ${TOTAL}`));
    await waitFor(() => expect(lossChart().data[0]).toHaveLength(51));
  });

  it('shows sample replies at each check with the stop rate', async () => {
    await setup();
    api.emit('runs.event', { runId: 7, type: 'eval', step: 60, loss: 1.4, stopRate: 0.5 });
    api.emit('runs.event', {
      runId: 7,
      type: 'sample',
      step: 60,
      prompt: 'Where is my order?',
      output: 'It ships today.',
      stopped: true,
    });
    api.emit('runs.event', {
      runId: 7,
      type: 'sample',
      step: 60,
      prompt: 'Can I return it?',
      output: 'Yes yes yes yes',
      stopped: false,
    });
    const group = await screen.findByTestId('samples-step-60');
    expect(group.textContent).toContain('It ships today.');
    expect(group.textContent).toContain('Ended by itself');
    expect(group.textContent).toContain('Cut off at the length limit');
    expect(group.querySelector('[data-testid="sample-stop-rate"]')?.textContent).toBe('stop rate 50%');
  });

  it('pauses, resumes and cancels (after asking) with the right commands', async () => {
    api.answer('runs.pause', runSummary(7, { status: 'paused' }));
    api.answer('runs.resume', runSummary(7, { status: 'running' }));
    api.answer('runs.cancel', runSummary(7, { status: 'cancelled' }));
    await setup();
    await fireEvent.click(screen.getByTestId('pause-run'));
    await waitFor(() => expect(screen.getByTestId('run-status').textContent).toBe('Paused'));
    await fireEvent.click(screen.getByTestId('resume-run'));
    await waitFor(() => expect(screen.getByTestId('run-status').textContent).toBe('Training'));

    await fireEvent.click(screen.getByTestId('cancel-run'));
    expect(api.inputs('runs.cancel')).toHaveLength(0); // asks first
    await fireEvent.click(screen.getByTestId('cancel-confirm'));
    await waitFor(() => expect(screen.getByTestId('run-status').textContent).toBe('Cancelled'));
    expect(
      api.calls.filter((c) => c.name.match(/pause|resume|cancel/)).map((c) => [c.name, c.input]),
    ).toEqual([
      ['runs.pause', { runId: 7 }],
      ['runs.resume', { runId: 7 }],
      ['runs.cancel', { runId: 7 }],
    ]);
  });

  it('shows a failure with what to do', async () => {
    await setup();
    api.emit('runs.event', {
      runId: 7,
      type: 'failed',
      code: 'bad-data',
      message: 'Example 12 has no reply to learn from.',
      hint: 'Fix example 12 in the Data step.',
    });
    const error = await screen.findByTestId('run-error');
    expect(error.textContent).toContain('Example 12 has no reply to learn from.');
    expect(error.textContent).toContain('Fix example 12 in the Data step.');
  });

  it('says how to continue an interrupted run, in terms of this screen', async () => {
    api.answer(
      'runs.get',
      newRunDetails(7, {
        run: runSummary(7, {
          status: 'paused',
          error: {
            code: 'interrupted',
            message: 'The trainer stopped unexpectedly (signal SIGKILL).',
            hint: 'Run `tunesmith runs resume 7`.',
          },
        }),
        checkpoints: [checkpoint(11, 40, 1.3)],
      }),
    );
    await setup();
    expect(screen.getByTestId('run-status').textContent).toBe('Stopped unexpectedly');
    expect(screen.getByTestId('run-error').textContent).toContain('Press Resume');
    expect(screen.getByTestId('resume-run')).toBeTruthy();
    expect(screen.getByTestId('next-try').getAttribute('href')).toBe('#/wizard/try');
  });

  it('offers the next step when training finishes', async () => {
    await setup();
    expect(screen.queryByTestId('next-steps')).toBeNull();
    api.answer(
      'runs.get',
      newRunDetails(7, {
        run: runSummary(7, { status: 'completed' }),
        checkpoints: [checkpoint(12, 120, 1.1)],
      }),
    );
    api.emit('runs.event', { runId: 7, type: 'status', run: runSummary(7, { status: 'completed' }) });
    await waitFor(() => expect(screen.getByTestId('next-try').textContent).toContain('Next: try your model'));
    expect(screen.getByTestId('run-status').textContent).toBe('Finished');
    expect(screen.queryByTestId('pause-run')).toBeNull();
  });

  it('leads a run cancelled before its first checkpoint back to the settings', async () => {
    api.answer('runs.get', newRunDetails(7, { run: runSummary(7, { status: 'cancelled' }) }));
    await setup();
    const next = screen.getByTestId('next-steps');
    expect(next.textContent).toContain('nothing to try yet');
    expect(screen.getByTestId('next-settings').getAttribute('href')).toBe('#/wizard/settings');
    expect(screen.queryByTestId('next-try')).toBeNull();
    expect(screen.queryByTestId('resume-run')).toBeNull();
  });

  it('offers Resume and new settings after a failure, and the checkpoints saved before it', async () => {
    api.answer(
      'runs.get',
      newRunDetails(7, {
        run: runSummary(7, {
          status: 'failed',
          error: { code: 'out-of-memory', message: 'The trainer ran out of memory.' },
        }),
        checkpoints: [checkpoint(11, 40, 1.3)],
      }),
    );
    await setup();
    expect(screen.getByTestId('run-error').textContent).toContain('lower “Longest example”');
    expect(screen.getByTestId('next-steps').textContent).toContain(
      'Resume continues from the last saved checkpoint',
    );
    expect(screen.getByTestId('resume-run').textContent?.trim()).toBe('Resume');
    expect(screen.getByTestId('next-try').getAttribute('href')).toBe('#/wizard/try');
    expect(screen.getByTestId('next-settings').getAttribute('href')).toBe('#/wizard/settings');
  });

  it('asks before cancelling with the focus on the safe answer; Escape puts the question away', async () => {
    await setup();
    await fireEvent.click(screen.getByTestId('cancel-run'));
    expect(document.activeElement).toBe(screen.getByTestId('cancel-keep'));
    await fireEvent.keyDown(window, { key: 'Escape' });
    await waitFor(() => expect(document.activeElement).toBe(screen.getByTestId('cancel-run')));
    expect(screen.queryByTestId('cancel-confirm')).toBeNull();
    expect(api.inputs('runs.cancel')).toHaveLength(0);
  });
});
