// The run history: sort by a column, filter by status and text, tick runs to compare them.
import { cleanup, fireEvent, render, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import RunsList from '../../../renderer/src/pages/runs/RunsList.svelte';
import { FakeApi } from '../fake-api';
import { exportSummary, runSummary } from '../fixtures';
import Harness from '../Harness.svelte';

let api: FakeApi;
vi.mock('../../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../../renderer/src/lib/api')>()),
  getApi: () => api,
}));

const RUNS = [
  runSummary(1, { name: 'Bravo first try' }),
  runSummary(2, { name: 'alpha long run', status: 'failed', error: { message: 'Out of memory' } }),
  runSummary(3, {
    name: 'Charlie',
    status: 'paused',
    error: { code: 'interrupted', message: 'The trainer stopped' },
  }),
  runSummary(4, { name: 'delta', status: 'running', finishedAt: null }),
];

beforeEach(() => {
  window.location.hash = '#/runs';
  api = new FakeApi().answer('runs.list', RUNS).answer('exports.list', [exportSummary(7, 1)]);
});
afterEach(cleanup);

function rowIds(table: HTMLElement): number[] {
  return within(table)
    .queryAllByRole('row')
    .map((row) => row.dataset.testid?.match(/^run-row-(\d+)$/)?.[1])
    .filter((id): id is string => id !== undefined)
    .map(Number);
}

/** Picks an option the way a person does (Svelte reads the :checked option on change). */
async function choose(select: HTMLElement, value: string) {
  for (const option of (select as HTMLSelectElement).options) option.selected = option.value === value;
  await fireEvent.change(select);
}

async function renderList() {
  const view = render(Harness, { props: { component: RunsList } });
  const table = await view.findByTestId('runs-table');
  return { ...view, table };
}

describe('RunsList', () => {
  it('lists runs newest first and sorts by a column, both ways, saying so with aria-sort', async () => {
    const { table, getByTestId } = await renderList();
    expect(rowIds(table)).toEqual([4, 3, 2, 1]);

    await fireEvent.click(getByTestId('sort-name'));
    expect(rowIds(table)).toEqual([2, 1, 3, 4]);
    expect(getByTestId('sort-name').closest('th')?.getAttribute('aria-sort')).toBe('ascending');
    expect(getByTestId('sort-createdAt').closest('th')?.getAttribute('aria-sort')).toBe('none');

    await fireEvent.click(getByTestId('sort-name'));
    expect(rowIds(table)).toEqual([4, 3, 1, 2]);
    expect(getByTestId('sort-name').closest('th')?.getAttribute('aria-sort')).toBe('descending');

    await fireEvent.click(getByTestId('sort-duration'));
    expect(rowIds(table)[0]).toBe(4); // still training: the longest so far
  });

  it('filters by status (an interrupted run is its own status) and by text', async () => {
    const { table, getByTestId } = await renderList();
    expect(within(getByTestId('run-row-3')).getByTestId('run-status').textContent).toBe(
      'Stopped unexpectedly',
    );

    await choose(getByTestId('runs-status-filter'), 'failed');
    expect(rowIds(table)).toEqual([2]);
    await choose(getByTestId('runs-status-filter'), 'interrupted');
    expect(rowIds(table)).toEqual([3]);
    await choose(getByTestId('runs-status-filter'), 'all');

    await fireEvent.input(getByTestId('runs-filter'), { target: { value: 'ALPHA' } });
    expect(rowIds(table)).toEqual([2]);
    await fireEvent.input(getByTestId('runs-filter'), { target: { value: '#4' } });
    expect(rowIds(table)).toEqual([4]);
    await fireEvent.input(getByTestId('runs-filter'), { target: { value: 'nothing like this' } });
    expect(rowIds(table)).toEqual([]);
    expect(table.textContent).toContain('No runs match.');
  });

  it('compares the ticked runs once two are ticked', async () => {
    const { getByTestId, getByLabelText } = await renderList();
    const compare = getByTestId('compare-selected') as HTMLButtonElement;
    expect(compare.disabled).toBe(true);
    await fireEvent.click(getByLabelText(/Compare run 3,/));
    expect(compare.disabled).toBe(true);
    await fireEvent.click(getByLabelText(/Compare run 1,/));
    expect(compare.disabled).toBe(false);
    await fireEvent.click(compare);
    expect(window.location.hash).toBe('#/runs/compare?ids=1,3');
  });

  it('updates a row when its run changes status, and shows the step of a running run', async () => {
    const { getByTestId } = await renderList();
    api.emit('runs.event', {
      runId: 4,
      type: 'step',
      step: 12,
      totalSteps: 69,
      loss: 1,
      lr: 1e-4,
      gradNorm: 1,
      trainedTokens: 100,
      tokensPerSecond: 100,
      etaSeconds: 60,
      memoryBytes: 1,
      epoch: 0,
    });
    await waitFor(() => expect(getByTestId('run-row-4').textContent).toContain('step 12 of 69'));
    api.emit('runs.event', {
      runId: 4,
      type: 'status',
      run: runSummary(4, { name: 'delta', status: 'completed' }),
    });
    await waitFor(() =>
      expect(within(getByTestId('run-row-4')).getByTestId('run-status').textContent).toBe('Finished'),
    );
  });

  it('lists the exports, linked to their pages', async () => {
    const { findByTestId } = await renderList();
    const row = await findByTestId('export-row-7');
    expect(within(row).getByRole('link', { name: 'Export #7' }).getAttribute('href')).toBe('#/exports/7');
  });

  it('shows the message and the hint when the runs cannot be loaded', async () => {
    api.fail('runs.list', {
      code: 'store-corrupt',
      message: 'The database cannot be read.',
      hint: 'Run tunesmith doctor.',
    });
    const { findByTestId } = render(Harness, { props: { component: RunsList } });
    const notice = await findByTestId('error-notice');
    expect(notice.textContent).toContain('The database cannot be read.');
    expect(notice.textContent).toContain('Run tunesmith doctor.');
  });
});
