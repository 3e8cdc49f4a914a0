// The data editor: a virtualized grid over a version's examples, edits saved as a new version,
// search and "only rows with issues" answered by datasets.examples.
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { CommandInput, DatasetExample } from '../../../main/api/contract';
import DataEditor from '../../../renderer/src/components/DataEditor';
import { FakeApi } from '../fake-api';
import { example, report, version } from '../fixtures';

let api: FakeApi;
vi.mock('../../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../../renderer/src/lib/api')>()),
  getApi: () => api,
}));

/** A version of `total` examples; examples whose ordinal is a multiple of 7 have an issue. */
function answerExamples(total: number) {
  const all = (ordinal: number): DatasetExample =>
    example(ordinal, {
      issues:
        ordinal % 7 === 0
          ? [
              {
                ordinal,
                severity: 'error',
                rule: 'empty-reply',
                message: `Example ${ordinal + 1} has an empty reply.`,
              },
            ]
          : [],
    });
  return ({ offset = 0, limit = 50, search, onlyIssues }: CommandInput<'datasets.examples'>) => {
    // Filters are only ever asked of small versions in these tests; a 100k version is paged directly.
    if (search || onlyIssues) {
      const matching = Array.from({ length: total }, (_, i) => all(i)).filter(
        (e) =>
          (!onlyIssues || e.issues.length > 0) &&
          (!search || e.messages.some((m) => m.content.toLowerCase().includes(search.toLowerCase()))),
      );
      return { total: matching.length, examples: matching.slice(offset, offset + limit) };
    }
    const end = Math.min(total, offset + limit);
    return { total, examples: Array.from({ length: Math.max(0, end - offset) }, (_, i) => all(offset + i)) };
  };
}

const renderedOrdinals = (root: HTMLElement) =>
  [...root.querySelectorAll<HTMLElement>('[data-testid^="editor-row-"]')]
    .map((row) => /^editor-row-(\d+)$/.exec(row.dataset.testid ?? '')?.[1])
    .filter((o): o is string => o !== undefined)
    .map(Number);

beforeEach(() => {
  api = new FakeApi();
});
afterEach(cleanup);

