// chat.generate / chat.cancel / chat.token over the real HTTP server, with the tiny demo model: replies
// stream as events that add up to the reply, conversations of several turns, cancelling mid-reply.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChatTokenEvent, ModelSummary } from '../../main/api/contract.js';
import { type ApiServer, startApiServer } from '../helpers/api-server.js';

let api: ApiServer;
let demo: ModelSummary;

beforeAll(async () => {
  api = await startApiServer();
  demo = await api.call('models.createDemo', {});
});
afterAll(async () => {
  await api?.close();
});

async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const textOf = (events: ChatTokenEvent[], requestId: string) =>
  events
    .filter((e) => e.requestId === requestId)
    .map((e) => e.text)
    .join('');

describe('chat.generate', () => {
  it('streams a reply as chat.token events that add up to the reply', async () => {
    const tokens = await api.listen('chat.token');
    const reply = await api.call('chat.generate', {
      requestId: 'first',
      modelDir: demo.path,
      messages: [{ role: 'user', content: 'What is the capital of France?' }],
      maxNewTokens: 12,
      temperature: 0,
    });
    expect(reply.requestId).toBe('first');
    expect(reply.cancelled).toBe(false);
    expect(reply.tokens).toBeGreaterThan(0);
    expect(reply.tokens).toBeLessThanOrEqual(12);
    expect(reply.promptTokens).toBeGreaterThan(5);
    expect(reply.template).toBe('model');
    expect(reply.source).toMatch(/base model/);
    await until(() => textOf(tokens.events, 'first') === reply.text, 'the streamed text');
    tokens.close();
  });

  it('answers the last message of a conversation, greedily the same each time', async () => {
    const conversation = {
      modelDir: demo.path,
      system: 'You are brief.',
      messages: [
        { role: 'user' as const, content: 'Hello' },
        { role: 'assistant' as const, content: 'Hi! How can I help?' },
        { role: 'user' as const, content: 'Name a colour.' },
      ],
      maxNewTokens: 8,
      temperature: 0,
    };
    const first = await api.call('chat.generate', { ...conversation, requestId: 'a' });
    const second = await api.call('chat.generate', { ...conversation, requestId: 'b' });
    expect(second.text).toBe(first.text);
    const single = await api.call('chat.generate', {
      requestId: 'c',
      modelDir: demo.path,
      messages: [{ role: 'user', content: 'Name a colour.' }],
      maxNewTokens: 8,
      temperature: 0,
    });
    // The earlier turns are part of the prompt.
    expect(first.promptTokens).toBeGreaterThan(single.promptTokens + 10);
  });

  it('stops a reply on chat.cancel and resolves with what was written so far', async () => {
    const tokens = await api.listen('chat.token');
    const started = Date.now();
    const pending = api.call('chat.generate', {
      requestId: 'long',
      modelDir: demo.path,
      messages: [{ role: 'user', content: 'Tell me a very long story.' }],
      maxNewTokens: 400,
      temperature: 0,
    });
    await until(() => tokens.events.some((e) => e.requestId === 'long'), 'the first token');
    expect(await api.call('chat.cancel', { requestId: 'long' })).toEqual({ cancelled: true });
    const reply = await pending;
    expect(reply.cancelled).toBe(true);
    expect(reply.stopped).toBe(false);
    expect(reply.tokens).toBeLessThan(400);
    expect(reply.text.length).toBeGreaterThan(0);
    expect(Date.now() - started).toBeLessThan(20_000);
    // Nothing more is streamed for it after the reply.
    await new Promise((r) => setTimeout(r, 300));
    expect(textOf(tokens.events, 'long')).toBe(reply.text);
    tokens.close();
    // The reply is over: there is nothing left to cancel.
    expect(await api.call('chat.cancel', { requestId: 'long' })).toEqual({ cancelled: false });
  });

  it('refuses a conversation that does not end with the user, and an unknown run', async () => {
    const ended = await api.fail('chat.generate', {
      requestId: 'x',
      modelDir: demo.path,
      messages: [
        { role: 'user', content: 'Hi' },
        { role: 'assistant', content: 'Hello' },
      ],
    });
    expect(ended.code).toBe('bad-conversation');
    expect(ended.hint).toBeTruthy();
    const noRun = await api.fail('chat.generate', {
      requestId: 'y',
      runId: 999,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(noRun.code).toBe('not-found');
    const both = await api.post('chat.generate', {
      requestId: 'z',
      runId: 1,
      modelDir: demo.path,
      messages: [{ role: 'user', content: 'Hi' }],
    });
    expect(both.body.error?.code).toBe('invalid-input');
  });
});
