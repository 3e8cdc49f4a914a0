// The trainer's line to its parent. Forked by child_process.fork (CLI, `tunesmith serve`, tests) it is
// Node's IPC channel: process.send, process.on('message'), 'disconnect' when the parent dies. Started by
// Electron's utilityProcess (the desktop app) it is process.parentPort: messages arrive as
// { data } events, postMessage has no delivery callback, and there is no disconnect (a utility
// process dies with the app). One trainer entry serves both; only this file knows the difference.
import type { ParentMessage, TrainerMessage } from './protocol.js';

/** Electron's ParentPort, as much of it as the trainer uses (no electron import: it runs under Node too). */
export interface ParentPortLike {
  on(event: 'message', listener: (event: { data: unknown }) => void): unknown;
  postMessage(message: unknown): void;
}

/** The parts of `process` the channel reads; tests pass a fake. */
export interface TrainerProcessLike {
  parentPort?: ParentPortLike | undefined;
  connected?: boolean;
  send?: (message: unknown, sendHandle: undefined, options: object, callback: () => void) => boolean;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'disconnect', listener: () => void): unknown;
}

export interface ParentChannel {
  readonly kind: 'ipc' | 'parent-port' | 'none';
  /** Resolves once the message is handed to the OS (IPC) or posted (parentPort). */
  send(message: TrainerMessage): Promise<void>;
  onMessage(listener: (message: ParentMessage) => void): void;
  /** The parent went away (IPC only). */
  onParentGone(listener: () => void): void;
  /** Call before process.exit so the last report reaches the parent. */
  flush(): Promise<void>;
}

/**
 * parentPort.postMessage gives no signal when the message has left the process, and a utility
 * process that exits at once may drop it; this grace period lets the last report ('completed',
 * 'failed') go out. A report that is lost anyway costs little: the run shows as interrupted and
 * resume finds the final checkpoint.
 */
export const PARENT_PORT_FLUSH_MS = 200;

export function connectToParent(proc: TrainerProcessLike): ParentChannel {
  const port = proc.parentPort;
  if (port) {
    return {
      kind: 'parent-port',
      send: async (message) => port.postMessage(message),
      onMessage: (listener) => {
        port.on('message', (event) => listener(event.data as ParentMessage));
      },
      onParentGone: () => {},
      flush: () => new Promise((resolve) => setTimeout(resolve, PARENT_PORT_FLUSH_MS)),
    };
  }
  const send = proc.send;
  return {
    kind: send ? 'ipc' : 'none',
    send: (message) =>
      new Promise((resolve) => {
        if (!send || !proc.connected) return resolve();
        send.call(proc, message, undefined, {}, () => resolve());
      }),
    onMessage: (listener) => {
      proc.on('message', (message) => listener(message as ParentMessage));
    },
    onParentGone: (listener) => {
      proc.on('disconnect', listener);
    },
    // process.send's callback already waited for each message to be written.
    flush: async () => {},
  };
}