describe('DataEditor', () => {
  it('keeps only the rows in view in the DOM for 100,000 examples, and scrolling changes them', async () => {
    api.answer('datasets.examples', answerExamples(100_000));
    const view = render(DataEditor, {
      props: { versionId: 1, onSaved: () => {}, rowHeight: 60, height: 420 },
    });
    await view.findByTestId('editor-row-0');
    const first = renderedOrdinals(view.container);
    expect(first[0]).toBe(0);
    expect(first.length).toBeGreaterThanOrEqual(7); // 420 px of 60 px rows, plus a few below
    expect(first.length).toBeLessThan(20);
    expect(view.getByTestId('editor-count').textContent).toContain('100,000 examples');

    const viewport = view.getByTestId('editor-viewport');
    viewport.scrollTop = 50_000 * 60;
    await fireEvent.scroll(viewport);
    await view.findByTestId('editor-row-50000');
    const later = renderedOrdinals(view.container);
    expect(later).not.toContain(0);
    expect(later.length).toBeLessThan(20);
    expect(Math.min(...later)).toBeGreaterThan(49_990);
    // The page holding row 50,000 was fetched, and nothing like the whole version.
    expect(api.inputs('datasets.examples').some((i) => i.offset === 50_000)).toBe(true);
    expect(api.inputs('datasets.examples').length).toBeLessThan(6);
  });

  it('saves an edited cell as a new version and says which', async () => {
    api.answer('datasets.examples', answerExamples(3)).answer('datasets.edit', () => ({
      version: version(2, { exampleCount: 3 }),
      report: report(),
    }));
    const onSaved = vi.fn();
    const view = render(DataEditor, { props: { versionId: 1, onSaved } });
    const reply = await view.findByLabelText('Example 2, reply');
    expect((reply as HTMLTextAreaElement).value).toBe('Answer 2');
    await fireEvent.input(reply, { target: { value: 'A better answer' } });
    expect(view.getByTestId('editor-pending').textContent).toContain('1 change not saved');

    await fireEvent.click(view.getByTestId('editor-save'));
    await view.findByTestId('editor-saved');
    expect(api.inputs('datasets.edit')).toEqual([
      {
        versionId: 1,
        update: [
          {
            ordinal: 1,
            messages: [
              { role: 'user', content: 'Question 2' },
              { role: 'assistant', content: 'A better answer' },
            ],
          },
        ],
      },
    ]);
    expect(view.getByTestId('editor-saved').textContent).toContain('Saved as version 2');
    expect(onSaved).toHaveBeenCalledWith(
      expect.objectContaining({ version: expect.objectContaining({ id: 2 }) }),
    );
  });

  it('sends deleted and added examples with the save', async () => {
    api.answer('datasets.examples', answerExamples(3)).answer('datasets.edit', () => ({
      version: version(2),
      report: report(),
    }));
    const view = render(DataEditor, { props: { versionId: 1, onSaved: () => {} } });
    await fireEvent.click(await view.findByLabelText('Delete example 1'));
    await fireEvent.click(view.getByTestId('editor-add'));
    await fireEvent.input(view.getByTestId('turn-content-0'), { target: { value: 'New question' } });
    await fireEvent.input(view.getByTestId('turn-content-1'), { target: { value: 'New reply' } });
    await fireEvent.click(view.getByTestId('turns-done'));
    expect(view.getByTestId('editor-added').textContent).toContain('New question');
    expect(view.getByTestId('editor-pending').textContent).toContain('2 changes');

    await fireEvent.click(view.getByTestId('editor-save'));
    await view.findByTestId('editor-saved');
    expect(api.inputs('datasets.edit')[0]).toEqual({
      versionId: 1,
      remove: [0],
      add: [
        {
          messages: [
            { role: 'user', content: 'New question' },
            { role: 'assistant', content: 'New reply' },
          ],
        },
      ],
    });
  });

  it('shows the reason when a save fails, and keeps the changes', async () => {
    api.answer('datasets.examples', answerExamples(3)).fail('datasets.edit', {
      code: 'store-busy',
      message: 'The database is busy.',
      hint: 'Try again in a moment.',
    });
    const view = render(DataEditor, { props: { versionId: 1, onSaved: () => {} } });
    await fireEvent.input(await view.findByLabelText('Example 1, question'), {
      target: { value: 'Changed' },
    });
    await fireEvent.click(view.getByTestId('editor-save'));
    const error = await view.findByTestId('editor-save-error');
    expect(error.textContent).toContain('The database is busy.');
    expect(error.textContent).toContain('Try again in a moment.');
    expect(view.getByTestId('editor-pending').textContent).toContain('1 change');
  });

  it('asks datasets.examples for search matches and for rows with issues', async () => {
    api.answer('datasets.examples', answerExamples(30));
    const view = render(DataEditor, { props: { versionId: 4, onSaved: () => {} } });
    await view.findByTestId('editor-row-0');

    await fireEvent.input(view.getByTestId('editor-search'), { target: { value: 'question 12' } });
    await waitFor(() => expect(renderedOrdinals(view.container)).toEqual([11]));
    expect(api.inputs('datasets.examples').at(-1)).toMatchObject({ versionId: 4, search: 'question 12' });
    expect(view.getByTestId('editor-count').textContent).toContain('1 matching');

    await fireEvent.input(view.getByTestId('editor-search'), { target: { value: '' } });
    await fireEvent.click(view.getByTestId('editor-only-issues'));
    await waitFor(() => expect(renderedOrdinals(view.container)).toEqual([0, 7, 14, 21, 28]));
    const last = api.inputs('datasets.examples').at(-1);
    expect(last).toMatchObject({ versionId: 4, onlyIssues: true });
    expect(last?.search).toBeUndefined();
    expect(view.getByTestId('editor-issues-7').textContent).toContain('empty reply');
  });
});
