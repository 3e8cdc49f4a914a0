// The Electron transport: one invoke channel and one event channel carry the typed contract.
// Written against the two Electron objects it needs (ipcMain and webContents) as interfaces, so the
// logic is tested under Node; main/index.ts hands it the real ones. Only this file and main/preload
// know the channel names.
import { dispatch, type Handlers } from '../api/dispatch.js';
import type { EventBus } from '../api/events.js';

export const INVOKE_CHANNEL = 'tunesmith:invoke';
export const EVENT_CHANNEL = 'tunesmith:event';

export interface InvokeEventLike {
  senderFrame?: { url: string } | null;
}

export interface IpcMainLike {
  handle(channel: string, listener: (event: InvokeEventLike, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

export interface WebContentsLike {
  isDestroyed(): boolean;
  send(channel: string, ...args: unknown[]): void;
}

export interface IpcTransportOptions {
  ipcMain: IpcMainLike;
  handlers: Handlers;
  bus: EventBus;
  /** Where events go: the app's windows. */
  targets: () => WebContentsLike[];
  /** Only frames showing the app may call commands (not an iframe or a page navigated elsewhere). */
  isTrustedSender: (url: string) => boolean;
}

export function registerIpcTransport(options: IpcTransportOptions): () => void {
  const { ipcMain, handlers, bus, targets, isTrustedSender } = options;
  ipcMain.handle(INVOKE_CHANNEL, (event, name, input) => {
    const url = event.senderFrame?.url;
    if (!url || !isTrustedSender(url)) {
      return { ok: false, error: { code: 'forbidden', message: 'This page may not use the Tunesmith API.' } };
    }
    if (typeof name !== 'string') {
      return { ok: false, error: { code: 'invalid-input', message: 'The command name must be a string.' } };
    }
    return dispatch(handlers, name, input);
  });
  const unsubscribe = bus.subscribe((name, payload) => {
    for (const contents of targets()) {
      if (!contents.isDestroyed()) contents.send(EVENT_CHANNEL, name, payload);
    }
  });
  return () => {
    ipcMain.removeHandler(INVOKE_CHANNEL);
    unsubscribe();
  };
}
