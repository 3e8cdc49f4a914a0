// `tunesmith train`: define a run (preset + --set overrides, warnings, fit check), start its trainer
// and follow it: a progress line on a terminal, JSON lines with --json. Ctrl+C pauses (resumable).
import { isTemplateName, TEMPLATE_NAMES } from '../../core/data/template/index.js';
import { resolveHome } from '../../core/home.js';
import { PRESET_NAMES, PRESETS, type PresetName } from '../../core/runs/config.js';
import type { RunEvent, RunService } from '../../core/runs/service.js';
import { openCoreServices } from '../../core/services.js';
import type { RunRow } from '../../core/store/repos/runs.js';
import { parseCommandArgs, UsageError } from '../args.js';
import type { CliCommand, CliIo } from '../types.js';

export const trainCommand: CliCommand = {
  name: 'train',
  summary: 'fine-tune a model on your examples (a run you can pause and resume)',
  usage: [
    'Usage: tunesmith train --model DIR (--data FILE [--eval FILE] | --dataset VERSION) [options]',
    '',
    'Trains a LoRA adapter on the replies in your examples. Ctrl+C pauses the run at the next step',
    '(with a checkpoint); `tunesmith runs resume ID` continues it exactly where it stopped.',
    '',
    '  --model DIR            a Hugging Face model folder (Llama, Mistral, Qwen2)',
    '  --data FILE            a CSV, JSONL or Parquet file of examples (imported as a dataset)',
    '  --eval FILE            examples to measure progress on (default: 10% held out of --data)',
    '  --dataset VERSION      a stored dataset version id instead of --data',
    `  --template NAME        ${TEMPLATE_NAMES.join('|')} (default: the model's own, else chatml)`,
    `  --preset NAME          ${PRESET_NAMES.join('|')} (default quick):`,
    ...PRESET_NAMES.map((p) => `                           ${p}: ${PRESETS[p].title}`),
    '  --set KEY=VALUE        change one setting (repeatable), e.g. --set lr=1e-4 --set epochs=2',
    '                         settings: lr, schedule, warmupSteps, epochs, maxSteps, microBatch,',
    '                         gradAccum, loraR, loraAlpha, loraDropout, loraTargets, maxLen,',
    '                         evalEvery, checkpointEvery, keepCheckpoints, samples, seed, threads …',
    '  --backend auto|cpu|cuda  where to train (default auto: the GPU when there is one)',
    '  --name TEXT            a name for the run',
    '  --json                 one JSON object per event on stdout',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseCommandArgs(
      argv,
      {
        model: { type: 'string' },
        data: { type: 'string' },
        eval: { type: 'string' },
        dataset: { type: 'string' },
        template: { type: 'string' },
        preset: { type: 'string' },
        set: { type: 'string', multiple: true },
        backend: { type: 'string' },
        name: { type: 'string' },
        json: { type: 'boolean' },
      },
      'train',
    );
    if (!values.model) throw new UsageError('--model DIR is required. Run `tunesmith train --help`.');
    if (!values.data === (values.dataset === undefined)) {
      throw new UsageError('Pass either --data FILE or --dataset VERSION.');
    }
    if (values.eval && !values.data) throw new UsageError('--eval goes with --data.');
    if (values.template !== undefined && !isTemplateName(values.template)) {
      throw new UsageError(`--template must be one of ${TEMPLATE_NAMES.join(', ')}.`);
    }
    if (values.preset !== undefined && !(PRESET_NAMES as readonly string[]).includes(values.preset)) {
      throw new UsageError(`--preset must be one of ${PRESET_NAMES.join(', ')}.`);
    }
    const backend = values.backend ?? 'auto';
    if (backend !== 'auto' && backend !== 'cpu' && backend !== 'cuda') {
      throw new UsageError('--backend must be auto, cpu or cuda.');
    }
    const datasetVersionId = values.dataset === undefined ? undefined : Number(values.dataset);
    if (datasetVersionId !== undefined && !Number.isInteger(datasetVersionId)) {
      throw new UsageError(`--dataset takes a version id (a whole number), not "${values.dataset}".`);
    }
    const core = openCoreServices(resolveHome(values.home));
    try {
      const { run, definition } = await core.runs.create({
        modelDir: values.model,
        ...(values.data ? { dataFile: values.data } : {}),
        ...(values.eval ? { evalFile: values.eval } : {}),
        ...(datasetVersionId !== undefined ? { datasetVersionId } : {}),
        ...(values.template ? { template: values.template } : {}),
        preset: (values.preset ?? 'quick') as PresetName,
        overrides: values.set ?? [],
        backend,
        ...(values.name ? { name: values.name } : {}),
      });
      const { plan, fit, warnings } = definition;
      if (values.json) {
        io.out(
          JSON.stringify({ type: 'created', runId: run.id, plan, warnings, memoryBytes: fit.totalBytes }),
        );
      } else {
        io.err(
          `Run ${run.id}: ${plan.totalSteps} steps (${plan.epochs.toFixed(1)} passes over ${plan.trainExamples} examples, ` +
            `${plan.evalExamples} for evaluation), about ${(fit.totalBytes / 2 ** 20).toFixed(0)} MiB of memory, on ${definition.backend}.`,
        );
        io.err(`${PRESETS[definition.preset].title}: ${PRESETS[definition.preset].description}`);
        for (const warning of warnings) io.err(`Warning: ${warning.message}`);
      }
      return await followRun(core.runs, run.id, Boolean(values.json), io, () => core.runs.start(run.id));
    } finally {
      core.close();
    }
  },
};

