// The data step end to end against a fake API: upload a dropped file, see how it was read, change the
// columns, be held back by blocking problems, continue once the examples are fit to train.
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CommandInput } from '../../../main/api/contract';
import { WizardState } from '../../../renderer/src/lib/wizard.svelte';
import DataStep from '../../../renderer/src/pages/wizard/DataStep.svelte';
import { FakeApi } from '../fake-api';
import { example, importResult, lengths, preview, report, version } from '../fixtures';
import Harness from '../Harness.svelte';

let api: FakeApi;
vi.mock('../../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../../renderer/src/lib/api')>()),
  getApi: () => api,
}));

const CSV = 'question,answer,answer2\nHi,Hello,Hey\n';
const BLOCKING = report({
  errorCount: 1,
  blockingCount: 1,
  blockingOrdinals: [1],
  byRule: { 'empty-reply': { severity: 'error', count: 1 } },
  issues: [
    {
      ordinal: 1,
      severity: 'error',
      rule: 'empty-reply',
      message: 'Example 2 (line 3) has an empty assistant reply.',
    },
  ],
});

let wizard: WizardState;
beforeEach(() => {
  localStorage.clear();
  wizard = new WizardState(localStorage);
  wizard.update({ modelDir: '/models/qwen', modelName: 'qwen' });
  window.location.hash = '#/wizard/data';
  api = new FakeApi()
    .answer('datasets.list', [])
    .answer(
      'datasets.examples',
      ({ offset = 0, limit = 50, onlyIssues }: CommandInput<'datasets.examples'>) => {
        const all = [0, 1, 2].map((o) =>
          example(o, {
            issues: BLOCKING.issues.filter((i) => i.ordinal === o),
            source: { row: o + 2, values: { question: 'q', answer: 'a', answer2: 'b' } },
          }),
        );
        const matching = onlyIssues ? all.filter((e) => e.issues.length > 0) : all;
        return { total: matching.length, examples: matching.slice(offset, offset + limit) };
      },
    )
    .answer('datasets.preview', preview())
    .answer('datasets.lengths', lengths());
});
afterEach(cleanup);

async function choose(select: HTMLSelectElement, value: string) {
  await fireEvent.change(select, { target: { value } });
}

interface View {
  getByTestId(id: string): HTMLElement;
  findByTestId(id: string): Promise<HTMLElement>;
}

async function dropFile(view: View): Promise<HTMLElement> {
  const file = new File([CSV], 'support.csv', { type: 'text/csv' });
  await fireEvent.change(view.getByTestId('file-input'), { target: { files: [file] } });
  return view.findByTestId('import-result');
}

