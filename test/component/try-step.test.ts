import { cleanup, fireEvent, render, screen, waitFor } from '@testing-library/svelte';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ChatReply, CommandInput } from '../../main/api/contract';
import { WizardState } from '../../renderer/src/lib/wizard.svelte';
import TryStep from '../../renderer/src/pages/wizard/TryStep.svelte';
import { FakeApi } from './fake-api';
import { checkpoint, newRunDetails } from './fixtures';
import Harness from './Harness.svelte';

let api: FakeApi;
vi.mock('../../renderer/src/lib/api', async (load) => ({
  ...(await load<typeof import('../../renderer/src/lib/api')>()),
  getApi: () => api,
}));

type Generate = { input: CommandInput<'chat.generate'>; finish: (patch?: Partial<ChatReply>) => void };
let generating: Generate[];

function reply(input: CommandInput<'chat.generate'>, patch: Partial<ChatReply>): ChatReply {
  return {
    requestId: input.requestId,
    text: '',
    stopped: true,
    cancelled: false,
    tokens: 5,
    promptTokens: 20,
    tokensPerSecond: 40,
    template: 'chatml',
    source: input.checkpoint === 'base' ? 'base model' : 'run 7, checkpoint at step 120',
    ...patch,
  };
}

async function setup() {
  localStorage.clear();
  const wizard = new WizardState(localStorage);
  wizard.update({ runId: 7 });
  render(Harness, { props: { component: TryStep, wizard } });
  await waitFor(() => expect(api.inputs('runs.get')).toHaveLength(1));
  return wizard;
}

async function ask(text: string) {
  await fireEvent.input(screen.getByTestId('chat-input'), { target: { value: text } });
  await fireEvent.click(screen.getByTestId('chat-send'));
}

beforeEach(() => {
  api = new FakeApi();
  generating = [];
  api.answer(
    'runs.get',
    newRunDetails(7, { checkpoints: [checkpoint(11, 60, 1.4), checkpoint(12, 120, 1.2)] }),
  );
  api.answer(
    'chat.generate',
    (input) =>
      new Promise<ChatReply>((resolve) => {
        generating.push({ input, finish: (patch = {}) => resolve(reply(input, patch)) });
      }),
  );
  api.answer('chat.cancel', { cancelled: true });
});
afterEach(cleanup);

describe('Try step', () => {
  it('streams the reply as it is written, and Stop cancels it', async () => {
    await setup();
    await ask('Where is my order?');
    await waitFor(() => expect(generating).toHaveLength(1));
    const [{ input, finish }] = generating as [Generate];
    expect(input).toMatchObject({
      runId: 7,
      checkpoint: 'best',
      messages: [{ role: 'user', content: 'Where is my order?' }],
    });

    api.emit('chat.token', { requestId: input.requestId, text: 'It ships' });
    api.emit('chat.token', { requestId: 'someone-else', text: 'NOISE' });
    api.emit('chat.token', { requestId: input.requestId, text: ' today' });
    await waitFor(() => expect(screen.getByTestId('chat-reply').textContent).toContain('It ships today'));
    expect(screen.getByTestId('chat-reply').textContent).not.toContain('NOISE');

    await fireEvent.click(screen.getByTestId('chat-stop'));
    expect(api.inputs('chat.cancel')).toEqual([{ requestId: input.requestId }]);
    finish({ text: 'It ships today', cancelled: true });
    await waitFor(() =>
      expect(screen.getByTestId('chat-ending-tuned').textContent).toContain('Stopped by you'),
    );
    expect(screen.getByTestId('chat-send')).toBeTruthy();
  });

  it('asks the base model too when side by side, with the same system prompt', async () => {
    await setup();
    await fireEvent.input(screen.getByTestId('chat-system'), { target: { value: 'You are Acme support.' } });
    await fireEvent.click(screen.getByTestId('chat-side-by-side'));
    await fireEvent.change(screen.getByTestId('checkpoint-picker'), { target: { value: '11' } });
    await ask('Hi');
    await waitFor(() => expect(generating).toHaveLength(2));
    expect(generating.map((g) => g.input.checkpoint).sort()).toEqual([11, 'base'].sort());
    expect(generating.every((g) => g.input.system === 'You are Acme support.')).toBe(true);
    for (const g of generating)
      g.finish({ text: g.input.checkpoint === 'base' ? 'Hello.' : 'Hi! Acme here.' });
    await waitFor(() => expect(screen.getByTestId('chat-reply-base').textContent).toBe('Hello.'));
    expect(screen.getByTestId('chat-reply').textContent).toBe('Hi! Acme here.');

    // The next question carries each side's own conversation.
    await ask('And?');
    await waitFor(() => expect(generating).toHaveLength(4));
    const tuned = generating.slice(2).find((g) => g.input.checkpoint !== 'base')!;
    expect(tuned.input.messages.map((m) => m.content)).toEqual(['Hi', 'Hi! Acme here.', 'And?']);
  });

  it('keeps the newest text of the conversation in view, unless the person scrolled up to read', async () => {
    await setup();
    const box = screen.getByTestId('chat-conversation');
    let height = 1000;
    Object.defineProperty(box, 'scrollHeight', { configurable: true, get: () => height });
    Object.defineProperty(box, 'clientHeight', { configurable: true, get: () => 200 });
    await ask('Where is my order?');
    await waitFor(() => expect(box.scrollTop).toBe(1000));

    const { input } = generating[0]!;
    height = 1400;
    api.emit('chat.token', { requestId: input.requestId, text: 'It ships' });
    await waitFor(() => expect(box.scrollTop).toBe(1400));

    box.scrollTop = 300;
    await fireEvent.scroll(box);
    height = 1600;
    api.emit('chat.token', { requestId: input.requestId, text: ' today' });
    await waitFor(() => expect(screen.getByTestId('chat-reply').textContent).toContain('It ships today'));
    expect(box.scrollTop).toBe(300);
  });

  it('shows why a reply failed', async () => {
    api.fail('chat.generate', {
      code: 'no-checkpoint',
      message: 'Run 7 has no checkpoint yet.',
      hint: 'Wait for the first save.',
    });
    await setup();
    await ask('Hi');
    const error = await screen.findByTestId('chat-error-tuned');
    expect(error.textContent).toContain('Run 7 has no checkpoint yet.');
    expect(error.textContent).toContain('Wait for the first save.');
  });

  it('says there is nothing to talk to before the first checkpoint', async () => {
    api.answer('runs.get', newRunDetails(7, { checkpoints: [] }));
    await setup();
    expect(await screen.findByTestId('no-checkpoint')).toBeTruthy();
    expect((screen.getByTestId('chat-send') as HTMLButtonElement).disabled).toBe(true);
  });
});
