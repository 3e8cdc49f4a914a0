// Preload: exposes only the typed API bridge (invoke + subscribe) to the sandboxed renderer.
import { contextBridge, ipcRenderer, webUtils } from 'electron';

// Kept literal here: a sandboxed preload may only require 'electron'.
const INVOKE_CHANNEL = 'tunesmith:invoke';
const EVENT_CHANNEL = 'tunesmith:event';

contextBridge.exposeInMainWorld('tunesmith', {
  // A dropped or chosen file's path on disk, so main imports it in place instead of a copy.
  pathForFile: (file: File) => webUtils.getPathForFile(file),
  invoke: (name: string, input: unknown) => ipcRenderer.invoke(INVOKE_CHANNEL, name, input),
  subscribe: (listener: (name: string, payload: unknown) => void) => {
    const forward = (_event: unknown, name: string, payload: unknown) => listener(name, payload);
    ipcRenderer.on(EVENT_CHANNEL, forward);
    return () => {
      ipcRenderer.removeListener(EVENT_CHANNEL, forward);
    };
  },
});