describe('DataStep', () => {
  it('uploads a chosen file, shows how it was read, remembers the version and lets the person continue', async () => {
    api.answer('datasets.upload', importResult());
    const view = render(Harness, { props: { component: DataStep, wizard } });
    expect((view.getByTestId('data-continue') as HTMLButtonElement).disabled).toBe(true);

    const result = await dropFile(view);
    expect(result.textContent).toContain('examples');
    await waitFor(() => expect(wizard.choices).toMatchObject({ datasetId: 1, versionId: 1 }));
    const [upload] = api.inputs('datasets.upload');
    expect(Object.keys(upload!).sort()).toEqual(['content', 'encoding', 'fileName', 'seed', 'splitRatio']);
    // A tenth is held back to check progress, so the run has an eval loss and a best checkpoint.
    expect(upload).toMatchObject({ fileName: 'support.csv', encoding: 'base64', splitRatio: 0.1, seed: 42 });
    expect(atob(upload!.content)).toBe(CSV);
    expect(view.getByTestId('detected-format').textContent).toContain('CSV');
    expect(view.getByTestId('mapping-reason').textContent).toContain('question → user');
    expect(view.getByTestId('report-clean').textContent).toContain('All 3 examples look right');
    await view.findByTestId('preview-text');
    await view.findByTestId('histogram-chart');
    expect(api.inputs('datasets.lengths')[0]).toMatchObject({
      versionId: 1,
      modelDir: '/models/qwen',
      maxLen: 2048,
    });

    const next = view.getByTestId('data-continue') as HTMLButtonElement;
    expect(next.disabled).toBe(false);
    await fireEvent.click(next);
    expect(window.location.hash).toBe('#/wizard/settings');
    // Measuring lengths tokenizes every example: done once, not again on each wizard change.
    expect(api.inputs('datasets.lengths')).toHaveLength(1);
  });

  it('holds "Continue" while examples block training and leads to the rows with issues', async () => {
    api.answer('datasets.upload', importResult({ report: BLOCKING }));
    const view = render(Harness, { props: { component: DataStep, wizard } });
    await dropFile(view);
    expect((view.getByTestId('data-continue') as HTMLButtonElement).disabled).toBe(true);
    await waitFor(() =>
      expect(view.getByTestId('data-continue-reason').textContent).toContain('Only rows with issues'),
    );
    expect(view.getByTestId('blocking-note').textContent).toContain(
      '1 example has a problem that stops training',
    );

    await fireEvent.click(view.getByTestId('report-show-issues'));
    expect((view.getByTestId('editor-only-issues') as HTMLInputElement).checked).toBe(true);
    await waitFor(() => expect(api.inputs('datasets.examples').at(-1)).toMatchObject({ onlyIssues: true }));
    await view.findByTestId('editor-row-1');
    expect(view.queryByTestId('editor-row-0')).toBeNull();

    // Fixing the reply and saving makes a version without problems: Continue opens.
    api.answer('datasets.edit', { version: version(2), report: report() });
    await fireEvent.input(view.getByLabelText('Example 2, reply'), { target: { value: 'Now answered' } });
    expect(view.getByTestId('data-continue-reason').textContent).toContain('Save your changes');
    await fireEvent.click(view.getByTestId('editor-save'));
    await waitFor(() =>
      expect((view.getByTestId('data-continue') as HTMLButtonElement).disabled).toBe(false),
    );
    expect(wizard.choices.versionId).toBe(2);
    expect(view.getByTestId('editor-saved').textContent).toContain('Saved as version 2');
    expect(view.getByTestId('import-result').textContent).toContain('version 2');
  });

  it('reads the file again with the columns the person picks, as the next version', async () => {
    api.answer('datasets.upload', (input) =>
      input.map
        ? importResult({
            version: version(2),
            mapping: { kind: 'columns', system: null, user: ['question'], assistant: 'answer2' },
            layout: 'custom',
            reason: 'The columns were given with --map.',
          })
        : importResult(),
    );
    const view = render(Harness, { props: { component: DataStep, wizard } });
    await dropFile(view);
    const apply = view.getByTestId('mapping-apply') as HTMLButtonElement;
    expect(apply.disabled).toBe(true);
    const assistant = await waitFor(() => {
      const select = view.getByTestId('map-assistant') as HTMLSelectElement;
      expect([...select.options].map((o) => o.value)).toContain('answer2');
      return select;
    });
    await choose(assistant, 'answer2');
    expect(apply.disabled).toBe(false);
    await fireEvent.click(apply);

    await waitFor(() => expect(api.inputs('datasets.upload')).toHaveLength(2));
    expect(api.inputs('datasets.upload')[1]).toMatchObject({
      fileName: 'support.csv',
      datasetId: 1,
      map: 'user=question,assistant=answer2',
      splitRatio: 0.1,
    });
    await waitFor(() => expect(wizard.choices.versionId).toBe(2));
    expect(view.getByTestId('import-result').textContent).toContain('version 2');
    expect(view.getByTestId('mapping-reason').textContent).toBe('Read with the columns you chose.');
  });

  it('when the columns cannot be told apart, says why and offers them to choose', async () => {
    api.fail('datasets.upload', {
      code: 'bad-mapping',
      message: 'support.csv: Tunesmith could not tell which column holds the reply. Its columns are: q, a.',
      hint: 'Name the roles with --map.',
    });
    const view = render(Harness, { props: { component: DataStep, wizard } });
    await fireEvent.change(view.getByTestId('file-input'), {
      target: { files: [new File([CSV], 'support.csv')] },
    });
    expect((await view.findByTestId('data-error')).textContent).toContain(
      'could not tell which column holds the reply',
    );
    const assistant = (await view.findByTestId('map-assistant')) as HTMLSelectElement;
    expect([...assistant.options].map((o) => o.value)).toEqual(['', 'q', 'a']);
  });

  it('resumes with the version chosen before', async () => {
    wizard.update({ datasetId: 1, versionId: 5 });
    api.answer('datasets.get', {
      dataset: { id: 1, name: 'support', createdAt: 1, updatedAt: 1 },
      version: version(5),
      versions: [version(4), version(5)],
      report: report(),
    });
    const view = render(Harness, { props: { component: DataStep, wizard } });
    expect((await view.findByTestId('import-result')).textContent).toContain('version 5');
    expect(api.inputs('datasets.get')).toEqual([{ versionId: 5 }]);
  });
});
