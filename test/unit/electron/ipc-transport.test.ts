// The Electron transport's logic with stand-ins for ipcMain and webContents.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Handlers } from '../../../main/api/dispatch.js';
import { EventBus } from '../../../main/api/events.js';
import {
  EVENT_CHANNEL,
  INVOKE_CHANNEL,
  type InvokeEventLike,
  type IpcMainLike,
  registerIpcTransport,
} from '../../../main/electron/ipc-transport.js';
import { REPO_ROOT } from '../../helpers/cli.js';

type Listener = (event: InvokeEventLike, ...args: unknown[]) => unknown;

function fakeIpcMain() {
  const handlers = new Map<string, Listener>();
  const ipc: IpcMainLike = {
    handle: (channel, listener) => {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, listener);
    },
    removeHandler: (channel) => handlers.delete(channel),
  };
  return { ipc, handlers };
}

const appUrl = 'file:///app/out/renderer/index.html';
const handlers = {
  'runs.list': ({ limit }: { limit: number }) => [{ limit }],
} as unknown as Handlers;

function setup() {
  const { ipc, handlers: registered } = fakeIpcMain();
  const bus = new EventBus();
  const sent: unknown[][] = [];
  const contents = {
    destroyed: false,
    isDestroyed: () => contents.destroyed,
    send: (...a: unknown[]) => sent.push(a),
  };
  const dispose = registerIpcTransport({
    ipcMain: ipc,
    handlers,
    bus,
    targets: () => [contents],
    isTrustedSender: (url) => url.startsWith(appUrl),
  });
  const invoke = (url: string | undefined, ...args: unknown[]) =>
    registered.get(INVOKE_CHANNEL)?.({ senderFrame: url ? { url } : null }, ...args);
  return { registered, bus, sent, contents, dispose, invoke };
}

describe('Electron IPC transport', () => {
  it('runs a command from the app page through the same dispatch as HTTP', async () => {
    const { invoke } = setup();
    expect(await invoke(appUrl, 'runs.list', { limit: 4 })).toEqual({ ok: true, value: [{ limit: 4 }] });
    expect(await invoke(appUrl, 'runs.list', { limit: 'four' })).toMatchObject({
      ok: false,
      error: { code: 'invalid-input' },
    });
  });

  it('refuses calls from other pages or frames without a URL', async () => {
    const { invoke } = setup();
    expect(await invoke('https://evil.example/', 'runs.list', {})).toMatchObject({
      error: { code: 'forbidden' },
    });
    expect(await invoke(undefined, 'runs.list', {})).toMatchObject({ error: { code: 'forbidden' } });
  });

  it('refuses a non-string command name', async () => {
    const { invoke } = setup();
    expect(await invoke(appUrl, 42, {})).toMatchObject({ error: { code: 'invalid-input' } });
  });

  it('forwards bus events to live windows only, and stops after dispose', () => {
    const { bus, sent, contents, dispose, registered } = setup();
    bus.emit('system.log', { level: 'info', message: 'one', at: 1 });
    expect(sent).toEqual([[EVENT_CHANNEL, 'system.log', { level: 'info', message: 'one', at: 1 }]]);
    contents.destroyed = true;
    bus.emit('system.log', { level: 'info', message: 'two', at: 2 });
    expect(sent).toHaveLength(1);
    contents.destroyed = false;
    dispose();
    bus.emit('system.log', { level: 'info', message: 'three', at: 3 });
    expect(sent).toHaveLength(1);
    expect(registered.has(INVOKE_CHANNEL)).toBe(false);
  });

  it('uses the channel names the preload script uses', () => {
    const preload = readFileSync(join(REPO_ROOT, 'main', 'preload', 'index.ts'), 'utf8');
    expect(preload).toContain(`'${INVOKE_CHANNEL}'`);
    expect(preload).toContain(`'${EVENT_CHANNEL}'`);
  });
});
