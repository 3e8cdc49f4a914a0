// `tunesmith demo`: the whole job on built-in parts, in a few minutes on a laptop CPU. It makes the
// tiny demo model (once, under <home>/models/demo), trains it on the bundled sample examples, shows
// the loss going down, and one sample question answered before and after training. The tiny model
// starts from random weights, so its words are gibberish either way: the demo shows the machinery
// (data → training → adapter → generation), not a useful model.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { TemplateName } from '../../core/data/template/index.js';
import { generateReply } from '../../core/engine/generate.js';
import type { ExportError } from '../../core/export/errors.js';
import { type ExportResult, exportModel } from '../../core/export/export.js';
import { resolveHome } from '../../core/home.js';
import { createTinyModel } from '../../core/models/tiny.js';
import { packageRoot } from '../../core/package-info.js';
import { type CoreServices, openCoreServices } from '../../core/services.js';
import { parseCommandArgs } from '../args.js';
import type { CliCommand } from '../types.js';
import { followRun } from './train.js';

/** Enough steps for the loss to fall visibly on the tiny model, in well under 3 minutes on 2 cores. */
export const DEMO_SETTINGS = [
  'maxSteps=40',
  'lr=1e-2',
  'warmupSteps=3',
  'loraR=16',
  'loraAlpha=32',
  'loraDropout=0',
  'neftuneAlpha=0',
  'maxLen=256',
  'evalEvery=20',
  'checkpointEvery=40',
  'samples=1',
  'sampleMaxNewTokens=16',
];

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'the whole job in a few minutes: a tiny built-in model trained on sample examples',
  usage: [
    'Usage: tunesmith demo [--threads N] [--json]',
    '',
    'Creates the built-in tiny model (once), fine-tunes it on the bundled sample examples, and shows',
    'the loss going down and one question answered before and after training. The tiny model is',
    'random, so its answers are gibberish: the demo shows the steps, not a useful model.',
    '',
    '  --threads N   CPU threads (default: all cores)',
    '  --json        JSON lines on stdout instead of text',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseCommandArgs(
      argv,
      { threads: { type: 'string' }, json: { type: 'boolean' } },
      'demo',
    );
    const threads = values.threads === undefined ? 0 : Number(values.threads);
    const started = performance.now();
    const core = openCoreServices(resolveHome(values.home));
    try {
      const modelDir = path.join(core.paths.models, 'demo');
      if (!existsSync(path.join(modelDir, 'config.json'))) {
        io.err(`Creating the tiny demo model in ${modelDir} …`);
        await createTinyModel({ arch: 'qwen2', outDir: modelDir });
      }
      const samples = path.join(packageRoot(), 'resources', 'samples');
      const { run, definition } = await core.runs.create({
        modelDir,
        dataFile: path.join(samples, 'reference-sample.csv'),
        evalFile: path.join(samples, 'reference-sample-eval.csv'),
        preset: 'quick',
        overrides: [...DEMO_SETTINGS, `threads=${threads}`],
        backend: 'cpu',
        name: 'demo',
      });
      const question = definition.samplePrompts[0]?.text ?? 'Hello';
      const ask = (adapterDir?: string) =>
        generateReply({
          modelDir,
          prompt: question,
          maxNewTokens: 16,
          ...(threads ? { threads } : {}),
          ...(adapterDir ? { adapterDir } : {}),
        });
      const before = await ask();
      io.err(
        `Training run ${run.id}: ${definition.plan.totalSteps} steps on ${definition.plan.trainExamples} sample examples …`,
      );
      const code = await followRun(core.runs, run.id, Boolean(values.json), io, () =>
        core.runs.start(run.id),
      );
      if (code !== 0) return code;
      const loss = core.runs.series(run.id, 'loss').map((p) => p.value);
      const evalLoss = core.runs.series(run.id, 'eval_loss').map((p) => p.value);
      const adapter = path.join(core.runs.get(run.id).checkpoints.at(-1)!.path, 'adapter');
      const after = await ask(adapter);
      const exported = await exportDemo(core, {
        runId: run.id,
        checkpointId: core.runs.get(run.id).checkpoints.at(-1)!.id,
        modelDir,
        adapter,
        template: definition.template,
        onProgress: values.json ? undefined : (m) => io.err(`${m}…`),
      });
      const seconds = (performance.now() - started) / 1000;
      const summary = {
        runId: run.id,
        modelDir,
        adapter,
        lossFirst: loss[0],
        lossLast: loss.at(-1),
        evalLossFirst: evalLoss[0],
        evalLossLast: evalLoss.at(-1),
        question,
        before: before.text,
        after: after.text,
        ollamaFolder: exported.outDir,
        verification: exported.verification ?? null,
        seconds,
      };
      if (values.json) {
        io.out(JSON.stringify({ type: 'demo', ...summary }));
        return exported.verification && !exported.verification.passed ? 1 : 0;
      }
      io.out(`Loss: ${loss[0]?.toFixed(3)} at the first step → ${loss.at(-1)?.toFixed(3)} at the last`);
      io.out(`Eval loss (examples it never trained on): ${evalLoss.map((v) => v.toFixed(3)).join(' → ')}`);
      io.out(`Question: ${question}`);
      io.out(`  before training: ${JSON.stringify(before.text)}`);
      io.out(`  after training:  ${JSON.stringify(after.text)}`);
      io.out(`Adapter: ${adapter}`);
      io.out(
        `Ollama folder: ${exported.outDir}  (ollama create tunesmith-demo -f ${path.join(exported.outDir, 'Modelfile')})`,
      );
      if (exported.verification) {
        io.out(
          `Verified in llama.cpp: ${exported.verification.passed ? 'passed' : 'FAILED'} (${exported.verification.checks
            .map((c) => `${c.name} ${c.passed ? 'ok' : 'failed'}`)
            .join(', ')})`,
        );
      } else {
        io.out(`Not verified in llama.cpp: ${exported.verifySkipped}`);
      }
      io.out(`Done in ${seconds.toFixed(0)} s. Train on your own data with:`);
      io.out('  tunesmith train --model <model folder> --data <your examples.csv>');
      return exported.verification && !exported.verification.passed ? 1 : 0;
    } finally {
      core.close();
    }
  },
};

