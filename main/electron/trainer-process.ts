// Trainer processes in the desktop app: Electron's utilityProcess behind RunService's launcher seam
// (main/core/runs/launcher.ts). Written against the few utilityProcess members it uses, so the
// mapping is tested under Node with a fake; main/index.ts hands in utilityProcess.fork.
//
// What differs from child_process.fork: the pid is known only after 'spawn'; 'exit' gives an exit
// code, never a signal; messages go through postMessage, which must not be called once the process
// is gone (some Electron versions crash the main process on it).
import type { LaunchTrainer, TrainerExit } from '../core/runs/launcher.js';
import type { TrainerMessage } from '../trainer/protocol.js';

interface ReadableLike {
  on(event: 'data', listener: (chunk: Buffer | string) => void): unknown;
  on(event: 'end', listener: () => void): unknown;
}

export interface UtilityProcessLike {
  readonly pid: number | undefined;
  readonly stdout: ReadableLike | null;
  readonly stderr: ReadableLike | null;
  on(event: 'spawn', listener: () => void): unknown;
  on(event: 'message', listener: (message: unknown) => void): unknown;
  on(event: 'exit', listener: (code: number) => void): unknown;
  on(event: 'error', listener: (type: string, location: string, report: string) => void): unknown;
  postMessage(message: unknown): void;
  kill(): boolean;
}

export interface UtilityForkOptions {
  serviceName: string;
  env: Record<string, string>;
  execArgv: string[];
  stdio: 'pipe' | 'inherit';
}

export type ForkUtility = (
  modulePath: string,
  args: string[],
  options: UtilityForkOptions,
) => UtilityProcessLike;

export interface UtilityTrainerOptions {
  /** utilityProcess.fork, or a fake in tests. */
  fork: ForkUtility;
  /** Where the trainer's stdout/stderr lines go (the app's log file); without it, inherited. */
  onOutput?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** A V8 fatal error in the trainer: said before its 'exit' arrives. */
  onFatalError?: (description: string) => void;
}

export const TRAINER_SERVICE_NAME = 'Tunesmith trainer';

/** utilityProcess wants string values only; process.env has undefined holes. */
export function utilityEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) clean[key] = value;
  return clean;
}

export function utilityTrainerLauncher(options: UtilityTrainerOptions): LaunchTrainer {
  const { fork, onOutput, onFatalError } = options;
  return (entry, env) => {
    const child = fork(entry.file, [], {
      serviceName: TRAINER_SERVICE_NAME,
      env: utilityEnv(env),
      execArgv: entry.execArgv,
      stdio: onOutput ? 'pipe' : 'inherit',
    });
    let exited = false;
    if (onOutput) {
      forwardLines(child.stdout, (line) => onOutput(line, 'stdout'));
      forwardLines(child.stderr, (line) => onOutput(line, 'stderr'));
    }
    child.on('exit', () => {
      exited = true;
    });
    child.on('error', (type, location) => onFatalError?.(`${type} at ${location}`));
    return {
      get pid() {
        return child.pid;
      },
      onSpawn: (listener) => {
        if (child.pid !== undefined) listener(child.pid);
        else
          child.on('spawn', () => {
            if (child.pid !== undefined) listener(child.pid);
          });
      },
      send: (message) => {
        // Before 'spawn' Electron queues the message; after 'exit' there is nobody to read it.
        if (!exited) child.postMessage(message);
      },
      onMessage: (listener) => {
        child.on('message', (message) => listener(message as TrainerMessage));
      },
      onExit: (listener) => {
        child.on('exit', (code) => {
          const exit: TrainerExit = { code, signal: null };
          // Not inside Electron's 'exit' callback: a listener that posts to the child must not run there.
          setImmediate(() => listener(exit));
        });
      },
      kill: () => {
        if (!exited) child.kill();
      },
    };
  };
}

function forwardLines(stream: ReadableLike | null, emit: (line: string) => void): void {
  if (!stream) return;
  let pending = '';
  stream.on('data', (chunk) => {
    pending += chunk.toString();
    const lines = pending.split(/\r?\n/);
    pending = lines.pop() ?? '';
    for (const line of lines) if (line.trim()) emit(line);
  });
  stream.on('end', () => {
    if (pending.trim()) emit(pending);
    pending = '';
  });
}