const clock = (seconds: number) => {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/** Starts (via `start`) and follows a run until its trainer stops; the exit code says how it ended. */
export async function followRun(
  runs: RunService,
  runId: number,
  json: boolean,
  io: CliIo,
  start: () => Promise<RunRow>,
): Promise<number> {
  const tty = !json && process.stderr.isTTY === true;
  let lineOpen = false;
  const endLine = () => {
    if (lineOpen) process.stderr.write('\n');
    lineOpen = false;
  };
  const stop = runs.subscribe((event: RunEvent) => {
    if (event.runId !== runId) return;
    if (json) {
      io.out(
        JSON.stringify(event.type === 'status' ? { runId, type: 'status', status: event.run.status } : event),
      );
      return;
    }
    if (event.type === 'step') {
      const line = `step ${event.step}/${event.totalSteps} · loss ${event.loss.toFixed(4)} · ${event.tokensPerSecond.toFixed(0)} tok/s · ETA ${clock(event.etaSeconds)}`;
      if (tty) {
        process.stderr.write(`\r${line}\x1b[K`);
        lineOpen = true;
      } else if (event.step === event.totalSteps || event.step % 10 === 0) {
        io.err(line);
      }
    } else if (event.type === 'eval') {
      endLine();
      io.err(
        `step ${event.step}: eval loss ${event.loss?.toFixed(4) ?? '–'}` +
          (event.stopRate !== null
            ? `, ${Math.round(event.stopRate * 100)}% of samples ended on their own`
            : ''),
      );
    } else if (event.type === 'checkpoint') {
      endLine();
      io.err(`checkpoint at step ${event.step}: ${event.path}`);
    } else if (event.type === 'warning') {
      // e.g. out of memory: continuing with a smaller micro-batch; eval loss rising.
      endLine();
      io.err(`warning: ${event.message}`);
    }
  });
  let interrupted = false;
  const onSigint = () => {
    if (interrupted) return;
    interrupted = true;
    endLine();
    io.err('Pausing after the current step (saving a checkpoint)…');
    try {
      runs.pause(runId);
    } catch {
      // Not started yet or already stopping: the final status says what happened.
    }
  };
  process.on('SIGINT', onSigint);
  try {
    const run = await start();
    endLine();
    if (json) io.out(JSON.stringify({ type: 'done', runId, status: run.status, error: run.error }));
    if (run.status === 'completed') {
      if (!json) {
        const checkpoint = runs.get(runId).checkpoints.at(-1);
        io.err(`Run ${runId} completed.${checkpoint ? ` Adapter: ${checkpoint.path}/adapter` : ''}`);
      }
      return 0;
    }
    if (!json) {
      if (run.status === 'paused' && !run.error) {
        io.err(`Run ${runId} is paused. Continue it with: tunesmith runs resume ${runId}`);
      } else {
        io.err(
          `Run ${runId} ${run.status}: ${run.error?.message ?? ''}${run.error?.hint ? `\n${run.error.hint}` : ''}`,
        );
      }
    }
    return 1;
  } finally {
    process.off('SIGINT', onSigint);
    stop();
  }
}
