// Copying a command or a path says whether it worked; where the clipboard is refused (a browser on
// plain http) it says how to copy by hand.
import { cleanup, fireEvent, render, waitFor } from '@testing-library/svelte';
import { afterEach, describe, expect, it, vi } from 'vitest';
import CopyText from '../../renderer/src/components/CopyText';

afterEach(cleanup);

function clipboard(writeText: (text: string) => Promise<void>) {
  Object.defineProperty(navigator, 'clipboard', { configurable: true, value: { writeText } });
}

describe('CopyText', () => {
  it('copies the whole text and says so', async () => {
    const writeText = vi.fn(async () => {});
    clipboard(writeText);
    const view = render(CopyText, {
      props: { text: 'ollama create tiny -f Modelfile', label: 'the command' },
    });
    await fireEvent.click(view.getByRole('button', { name: 'Copy the command' }));
    expect(writeText).toHaveBeenCalledWith('ollama create tiny -f Modelfile');
    await waitFor(() => expect(view.getByRole('status').textContent).toBe('Copied.'));
  });

  it('says how to copy by hand when the clipboard is refused', async () => {
    clipboard(async () => {
      throw new DOMException('denied', 'NotAllowedError');
    });
    const view = render(CopyText, { props: { text: '/home/me/exports/run-7', label: 'the path' } });
    await fireEvent.click(view.getByRole('button', { name: 'Copy the path' }));
    await waitFor(() => expect(view.getByRole('status').textContent).toMatch(/copy it by hand/));
    expect(view.getByTestId('copy-text').textContent).toBe('/home/me/exports/run-7');
  });
});
