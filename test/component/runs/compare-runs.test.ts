// Comparing runs: the settings that differ (and only those, until asked), the curves overlaid.
import { cleanup, fireEvent, render, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { RunDetailsInfo } from '../../../main/api/contract';
import CompareRuns from '../../../renderer/src/pages/runs/CompareRuns.svelte';
import { FakeApi } from '../fake-api';
import { FakePlot } from '../fake-uplot';
import { definition, metrics, runDetails, runSummary } from '../fixtures';
import Harness from '../Harness.svelte';

let api: FakeApi;
vi.mock('../../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../../renderer/src/lib/api')>()),
  getApi: () => api,
}));
vi.mock('uplot', async () => ({ default: (await import('../fake-uplot')).FakePlot }));

const DETAILS: Record<number, RunDetailsInfo> = {
  1: runDetails(1, { run: runSummary(1, { name: 'first' }), definition: definition() }),
  2: runDetails(2, {
    run: runSummary(2, { name: 'second' }),
    definition: definition({ preset: 'thorough', overrides: ['lr=1e-4'] }, { lr: 1e-4 }),
  }),
};

beforeEach(() => {
  window.location.hash = '#/runs/compare?ids=1,2';
  FakePlot.reset();
  api = new FakeApi()
    .answer('runs.get', ({ runId }) => DETAILS[runId]!)
    .answer('runs.metrics', ({ runId }) => metrics(runId === 1 ? [3, 2, 1] : [3, 2.5, 2]))
    .answer('runs.list', [runSummary(1), runSummary(2), runSummary(3, { name: 'third' })]);
});
afterEach(cleanup);

function renderCompare(ids = [1, 2]) {
  return render(Harness, { props: { component: CompareRuns, props: { ids } } });
}

describe('CompareRuns', () => {
  it('shows only the settings that differ, highlighted, and all of them on request', async () => {
    const { findByTestId } = renderCompare();
    const diff = await findByTestId('config-diff');
    const keys = within(diff)
      .getAllByTestId(/^diff-/)
      .map((row) => row.dataset.testid);
    expect(keys).toEqual(['diff-preset', 'diff-overrides', 'diff-hyper.lr']);
    const lr = within(diff).getByTestId('diff-hyper.lr');
    expect(
      within(lr)
        .getAllByRole('cell')
        .map((c) => c.textContent),
    ).toEqual(['0.0002', '0.0001']);
    expect(diff.textContent).toContain('3 settings differ.');

    await fireEvent.click(within(diff).getByTestId('config-diff-all'));
    const seed = within(diff).getByTestId('diff-hyper.seed');
    expect(seed.classList.contains('differs')).toBe(false);
    expect(lr.classList.contains('differs')).toBe(true);
  });

  it('overlays the curves: one line per run on each chart', async () => {
    const { findByTestId } = renderCompare();
    await findByTestId('runs-overlay');
    const loss = FakePlot.live.find((p) => p.options.series.some((s) => s.label === '#1 first'));
    expect(loss?.options.series.map((s) => s.label)).toEqual(['Step', '#1 first', '#2 second']);
    expect(Array.from(loss!.data[2]!)).toEqual([3, 2.5, 2]);
    expect((await findByTestId('compare-summary')).textContent).toContain('#2 second');
  });

  it('adds and removes runs through the address', async () => {
    const { findByTestId, getByLabelText } = renderCompare();
    const add = await findByTestId('compare-add');
    await within(add).findByText('#3 third');
    for (const option of (add as HTMLSelectElement).options) option.selected = option.value === '3';
    await fireEvent.change(add);
    await fireEvent.click(within(add.closest('form')!).getByRole('button', { name: 'Add' }));
    expect(window.location.hash).toBe('#/runs/compare?ids=1,2,3');
    await fireEvent.click(getByLabelText('Remove run 1 from the comparison'));
    expect(window.location.hash).toBe('#/runs/compare?ids=2');
  });

  it('asks for a second run when only one is chosen', async () => {
    const { findByText } = renderCompare([1]);
    expect(await findByText(/Choose at least two runs to compare/)).toBeTruthy();
  });

  it('shows the message and the hint when a run cannot be loaded', async () => {
    api.fail('runs.get', {
      code: 'not-found',
      message: 'There is no run 2.',
      hint: 'Pick runs from the list.',
    });
    const { findByTestId } = renderCompare();
    const notice = await findByTestId('error-notice');
    expect(notice.textContent).toContain('There is no run 2.');
    expect(notice.textContent).toContain('Pick runs from the list.');
  });
});
