// The desktop app's way of training: RunService → the utilityProcess launcher → the real trainer entry
// talking over process.parentPort. Electron cannot run here, so the utility process is emulated: a
// forked Node process whose parentPort is a shim over IPC (test/helpers/parent-port-shim.mjs) and
// whose handle behaves like Electron's (pid after 'spawn', an exit code and no signal).
import { type ChildProcess, fork } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTinyModel } from '../../main/core/models/tiny.js';
import { type CoreServices, openCoreServices } from '../../main/core/services.js';
import { appFiles } from '../../main/electron/app-paths.js';
import {
  type ForkUtility,
  type UtilityForkOptions,
  type UtilityProcessLike,
  utilityTrainerLauncher,
} from '../../main/electron/trainer-process.js';
import { REPO_ROOT, tempDir } from '../helpers/cli.js';

const SAMPLE = path.join(REPO_ROOT, 'resources/samples/reference-sample.csv');
const SHIM = path.join(REPO_ROOT, 'test/helpers/parent-port-shim.mjs');
/** The trainer as the app ships it: electron-vite's main build (`npm run build`). */
const BUNDLED_TRAINER = appFiles(path.join(REPO_ROOT, 'out', 'main')).trainer;
const SETTINGS = [
  'threads=1',
  'maxSteps=8',
  'evalEvery=4',
  'checkpointEvery=4',
  'lr=1e-2',
  'loraR=4',
  'loraAlpha=8',
  'maxLen=256',
  'samples=1',
  'sampleMaxNewTokens=4',
];

const forks: UtilityForkOptions[] = [];

/** utilityProcess.fork, emulated with child_process.fork and the parentPort shim. */
const emulatedUtilityFork: ForkUtility = (file, args, options) => {
  forks.push(options);
  return new EmulatedUtilityProcess(
    fork(file, args, {
      execArgv: [...options.execArgv, '--import', SHIM],
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    }),
  );
};

class EmulatedUtilityProcess extends EventEmitter implements UtilityProcessLike {
  pid: number | undefined;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly #child: ChildProcess;

  constructor(child: ChildProcess) {
    super();
    this.#child = child;
    this.stdout = child.stdout;
    this.stderr = child.stderr;
    // Like Electron: the pid only after 'spawn', and an exit code even for a killed process.
    child.on('spawn', () => {
      this.pid = child.pid;
      this.emit('spawn');
    });
    child.on('message', (message) => this.emit('message', message));
    child.on('exit', (code, signal) => {
      this.pid = undefined;
      this.emit('exit', code ?? (signal === 'SIGKILL' ? 137 : 143));
    });
  }

  postMessage(message: unknown): void {
    this.#child.send(message as object);
  }

  kill(): boolean {
    return this.#child.kill();
  }
}

describe('RunService with trainers in (emulated) utility processes', () => {
  const work = tempDir();
  const model = path.join(work, 'model');
  const output: string[] = [];
  let core: CoreServices;

  beforeAll(async () => {
    await createTinyModel({ arch: 'qwen2', outDir: model });
    core = openCoreServices(
      path.join(work, 'home'),
      {},
      {
        launchTrainer: utilityTrainerLauncher({
          fork: emulatedUtilityFork,
          onOutput: (line) => output.push(line),
        }),
        // Slow steps, so that no step event is throttled away before the kill at step 6.
        trainerEnv: { TUNESMITH_TRAINER_FAULT: JSON.stringify({ slowMs: 150 }) },
      },
    );
  });
  afterAll(() => core?.close());

  const create = async () =>
    (await core.runs.create({ modelDir: model, dataFile: SAMPLE, overrides: SETTINGS, backend: 'cpu' })).run;

  it('trains to completion over parentPort: every report arrives, the last one too', async () => {
    const run = await create();
    const done = await core.runs.start(run.id);
    expect(done.status, JSON.stringify(done.error)).toBe('completed');
    expect(core.runs.series(run.id, 'loss')).toHaveLength(8);
    expect(core.runs.get(run.id).checkpoints.map((c) => c.step)).toEqual([4, 8]);
    expect(core.runs.log(run.id).map((e) => e.kind)).toEqual(['run.started', 'run.completed']);
    expect(forks.at(-1)).toMatchObject({ serviceName: 'Tunesmith trainer', stdio: 'pipe' });
  });

  it('a trainer killed mid-run leaves the run interrupted at its checkpoint; resume finishes it', async () => {
    const run = await create();
    const killed = new Promise<void>((resolve) => {
      const stop = core.runs.subscribe((event) => {
        if (event.runId === run.id && event.type === 'step' && event.step === 6) {
          process.kill(core.runs.trainerPid(run.id)!, 'SIGKILL');
          stop();
          resolve();
        }
      });
    });
    const ended = core.runs.start(run.id);
    await killed;
    const interrupted = await ended;
    expect(interrupted.status).toBe('paused');
    expect(interrupted.error?.code).toBe('interrupted');
    expect(interrupted.error?.message).toMatch(/exit code 137.*step 4/);
    const resumed = await core.runs.resume(run.id);
    expect(resumed.status, JSON.stringify(resumed.error)).toBe('completed');
    expect(core.runs.series(run.id, 'loss').map((p) => p.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(core.runs.log(run.id).map((e) => e.kind)).toEqual([
      'run.started',
      'run.interrupted',
      'run.started',
      'run.completed',
    ]);
  });

  it.skipIf(!existsSync(BUNDLED_TRAINER.file))(
    'the bundled trainer (out/main/trainer.js, as packaged) trains in a utility process too',
    async () => {
      const bundled = openCoreServices(
        path.join(work, 'home'),
        {},
        {
          launchTrainer: utilityTrainerLauncher({ fork: emulatedUtilityFork }),
          trainerEntry: BUNDLED_TRAINER,
        },
      );
      try {
        const { run } = await bundled.runs.create({
          modelDir: model,
          dataFile: SAMPLE,
          overrides: SETTINGS,
          backend: 'cpu',
        });
        const done = await bundled.runs.start(run.id);
        expect(done.status, JSON.stringify(done.error)).toBe('completed');
        expect(bundled.runs.series(run.id, 'loss')).toHaveLength(8);
      } finally {
        bundled.close();
      }
    },
  );
});