interface DemoExport {
  runId: number;
  checkpointId: number;
  modelDir: string;
  adapter: string;
  template: TemplateName;
  onProgress: ((message: string) => void) | undefined;
}

/**
 * The demo's last step: an Ollama folder from the run's checkpoint, recorded in the database and
 * verified in llama.cpp where the verifier is installed (a development checkout; not the packaged app).
 */
async function exportDemo(
  core: CoreServices,
  o: DemoExport,
): Promise<ExportResult & { verifySkipped?: string }> {
  const outDir = path.join(core.paths.exports, `demo-run-${o.runId}`);
  const row = core.store.exports.create({
    runId: o.runId,
    checkpointId: o.checkpointId,
    kind: 'ollama',
    path: outDir,
    meta: {},
  });
  const request = {
    modelDir: o.modelDir,
    adapterDir: o.adapter,
    format: 'ollama' as const,
    outDir,
    force: true,
    name: 'tunesmith-demo',
    template: o.template,
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
  };
  try {
    let result: ExportResult & { verifySkipped?: string };
    try {
      result = await exportModel({ ...request, verify: true });
    } catch (err) {
      if ((err as ExportError).code !== 'verify-unavailable') throw err;
      result = { ...(await exportModel(request)), verifySkipped: (err as ExportError).message };
    }
    core.store.exports.finish(row.id, {
      status: 'completed',
      meta: { files: result.files, ...(result.verification ? { verification: result.verification } : {}) },
    });
    return result;
  } catch (err) {
    const e = err as ExportError;
    core.store.exports.finish(row.id, {
      status: 'failed',
      error: { code: e.code ?? 'export-failed', message: e.message },
    });
    throw err;
  }
}
