// The Electron transport: one invoke channel and one event channel carry the typed contract.
// This file and main/preload are the only places that touch ipcMain / ipcRenderer.
import { type BrowserWindow, ipcMain } from 'electron';
import { dispatch, type Handlers } from '../api/dispatch.js';
import type { EventBus } from '../api/events.js';

export const INVOKE_CHANNEL = 'tunesmith:invoke';
export const EVENT_CHANNEL = 'tunesmith:event';

export function registerIpc(handlers: Handlers, bus: EventBus, windows: () => BrowserWindow[]): () => void {
  ipcMain.handle(INVOKE_CHANNEL, (_event, name: unknown, input: unknown) =>
    typeof name === 'string'
      ? dispatch(handlers, name, input)
      : { ok: false, error: { code: 'invalid-input', message: 'Command name must be a string.' } },
  );
  const unsubscribe = bus.subscribe((name, payload) => {
    for (const win of windows()) {
      if (!win.isDestroyed()) win.webContents.send(EVENT_CHANNEL, name, payload);
    }
  });
  return () => {
    ipcMain.removeHandler(INVOKE_CHANNEL);
    unsubscribe();
  };
}
