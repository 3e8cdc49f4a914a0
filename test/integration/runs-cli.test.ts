// `tunesmith train` and `tunesmith runs …` through the built CLI (build first: npx tsc -p tsconfig.node.json).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO_ROOT, runCli, tempDir } from '../helpers/cli.js';

const SAMPLE = path.join(REPO_ROOT, 'resources/samples/reference-sample.csv');
const SAMPLE_EVAL = path.join(REPO_ROOT, 'resources/samples/reference-sample-eval.csv');

describe('tunesmith train / runs', () => {
  const work = tempDir();
  const model = path.join(work, 'model');
  const home = ['--home', path.join(work, 'home')];

  beforeAll(() => {
    const made = runCli(['models', 'create-tiny', '--arch', 'qwen2', '--out', model]);
    expect(made.status, made.stderr).toBe(0);
  });

  it('says in its progress output when a run continues with a smaller micro-batch after running out of memory', () => {
    const set = ['threads=1', 'maxSteps=8', 'checkpointEvery=4', 'evalEvery=8', 'samples=0', 'maxLen=256']
      .concat(['microBatch=2', 'gradAccum=2'])
      .flatMap((kv) => ['--set', kv]);
    // A home of its own: the other tests count runs from 1.
    const ownHome = ['--home', path.join(work, 'home-oom')];
    const train = runCli(
      ['train', ...ownHome, '--model', model, '--data', SAMPLE, '--backend', 'cpu', ...set],
      {
        TUNESMITH_TRAINER_FAULT: JSON.stringify({ oomAtStep: 6, oomFitsMicroBatch: 1 }),
      },
    );
    expect(train.status, train.stderr).toBe(0);
    expect(train.stderr).toMatch(
      /warning: Ran out of memory at step 6 with micro-batch 2; continuing from step 4/,
    );
  });

  it('trains the tiny model on the sample with the quick preset; runs show --json has eval loss and stop rate', () => {
    const train = runCli([
      'train',
      ...home,
      '--model',
      model,
      '--data',
      SAMPLE,
      '--eval',
      SAMPLE_EVAL,
      '--preset',
      'quick',
      '--backend',
      'cpu',
      '--set',
      'threads=1',
      '--set',
      'maxLen=256',
      '--set',
      'lr=1e-2',
      '--set',
      'samples=1',
      '--set',
      'sampleMaxNewTokens=4',
      '--json',
    ]);
    expect(train.status, train.stderr).toBe(0);
    const events = train.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; [k: string]: unknown });
    expect(events[0]).toMatchObject({ type: 'created', runId: 1 });
    expect(events.at(-1)).toMatchObject({ type: 'done', status: 'completed' });
    const steps = events.filter((e) => e.type === 'step');
    expect(steps.at(-1)).toMatchObject({ step: 15, totalSteps: 15 });

    const show = runCli(['runs', 'show', '1', '--json', ...home]);
    expect(show.status, show.stderr).toBe(0);
    const details = JSON.parse(show.stdout) as {
      status: string;
      latest: { step: number; evalLoss: number; stopRate: number };
      metrics: { loss: { value: number }[]; eval_loss: { value: number }[] };
      definition: { preset: string; modelHash: string };
    };
    expect(details.status).toBe('completed');
    expect(details.latest.step).toBe(15);
    expect(details.latest.evalLoss).toBeGreaterThan(0);
    expect(details.latest.stopRate).toBeGreaterThanOrEqual(0);
    const loss = details.metrics.loss.map((p) => p.value);
    expect(loss).toHaveLength(15);
    expect(loss.slice(-3).reduce((a, b) => a + b)).toBeLessThan(loss.slice(0, 3).reduce((a, b) => a + b));
    const evalLoss = details.metrics.eval_loss.map((p) => p.value);
    expect(evalLoss.at(-1)).toBeLessThan(evalLoss[0]!);

    const list = runCli(['runs', 'list', ...home]);
    expect(list.stdout).toMatch(/^\s+1 {2}completed\s+step 15\/15/m);
  });

  it('refuses bad settings and a finished run with what to do', () => {
    const bad = runCli(['train', ...home, '--model', model, '--data', SAMPLE, '--set', 'learningRate=1']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/no setting "learningRate"[\s\S]*Settings: quant/);
    expect(runCli(['train', ...home, '--model', model]).status).toBe(2);
    const resume = runCli(['runs', 'resume', '1', ...home]);
    expect(resume.status).toBe(1);
    expect(resume.stderr).toMatch(/only paused or interrupted runs resume/);
    expect(runCli(['runs', 'show', '99', ...home]).stderr).toMatch(/no run 99/);
  });
  it('Ctrl+C pauses the run with a checkpoint and says how to resume; runs resume completes it', async () => {
    const child = spawn(
      process.execPath,
      [
        CLI,
        'train',
        ...home,
        '--model',
        model,
        '--data',
        SAMPLE,
        '--backend',
        'cpu',
        '--set',
        'threads=1',
        '--set',
        'maxLen=256',
        '--set',
        'samples=0',
        '--set',
        'maxSteps=20',
      ],
      {
        env: { ...process.env, TUNESMITH_TRAINER_FAULT: JSON.stringify({ slowMs: 100 }) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stderr = '';
    let interrupted = false;
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (!interrupted && /step 10\/20/.test(stderr)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).toMatch(/Pausing after the current step/);
    const id = /^Run (\d+):/m.exec(stderr)?.[1] ?? '?';
    expect(stderr).toContain(`Run ${id} is paused. Continue it with: tunesmith runs resume ${id}`);
    expect(code).toBe(1);
    const paused = JSON.parse(runCli(['runs', 'show', id, '--json', ...home]).stdout) as {
      status: string;
      checkpoints: { step: number }[];
    };
    expect(paused.status).toBe('paused');
    expect(paused.checkpoints.at(-1)!.step).toBeGreaterThanOrEqual(10);
    const resumed = runCli(['runs', 'resume', id, ...home]);
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stderr).toContain(`Run ${id} completed`);
  });

  it('tunesmith demo trains the tiny model: the loss falls and the answer changes', () => {
    const demo = runCli(['demo', '--json', '--threads', '2', ...home]);
    expect(demo.status, demo.stderr).toBe(0);
    const summary = JSON.parse(demo.stdout.trim().split('\n').at(-1)!) as {
      type: string;
      lossFirst: number;
      lossLast: number;
      evalLossFirst: number;
      evalLossLast: number;
      before: string;
      after: string;
      ollamaFolder: string;
      verification: { passed: boolean; checks: Array<{ name: string; passed: boolean }> } | null;
    };
    expect(summary.type).toBe('demo');
    // It ends with an Ollama folder that llama.cpp agrees with (issue 7's "done when").
    expect(existsSync(path.join(summary.ollamaFolder, 'Modelfile'))).toBe(true);
    expect(summary.verification?.passed).toBe(true);
    expect(summary.verification?.checks.map((c) => c.name)).toEqual([
      'base-probabilities',
      'adapter-probabilities',
      'adapter-generation',
    ]);
    expect(summary.lossLast).toBeLessThan(summary.lossFirst);
    expect(summary.evalLossLast).toBeLessThan(summary.evalLossFirst);
    expect(summary.after).not.toBe(summary.before);
  });
});
