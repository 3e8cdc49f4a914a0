// RunService against a fake trainer behind the launcher seam: what it does with each report
// (warnings and errors into the run's log), with the process's life (pid file, interrupted runs),
// without starting a real trainer.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import type {
  LaunchTrainer,
  TrainerEntry,
  TrainerExit,
  TrainerHandle,
} from '../../../main/core/runs/launcher.js';
import type { RunEvent } from '../../../main/core/runs/service.js';
import { type CoreServices, openCoreServices } from '../../../main/core/services.js';
import type { ParentMessage, TrainerMessage } from '../../../main/trainer/protocol.js';
import { tempDir } from '../store/tmp.js';

class FakeTrainer implements TrainerHandle {
  pid: number | undefined;
  readonly sent: ParentMessage[] = [];
  killed = false;
  #spawn: ((pid: number) => void)[] = [];
  #message: ((m: TrainerMessage) => void)[] = [];
  #exit: ((e: TrainerExit) => void)[] = [];
  onSpawn(listener: (pid: number) => void): void {
    this.#spawn.push(listener);
  }
  onMessage(listener: (m: TrainerMessage) => void): void {
    this.#message.push(listener);
  }
  onExit(listener: (e: TrainerExit) => void): void {
    this.#exit.push(listener);
  }
  send(message: ParentMessage): void {
    this.sent.push(message);
  }
  kill(): void {
    this.killed = true;
  }
  spawn(pid: number): void {
    this.pid = pid;
    for (const l of this.#spawn) l(pid);
  }
  report(message: TrainerMessage): void {
    for (const l of this.#message) l(message);
  }
  exit(exit: TrainerExit): void {
    for (const l of this.#exit) l(exit);
  }
}

const ENTRY: TrainerEntry = { file: '/app/out/main/trainer.js', execArgv: [] };

function setup() {
  const work = tempDir();
  const modelDir = join(work, 'model');
  mkdirSync(modelDir);
  writeFileSync(join(modelDir, 'config.json'), '{}');
  const trainers: FakeTrainer[] = [];
  const launches: { entry: TrainerEntry; env: NodeJS.ProcessEnv }[] = [];
  const launchTrainer: LaunchTrainer = (entry, env) => {
    launches.push({ entry, env });
    const trainer = new FakeTrainer();
    trainers.push(trainer);
    return trainer;
  };
  const opened: CoreServices[] = [];
  const open = () => {
    const core = openCoreServices(
      join(work, 'home'),
      {},
      { launchTrainer, trainerEntry: ENTRY, trainerEnv: { TUNESMITH_TEST_FLAG: 'yes' } },
    );
    opened.push(core);
    return core;
  };
  const core = open();
  const run = core.store.runs.create({
    name: 'tiny · Quick',
    config: {
      modelDir,
      modelHash: 'abc',
      hyper: { keepCheckpoints: 3 },
      plan: { totalSteps: 12 },
      trainTokenFile: join(work, 'train.tok'),
      evalTokenFile: null,
      samplePrompts: [],
      stopTokens: [2],
      backend: 'cpu',
    },
  });
  const events: RunEvent[] = [];
  core.runs.subscribe((e) => events.push(e));
  onTestFinished(() => {
    for (const c of opened) c.close();
  });
  return { work, core, open, run, trainers, launches, events };
}

describe('RunService with a trainer launcher', () => {
  it('starts the trainer through the launcher with the entry and environment, and sends it the job', () => {
    const { core, run, trainers, launches } = setup();
    void core.runs.start(run.id);
    expect(launches).toHaveLength(1);
    expect(launches[0]!.entry).toEqual(ENTRY);
    expect(launches[0]!.env.TUNESMITH_TEST_FLAG).toBe('yes');
    expect(trainers[0]!.sent[0]).toMatchObject({ type: 'start', job: { runId: run.id, totalSteps: 12 } });
    expect(core.store.runs.get(run.id)?.status).toBe('running');
    expect(core.runs.activeRuns()).toEqual([run.id]);
  });

  it('writes the trainer.pid file only once the process runs, so another process sees it alive', () => {
    const { core, run, trainers } = setup();
    void core.runs.start(run.id);
    const pidFile = join(core.runs.runDir(run.id), 'trainer.pid');
    expect(existsSync(pidFile)).toBe(false);
    trainers[0]!.spawn(process.pid);
    expect(existsSync(pidFile)).toBe(true);
    expect(core.runs.trainerPid(run.id)).toBe(process.pid);
    // A second service (a CLI in a terminal) does not take the live run for an interrupted one.
    const again = openCoreServices(core.homeDir);
    expect(again.runs.interruptedAtStart).toEqual([]);
    again.store.close();
  });

  it('stores trainer warnings in the run’s log and passes them on', () => {
    const { core, run, trainers, events } = setup();
    void core.runs.start(run.id);
    const trainer = trainers[0]!;
    trainer.report({ type: 'started', backend: 'cpu', device: 'CPU', threads: 2, fromStep: 0 });
    trainer.report({
      type: 'warning',
      code: 'eval-loss-rising',
      message: 'The loss on held-back examples went up twice in a row.',
    });
    const log = core.runs.log(run.id);
    expect(log.map((e) => [e.level, e.kind])).toEqual([
      ['info', 'run.started'],
      ['warn', 'run.warning'],
    ]);
    expect(log[1]).toMatchObject({
      message: 'The loss on held-back examples went up twice in a row.',
      data: { code: 'eval-loss-rising' },
    });
    expect(events.some((e) => e.type === 'warning' && e.code === 'eval-loss-rising')).toBe(true);
    // runs.get carries the log to the run page.
    expect(core.runs.get(run.id).log.map((e) => e.kind)).toEqual(['run.started', 'run.warning']);
  });

  it('a trainer that dies leaves the run interrupted at its last checkpoint, logged as an error', async () => {
    const { core, run, trainers } = setup();
    const done = core.runs.start(run.id);
    const trainer = trainers[0]!;
    trainer.spawn(999_999);
    const checkpoint = join(core.runs.runDir(run.id), 'checkpoints', 'step-000004');
    mkdirSync(checkpoint, { recursive: true });
    trainer.report({ type: 'checkpoint', step: 4, path: checkpoint, sizeBytes: 10, evalLoss: null });
    trainer.exit({ code: 139, signal: null });
    const ended = await done;
    expect(ended.status).toBe('paused');
    expect(ended.error).toMatchObject({ code: 'interrupted' });
    expect(ended.error?.message).toMatch(/exit code 139.*step 4/);
    expect(core.runs.get(run.id).interrupted).toBe(true);
    expect(existsSync(join(core.runs.runDir(run.id), 'trainer.pid'))).toBe(false);
    expect(core.runs.activeRuns()).toEqual([]);
    const interrupted = core.runs.log(run.id).find((e) => e.kind === 'run.interrupted');
    expect(interrupted).toMatchObject({ level: 'error', data: { hint: expect.stringMatching(/resume/) } });
  });

  it('logs a failure with its code and hint', async () => {
    const { core, run, trainers } = setup();
    const done = core.runs.start(run.id);
    trainers[0]!.report({
      type: 'failed',
      code: 'loss-not-finite',
      message: 'Training diverged at step 3.',
      hint: 'Lower the learning rate.',
    });
    trainers[0]!.exit({ code: 0, signal: null });
    expect((await done).status).toBe('failed');
    expect(core.runs.log(run.id).at(-1)).toMatchObject({
      level: 'error',
      kind: 'run.failed',
      message: 'Training diverged at step 3.',
      data: { code: 'loss-not-finite', hint: 'Lower the learning rate.' },
    });
  });

  it('closing stops the trainer and leaves the run interrupted; its late exit changes nothing', () => {
    const { core, run, trainers } = setup();
    void core.runs.start(run.id);
    const trainer = trainers[0]!;
    core.runs.close();
    expect(trainer.killed).toBe(true);
    expect(core.store.runs.get(run.id)?.error?.message).toMatch(/Tunesmith closed/);
    trainer.report({ type: 'completed', step: 12 });
    trainer.exit({ code: null, signal: 'SIGTERM' });
    expect(core.store.runs.get(run.id)?.status).toBe('paused');
    expect(core.runs.log(run.id).filter((e) => e.kind === 'run.interrupted')).toHaveLength(1);
  });

  it('a run left running by a dead process is reported at start and logged', () => {
    const { core, open, run } = setup();
    core.store.runs.setStatus(run.id, 'running');
    const again = open();
    expect(again.runs.interruptedAtStart.map((r) => r.id)).toEqual([run.id]);
    expect(again.runs.log(run.id)).toEqual([
      expect.objectContaining({
        level: 'error',
        kind: 'run.interrupted',
        message: expect.stringMatching(/interrupted/),
      }),
    ]);
  });
});
