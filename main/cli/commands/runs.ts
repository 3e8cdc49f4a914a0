// `tunesmith runs list|show|resume|cancel`: the runs in the home folder and their control.
import { resolveHome } from '../../core/home.js';
import { openCoreServices } from '../../core/services.js';
import type { RunRow } from '../../core/store/repos/runs.js';
import { parseCommandArgs, UsageError } from '../args.js';
import { commandGroup } from '../group.js';
import type { CliCommand } from '../types.js';
import { followRun } from './train.js';

function runId(positionals: string[], command: string): number {
  const id = Number(positionals[0]);
  if (positionals.length !== 1 || !Number.isInteger(id) || id < 1) {
    throw new UsageError(`Usage: tunesmith runs ${command} ID (a run number from \`tunesmith runs list\`).`);
  }
  return id;
}

const statusText = (run: RunRow) =>
  run.status === 'paused' && run.error?.code === 'interrupted' ? 'interrupted' : run.status;

const list: CliCommand = {
  name: 'list',
  summary: 'the runs, newest first',
  usage: 'Usage: tunesmith runs list [--json]',
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } }, 'runs list');
    const core = openCoreServices(resolveHome(values.home));
    try {
      for (const run of core.runs.interruptedAtStart) {
        io.err(`Run ${run.id} was interrupted; \`tunesmith runs resume ${run.id}\` continues it.`);
      }
      const runs = core.runs.list();
      if (values.json) {
        io.out(
          JSON.stringify(
            runs.map((r) => ({ ...r, status: statusText(r), latest: core.runs.get(r.id).latest })),
            null,
            2,
          ),
        );
        return 0;
      }
      if (runs.length === 0)
        io.out('No runs yet. Start one with `tunesmith train` (or try `tunesmith demo`).');
      for (const run of runs) {
        const latest = core.runs.get(run.id).latest;
        const total = core.runs.definition(run).plan.totalSteps;
        io.out(
          `${String(run.id).padStart(4)}  ${statusText(run).padEnd(11)}  step ${latest.step}/${total}` +
            `${latest.loss !== null ? `  loss ${latest.loss.toFixed(4)}` : ''}  ${run.name}`,
        );
      }
      return 0;
    } finally {
      core.close();
    }
  },
};

const show: CliCommand = {
  name: 'show',
  summary: 'a run: its settings, progress, eval loss, stop rate, checkpoints and samples',
  usage: 'Usage: tunesmith runs show ID [--json]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, 'runs show');
    const id = runId(positionals, 'show');
    const core = openCoreServices(resolveHome(values.home));
    try {
      const details = core.runs.get(id);
      const metrics = core.runs.metrics(id);
      if (values.json) {
        const { samplePrompts: _prompts, ...definition } = details.definition;
        io.out(JSON.stringify({ ...details, definition, status: statusText(details.run), metrics }, null, 2));
        return 0;
      }
      const { run, definition, latest } = details;
      io.out(`Run ${run.id}: ${run.name}`);
      io.out(`  status       ${statusText(run)}${run.error ? ` — ${run.error.message}` : ''}`);
      if (run.error?.hint) io.out(`               ${run.error.hint}`);
      io.out(`  model        ${definition.modelDir}`);
      io.out(
        `  data         dataset version ${definition.datasetVersionId} (${definition.split.train} train, ${definition.split.eval} eval)`,
      );
      io.out(
        `  preset       ${definition.preset}${definition.overrides.length ? ` with ${definition.overrides.join(' ')}` : ''}`,
      );
      io.out(`  progress     step ${latest.step}/${definition.plan.totalSteps}`);
      if (latest.loss !== null) io.out(`  loss         ${latest.loss.toFixed(4)}`);
      if (latest.evalLoss !== null) io.out(`  eval loss    ${latest.evalLoss.toFixed(4)}`);
      if (latest.stopRate !== null) io.out(`  stop rate    ${Math.round(latest.stopRate * 100)}%`);
      for (const warning of definition.warnings) io.out(`  warning      ${warning.message}`);
      io.out(`  memory       about ${(definition.fit.totalBytes / 2 ** 20).toFixed(0)} MiB (estimate)`);
      for (const c of details.checkpoints) {
        io.out(
          `  checkpoint   step ${c.step}${c.evalLoss !== null ? ` eval ${c.evalLoss.toFixed(4)}` : ''}  ${c.path}`,
        );
      }
      const lastStep = details.samples.at(-1)?.step;
      for (const s of details.samples.filter((x) => x.step === lastStep)) {
        io.out(
          `  sample       ${JSON.stringify(s.prompt)} → ${JSON.stringify(s.output)}${s.stopped ? '' : ' (cut off)'}`,
        );
      }
      return 0;
    } finally {
      core.close();
    }
  },
};

const resume: CliCommand = {
  name: 'resume',
  summary: 'continue a paused or interrupted run from its last checkpoint',
  usage: 'Usage: tunesmith runs resume ID [--json]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, 'runs resume');
    const id = runId(positionals, 'resume');
    const core = openCoreServices(resolveHome(values.home));
    try {
      return await followRun(core.runs, id, Boolean(values.json), io, () => core.runs.resume(id));
    } finally {
      core.close();
    }
  },
};

const cancel: CliCommand = {
  name: 'cancel',
  summary: 'stop a run for good (its checkpoints stay)',
  usage: 'Usage: tunesmith runs cancel ID [--json]',
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, 'runs cancel');
    const id = runId(positionals, 'cancel');
    const core = openCoreServices(resolveHome(values.home));
    try {
      const run = await core.runs.cancel(id);
      io.out(values.json ? JSON.stringify({ id, status: run.status }) : `Run ${id} is ${run.status}.`);
      return 0;
    } finally {
      core.close();
    }
  },
};

export const runsCommand = commandGroup('runs', 'list, inspect, resume and cancel training runs', [
  list,
  show,
  resume,
  cancel,
]);
