// The utilityProcess trainer launcher, against a fake utility process: what RunService sees (pid after
// 'spawn', messages, one exit) and what it must never do (post to a process that is gone).
import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { TrainerExit } from '../../../main/core/runs/launcher.js';
import {
  TRAINER_SERVICE_NAME,
  type UtilityForkOptions,
  utilityEnv,
  utilityTrainerLauncher,
} from '../../../main/electron/trainer-process.js';

class FakeUtilityProcess extends EventEmitter {
  pid: number | undefined = undefined;
  readonly stdout = new EventEmitter();
  readonly stderr = new EventEmitter();
  readonly posted: unknown[] = [];
  killed = 0;
  postMessage(message: unknown): void {
    this.posted.push(message);
  }
  kill(): boolean {
    this.killed++;
    return true;
  }
  spawn(pid: number): void {
    this.pid = pid;
    this.emit('spawn');
  }
  exit(code: number): void {
    this.pid = undefined;
    this.emit('exit', code);
  }
}

function launch(options: { output?: boolean } = {}) {
  const child = new FakeUtilityProcess();
  const forks: { file: string; args: string[]; options: UtilityForkOptions }[] = [];
  const lines: string[] = [];
  const launcher = utilityTrainerLauncher({
    fork: (file, args, opts) => {
      forks.push({ file, args, options: opts });
      return child;
    },
    ...(options.output ? { onOutput: (line, stream) => lines.push(`${stream}: ${line}`) } : {}),
  });
  const handle = launcher({ file: '/app/out/main/trainer.js', execArgv: [] }, { A: '1', B: undefined });
  return { child, forks, handle, lines };
}

const nextTick = () => new Promise((resolve) => setImmediate(resolve));

describe('utilityProcess trainer launcher', () => {
  it('forks the trainer entry as a named service with string-only environment', () => {
    const { forks } = launch();
    expect(forks).toEqual([
      {
        file: '/app/out/main/trainer.js',
        args: [],
        options: { serviceName: TRAINER_SERVICE_NAME, env: { A: '1' }, execArgv: [], stdio: 'inherit' },
      },
    ]);
  });

  it('reports the pid once the process has spawned, not before', () => {
    const { child, handle } = launch();
    const pids: number[] = [];
    handle.onSpawn((pid) => pids.push(pid));
    expect(handle.pid).toBeUndefined();
    expect(pids).toEqual([]);
    child.spawn(4242);
    expect(pids).toEqual([4242]);
    expect(handle.pid).toBe(4242);
    // Registered after the spawn: told at once.
    handle.onSpawn((pid) => pids.push(pid + 1));
    expect(pids).toEqual([4242, 4243]);
  });

  it('passes trainer messages through and reports the exit code as a TrainerExit, after the exit callback', async () => {
    const { child, handle } = launch();
    const messages: unknown[] = [];
    const exits: TrainerExit[] = [];
    handle.onMessage((m) => messages.push(m));
    handle.onExit((e) => exits.push(e));
    child.spawn(7);
    child.emit('message', { type: 'started', backend: 'cpu', device: 'CPU', threads: 1, fromStep: 0 });
    child.exit(134);
    expect(exits).toEqual([]);
    await nextTick();
    expect(messages).toEqual([{ type: 'started', backend: 'cpu', device: 'CPU', threads: 1, fromStep: 0 }]);
    expect(exits).toEqual([{ code: 134, signal: null }]);
  });

  it('posts to the trainer while it lives (queued before spawn), never after it exited', () => {
    const { child, handle } = launch();
    handle.send({ type: 'pause' });
    child.spawn(7);
    handle.send({ type: 'cancel' });
    child.exit(0);
    handle.send({ type: 'pause' });
    handle.kill();
    expect(child.posted).toEqual([{ type: 'pause' }, { type: 'cancel' }]);
    expect(child.killed).toBe(0);
  });

  it('kills a live trainer', () => {
    const { child, handle } = launch();
    child.spawn(7);
    handle.kill();
    expect(child.killed).toBe(1);
  });

  it('forwards the trainer output line by line when asked to, the last line too', () => {
    const { child, forks, lines } = launch({ output: true });
    expect(forks[0]!.options.stdio).toBe('pipe');
    child.stdout.emit('data', Buffer.from('loading model\nstep 1'));
    child.stdout.emit('data', ' of 12\n');
    child.stderr.emit('data', 'warning: slow disk\n\n');
    child.stdout.emit('data', 'bye');
    child.stdout.emit('end');
    expect(lines).toEqual([
      'stdout: loading model',
      'stdout: step 1 of 12',
      'stderr: warning: slow disk',
      'stdout: bye',
    ]);
  });

  it('drops undefined environment values', () => {
    expect(utilityEnv({ PATH: '/bin', EMPTY: '', GONE: undefined })).toEqual({ PATH: '/bin', EMPTY: '' });
  });
});
