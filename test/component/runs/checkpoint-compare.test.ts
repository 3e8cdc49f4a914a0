// Comparing a run's checkpoints on its fixed prompts: the chosen ids go to runs.compare, the stop
// rates and reply lengths come back per column, and "Export this checkpoint" opens the wizard's
// export step with that checkpoint.
import { cleanup, fireEvent, render, waitFor, within } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import CheckpointCompare from '../../../renderer/src/components/CheckpointCompare';
import { WizardState } from '../../../renderer/src/lib/wizard.svelte';
import { FakeApi } from '../fake-api';
import { checkpoint, comparison } from '../fixtures';
import Harness from '../Harness.svelte';

let api: FakeApi;
vi.mock('../../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../../renderer/src/lib/api')>()),
  getApi: () => api,
}));

const CHECKPOINTS = [checkpoint(11, 23, 1.31), checkpoint(12, 46, 1.02), checkpoint(13, 69, 1.05)];

beforeEach(() => {
  window.location.hash = '#/runs/1';
  api = new FakeApi();
});
afterEach(cleanup);

function renderCompare(wizard = new WizardState(localStorage)) {
  const view = render(Harness, {
    props: { component: CheckpointCompare, props: { runId: 1, checkpoints: CHECKPOINTS }, wizard },
  });
  return { ...view, wizard };
}

describe('CheckpointCompare', () => {
  it('asks runs.compare for the chosen checkpoints and shows stop rate and reply length per column', async () => {
    api.answer('runs.compare', ({ checkpoints }) =>
      comparison(
        checkpoints.map((id, i) => ({
          checkpoint:
            id === 'base' ? 'base' : { id, step: CHECKPOINTS.find((c) => c.id === id)!.step, evalLoss: 1 },
          stopRate: [0, 0.5, 1][i]!,
          meanReplyTokens: [120, 64.4, 20][i]!,
        })),
      ),
    );
    const { getByTestId, findByTestId, getByLabelText } = renderCompare();
    // First pick: the model before training, the best (step 46) and the last (step 69).
    expect((getByLabelText('the model before training') as HTMLInputElement).checked).toBe(true);
    expect((getByTestId('compare-pick-12') as HTMLInputElement).checked).toBe(true);
    expect((getByTestId('compare-pick-11') as HTMLInputElement).checked).toBe(false);

    await fireEvent.click(getByTestId('compare-pick-13')); // untick the last
    await fireEvent.click(getByTestId('compare-pick-11')); // tick the first
    await fireEvent.click(getByTestId('compare-go'));

    expect(api.inputs('runs.compare')).toEqual([
      { runId: 1, checkpoints: ['base', 11, 12], maxNewTokens: 128 },
    ]);
    const result = await findByTestId('compare-result');
    const columns = within(result).getAllByTestId('compare-column');
    expect(columns.map((c) => within(c).getByTestId('stop-rate').textContent)).toEqual([
      'Stops on its own: 0%',
      'Stops on its own: 50%',
      'Stops on its own: 100%',
    ]);
    expect(columns[0]!.textContent).toContain('Before training');
    expect(columns[1]!.textContent).toContain('Step 23');
    expect(columns[1]!.textContent).toContain('Average reply: 64 tokens');
    expect(result.textContent).toContain('answer 2 to France');
    expect(result.textContent).toContain('cut off after 64 tokens');
  });

  it('shows progress while the answers are written', async () => {
    let finish: () => void = () => {};
    api.answer(
      'runs.compare',
      () =>
        new Promise((resolve) => {
          finish = () => resolve(comparison([{ checkpoint: 'base', stopRate: 1, meanReplyTokens: 10 }]));
        }),
    );
    const { getByTestId, findByTestId, queryByTestId } = renderCompare();
    await fireEvent.click(getByTestId('compare-go'));
    expect((await findByTestId('compare-busy')).textContent).toContain('Writing answers with 3 models');
    expect((getByTestId('compare-go') as HTMLButtonElement).disabled).toBe(true);
    finish();
    await findByTestId('compare-result');
    expect(queryByTestId('compare-busy')).toBeNull();
  });

  it('exports the checkpoint picked: the wizard opens at its export step with that checkpoint', async () => {
    api.answer(
      'runs.compare',
      comparison([
        { checkpoint: 'base', stopRate: 0, meanReplyTokens: 100 },
        { checkpoint: { id: 12, step: 46, evalLoss: 1.02 }, stopRate: 1, meanReplyTokens: 20 },
      ]),
    );
    const { getByTestId, findByTestId, wizard } = renderCompare();
    await fireEvent.click(getByTestId('compare-go'));
    await fireEvent.click(await findByTestId('export-checkpoint-12'));
    expect(wizard.choices).toMatchObject({ runId: 1, checkpoint: 12 });
    expect(window.location.hash).toBe('#/wizard/export');
    expect(new WizardState(localStorage).choices.checkpoint).toBe(12); // saved for a reload
  });

  it('shows the message and the hint when the comparison fails', async () => {
    api.fail('runs.compare', {
      code: 'not-implemented',
      message: 'Comparing checkpoints is not available yet.',
      hint: 'Update Tunesmith.',
    });
    const { getByTestId, findByTestId } = renderCompare();
    await fireEvent.click(getByTestId('compare-go'));
    const notice = await findByTestId('error-notice');
    expect(notice.textContent).toContain('Comparing checkpoints is not available yet.');
    expect(notice.textContent).toContain('Update Tunesmith.');
    await waitFor(() => expect((getByTestId('compare-go') as HTMLButtonElement).disabled).toBe(false));
  });
});
