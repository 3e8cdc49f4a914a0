// An example as the model sees it (trained spans, end token) and the token-length histogram.
import { cleanup, render } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import ExamplePreview from '../../../renderer/src/components/ExamplePreview';
import LengthHistogram, { HistogramChart } from '../../../renderer/src/components/LengthHistogram';
import { FakeApi } from '../fake-api';
import { lengths, preview } from '../fixtures';

let api: FakeApi;
vi.mock('../../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../../renderer/src/lib/api')>()),
  getApi: () => api,
}));

beforeEach(() => {
  api = new FakeApi();
});
afterEach(cleanup);

describe('ExamplePreview', () => {
  it('highlights what the model learns and shows the end token', async () => {
    api.answer('datasets.preview', preview());
    const view = render(ExamplePreview, {
      props: { versionId: 3, ordinal: 0, modelDir: '/models/qwen', template: 'chatml', maxLen: 2048 },
    });
    await view.findByTestId('preview-text');
    const trained = view.getAllByTestId('preview-trained').map((e) => e.textContent);
    expect(trained).toEqual(['Answer 1', '<|im_end|>']);
    // The question is context, not learned; special tokens are visible markers.
    expect(view.getByTestId('preview-text').textContent).toContain('user\nQuestion 1');
    expect(view.getAllByTestId('preview-special').map((e) => e.textContent)).toContain('<|im_start|>');
    expect(view.getByTestId('preview-end-token').textContent).toContain('<|im_end|>');
    expect(view.getByTestId('preview-counts').textContent).toContain('24 tokens, 4 of them learned');
    expect(api.inputs('datasets.preview')).toEqual([
      { versionId: 3, ordinal: 0, modelDir: '/models/qwen', template: 'chatml', maxLen: 2048 },
    ]);
  });

  it('says when training will skip the example, and shows its issues', async () => {
    api.answer(
      'datasets.preview',
      preview({ trainedInRun: false, problem: 'it has 3,000 tokens, more than 2,048' }),
    );
    const view = render(ExamplePreview, {
      props: {
        versionId: 3,
        ordinal: 5,
        modelDir: '/m',
        maxLen: 2048,
        issues: [
          { ordinal: 5, severity: 'warning', rule: 'empty-prompt', message: 'Example 6 has no question.' },
        ],
      },
    });
    expect((await view.findByTestId('preview-problem')).textContent).toContain('3,000 tokens');
    expect(view.getByTestId('preview-issues').textContent).toContain('Example 6 has no question.');
    expect(api.inputs('datasets.preview')[0]).not.toHaveProperty('template');
  });

  it('shows the message and the hint when the preview fails', async () => {
    api.fail('datasets.preview', {
      code: 'tokenizer-missing',
      message: 'The model folder has no tokenizer.json.',
      hint: 'Choose a complete model folder.',
    });
    const view = render(ExamplePreview, { props: { versionId: 3, ordinal: 0, modelDir: '/m', maxLen: 512 } });
    const error = await view.findByTestId('preview-error');
    expect(error.textContent).toContain('no tokenizer.json');
    expect(error.textContent).toContain('Choose a complete model folder.');
  });
});

describe('LengthHistogram', () => {
  it('draws the max length where it falls and marks the bars past it', () => {
    const data = lengths({ maxLen: 2048 });
    const view = render(HistogramChart, { props: { lengths: data } });
    const marker = view.getByTestId('histogram-max-line');
    expect(marker.textContent).toContain('max length 2,048');
    // Bars run from 0 to 3,200 tokens: the line sits at 2048/3200 of the plot.
    const line = marker.querySelector('line')!;
    const bars = view.getAllByTestId('histogram-bar');
    const left = Number(bars[0]!.getAttribute('x')) - 0.5;
    const lastBar = bars.at(-1)!;
    const right = Number(lastBar.getAttribute('x')) - 0.5 + Number(lastBar.getAttribute('width')) + 1;
    expect((Number(line.getAttribute('x1')) - left) / (right - left)).toBeCloseTo(2048 / 3200, 2);
    const over = bars.filter((b) => b.classList.contains('over'));
    expect(over).toHaveLength(data.bins.filter((b) => b.from >= 2048).length);
    expect(over.length).toBeGreaterThan(0);
  });

  it('loads the lengths for the model and max length, and says how many are too long', async () => {
    api.answer('datasets.lengths', lengths({ overMaxLen: 4, maxLen: 1024 }));
    const view = render(LengthHistogram, { props: { versionId: 2, modelDir: '/m', maxLen: 1024 } });
    expect((await view.findByTestId('lengths-over')).textContent).toMatch(
      /4 examples are longer than the max length/,
    );
    expect(view.getByTestId('histogram-max-line').textContent).toContain('1,024');
    expect(api.inputs('datasets.lengths')).toEqual([{ versionId: 2, modelDir: '/m', maxLen: 1024 }]);
  });
});
