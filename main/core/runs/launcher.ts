// How RunService starts a trainer process, as a seam: under Node (CLI, `tunesmith serve`, tests) it is
// child_process.fork; the desktop app hands in Electron's utilityProcess (main/electron/
// trainer-process.ts). Both run the same entry, main/trainer/index.ts, and speak the same messages.
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ParentMessage, TrainerMessage } from '../../trainer/protocol.js';

/** The trainer's entry file and the runtime flags it needs (tsx for the TypeScript source). */
export interface TrainerEntry {
  file: string;
  execArgv: string[];
}

/** How a trainer process ended: an exit code, or the signal that killed it. */
export interface TrainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One running trainer process, whatever started it. */
export interface TrainerHandle {
  /** Undefined until the process has started (utilityProcess starts it asynchronously). */
  readonly pid: number | undefined;
  /** Called once with the process id when it runs; at once when it already does. */
  onSpawn(listener: (pid: number) => void): void;
  send(message: ParentMessage): void;
  onMessage(listener: (message: TrainerMessage) => void): void;
  /** Called once, after the process is gone (normal end, crash or kill alike). */
  onExit(listener: (exit: TrainerExit) => void): void;
  kill(): void;
}

export type LaunchTrainer = (entry: TrainerEntry, env: NodeJS.ProcessEnv) => TrainerHandle;

/** The compiled trainer beside this module (out/node), or its TypeScript source run through tsx. */
export function defaultTrainerEntry(): TrainerEntry {
  const js = fileURLToPath(new URL('../../trainer/index.js', import.meta.url));
  if (existsSync(js)) return { file: js, execArgv: [] };
  return {
    file: fileURLToPath(new URL('../../trainer/index.ts', import.meta.url)),
    execArgv: ['--import', 'tsx'],
  };
}

/** child_process.fork: stdout and stderr go to the parent's, messages over the IPC channel. */
export const forkTrainer: LaunchTrainer = (entry, env) => {
  const child = fork(entry.file, [], {
    execArgv: entry.execArgv,
    env,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    get pid() {
      return child.pid;
    },
    onSpawn: (listener) => {
      if (child.pid !== undefined) listener(child.pid);
    },
    send: (message) => {
      // The channel is gone once the child died; its exit handler reports what happened.
      if (child.connected) child.send(message);
    },
    onMessage: (listener) => child.on('message', (message) => listener(message as TrainerMessage)),
    onExit: (listener) => child.once('exit', (code, signal) => listener({ code, signal })),
    kill: () => child.kill('SIGTERM'),
  };
};
