// `tunesmith export`: a run's checkpoint (or a model folder + adapter folder) to PEFT, GGUF, a merged
// model or an Ollama folder, optionally verified in llama.cpp. Run exports are recorded in the home
// folder's database (store.exports).
import path from 'node:path';
import { isTemplateName, TEMPLATE_NAMES } from '../../core/data/template/index.js';
import { ExportError } from '../../core/export/errors.js';
import {
  EXPORT_FORMATS,
  type ExportFormat,
  type ExportResult,
  exportModel,
  ollamaName,
} from '../../core/export/export.js';
import { createOllamaModel, findOllama, ollamaNameProblem } from '../../core/export/ollama-create.js';
import { EXPORT_DTYPES, type ExportDtype } from '../../core/export/tensor-math.js';
import { resolveHome } from '../../core/home.js';
import { modelContentHash } from '../../core/runs/fit.js';
import { type CoreServices, openCoreServices } from '../../core/services.js';
import type { CheckpointRow } from '../../core/store/repos/checkpoints.js';
import { parseCommandArgs, UsageError } from '../args.js';
import type { CliCommand, CliIo } from '../types.js';

export const exportCommand: CliCommand = {
  name: 'export',
  summary: 'export a fine-tune for Ollama, llama.cpp or PEFT (optionally verified in llama.cpp)',
  usage: [
    'Usage: tunesmith export RUN_ID [--checkpoint N|best|last] --format FORMAT --out DIR [options]',
    '       tunesmith export --model DIR [--adapter DIR] --format FORMAT --out DIR [options]',
    '',
    'Formats:',
    '  peft           the adapter as a Hugging Face PEFT folder',
    '  gguf-adapter   the adapter as a llama.cpp GGUF LoRA (use with the base model GGUF)',
    '  gguf-base      the base model as GGUF (no adapter needed)',
    '  gguf-merged    base + adapter merged into one GGUF',
    '  hf-merged      base + adapter merged into a Hugging Face safetensors folder',
    '  ollama         a folder with Modelfile, GGUF files and a README for `ollama create`',
    '',
    '  --checkpoint N|best|last  which checkpoint of the run (default last; best = lowest eval loss)',
    '  --dtype f32|f16|bf16|q8_0 how GGUF model weights are stored (default f16; adapters f32 or f16)',
    '  --ollama-from NAME        Ollama: FROM this Ollama model instead of writing the base GGUF',
    '  --ollama-create NAME      Ollama: then run `ollama create NAME -f Modelfile` in --out, when',
    '                            Ollama is installed here (name: lowercase, digits, . _ -, optional :tag)',
    '  --name NAME               the model name in GGUF metadata and the Ollama README',
    '                            (default with --ollama-create: that name)',
    `  --template NAME           with --adapter: the template it was trained with (${TEMPLATE_NAMES.join('|')};`,
    "                            default: the model's own, else chatml). A run's export uses the run's.",
    '  --verify                  load the result in llama.cpp and compare it with the engine',
    '  --force                   replace --out if it exists',
    '  --json                    print the result as JSON',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        model: { type: 'string' },
        adapter: { type: 'string' },
        checkpoint: { type: 'string' },
        format: { type: 'string' },
        dtype: { type: 'string' },
        out: { type: 'string' },
        name: { type: 'string' },
        template: { type: 'string' },
        'ollama-from': { type: 'string' },
        'ollama-create': { type: 'string' },
        verify: { type: 'boolean' },
        force: { type: 'boolean' },
        json: { type: 'boolean' },
      },
      'export',
    );
    const format = values.format;
    if (!format || !(EXPORT_FORMATS as readonly string[]).includes(format)) {
      throw new UsageError(`--format must be one of ${EXPORT_FORMATS.join(', ')}.`);
    }
    if (values.dtype !== undefined && !(EXPORT_DTYPES as readonly string[]).includes(values.dtype)) {
      throw new UsageError(`--dtype must be one of ${EXPORT_DTYPES.join(', ')}.`);
    }
    if (!values.out) throw new UsageError('--out DIR is required: the folder the export is written to.');
    if (values.template !== undefined && !isTemplateName(values.template)) {
      throw new UsageError(`--template must be one of ${TEMPLATE_NAMES.join(', ')}.`);
    }
    const runArg = positionals[0];
    if (runArg !== undefined && (values.model || values.adapter || values.template)) {
      throw new UsageError(
        'Give either a RUN_ID or --model/--adapter/--template, not both: a run knows its template.',
      );
    }
    if (runArg === undefined && !values.model) {
      throw new UsageError(
        'Give a RUN_ID, or --model DIR (and --adapter DIR). Run `tunesmith export --help`.',
      );
    }
    if (runArg === undefined && values.checkpoint) throw new UsageError('--checkpoint needs a RUN_ID.');
    const createAs = values['ollama-create'];
    if (createAs !== undefined) {
      if (format !== 'ollama') throw new UsageError('--ollama-create needs --format ollama.');
      const problem = ollamaNameProblem(createAs);
      if (problem) throw new UsageError(problem);
    }
    const progress = values.json ? undefined : (m: string) => io.err(`${m}…`);
    const request = {
      format: format as ExportFormat,
      outDir: values.out,
      ...(values.dtype ? { dtype: values.dtype as ExportDtype } : {}),
      ...(values.name || createAs ? { name: values.name || createAs } : {}),
      ...(values['ollama-from'] ? { ollamaFrom: values['ollama-from'] } : {}),
      verify: values.verify === true,
      force: values.force === true,
      ...(progress ? { onProgress: progress } : {}),
    };
    try {
      let result: ExportResult;
      if (runArg === undefined) {
        result = await exportModel({
          ...request,
          modelDir: values.model!,
          ...(values.adapter ? { adapterDir: values.adapter } : {}),
          ...(values.template && isTemplateName(values.template) ? { template: values.template } : {}),
        });
      } else {
        result = await exportRun(runArg, values.checkpoint, values.home, request);
      }
      const verified = !result.verification || result.verification.passed;
      if (createAs === undefined || !verified) {
        report(result, io, values.json === true);
        if (createAs !== undefined && !values.json)
          io.err('The Ollama model was not created: the check in llama.cpp failed.');
        return verified ? 0 : 1;
      }
      const created = await createOllamaModel({
        dir: result.outDir,
        name: createAs,
        ...(progress && { onLine: (line: string) => io.err(`  ollama: ${line}`) }),
      }).catch((err: unknown) => {
        if (!(err instanceof ExportError)) throw err;
        return err;
      });
      const ollama =
        created instanceof ExportError
          ? { error: { code: created.code, message: created.message, hint: created.hint } }
          : created;
      report(result, io, values.json === true, ollama);
      return created instanceof ExportError ? 1 : 0;
    } catch (err) {
      if (err instanceof ExportError) {
        if (values.json)
          io.out(
            JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint } }, null, 2),
          );
        else io.err(`${err.message}\n${err.hint}`);
        return 1;
      }
      throw err;
    }
  },
};

function pickCheckpoint(
  checkpoints: CheckpointRow[],
  which: string | undefined,
  runId: number,
): CheckpointRow {
  if (checkpoints.length === 0) {
    throw new ExportError(
      'no-checkpoint',
      `Run ${runId} has no checkpoint yet.`,
      'Train it further (`tunesmith runs resume`) until it saves one.',
    );
  }
  const w = which ?? 'last';
  if (w === 'last') return checkpoints.reduce((a, b) => (b.step > a.step ? b : a));
  if (w === 'best') {
    const scored = checkpoints.filter((c) => c.evalLoss !== null);
    if (scored.length === 0)
      throw new ExportError(
        'no-eval',
        `Run ${runId} has no checkpoint with an eval loss.`,
        'Use --checkpoint last or a step number.',
      );
    return scored.reduce((a, b) => (b.evalLoss! < a.evalLoss! ? b : a));
  }
  const step = Number(w);
  const found = Number.isInteger(step) ? checkpoints.find((c) => c.step === step) : undefined;
  if (!found) {
    throw new ExportError(
      'no-checkpoint',
      `Run ${runId} has no checkpoint "${w}".`,
      `Use best, last or one of the steps ${checkpoints.map((c) => c.step).join(', ')}.`,
    );
  }
  return found;
}

async function exportRun(
  runArg: string,
  which: string | undefined,
  home: string | undefined,
  request: Omit<Parameters<typeof exportModel>[0], 'modelDir'>,
): Promise<ExportResult> {
  const runId = Number(runArg);
  if (!Number.isInteger(runId) || runId < 1)
    throw new UsageError(`RUN_ID must be a run number, not "${runArg}".`);
  const core: CoreServices = openCoreServices(resolveHome(home));
  try {
    let details: ReturnType<CoreServices['runs']['get']>;
    try {
      details = core.runs.get(runId);
    } catch (err) {
      throw new ExportError(
        'no-run',
        (err as Error).message,
        'See `tunesmith runs list` for the run numbers.',
      );
    }
    const checkpoint = pickCheckpoint(details.checkpoints, which, runId);
    const { modelDir, modelHash } = details.definition;
    let hash: string;
    try {
      hash = modelContentHash(modelDir);
    } catch (err) {
      throw new ExportError(
        'model-missing',
        (err as Error).message,
        'Put the base model folder back where the run found it.',
      );
    }
    if (hash !== modelHash) {
      throw new ExportError(
        'model-changed',
        `The base model folder ${modelDir} changed since run ${runId} was trained (its weights or config differ), so the adapter no longer fits it.`,
        'Restore the original model files, or train a new run on the model as it is now.',
      );
    }
    const row = core.store.exports.create({
      runId,
      checkpointId: checkpoint.id,
      kind: request.format,
      path: path.resolve(request.outDir),
      meta: { step: checkpoint.step },
    });
    try {
      const result = await exportModel({
        ...request,
        // The Modelfile and the verification must use the template the run trained with.
        template: details.definition.template,
        modelDir,
        adapterDir: path.join(checkpoint.path, 'adapter'),
      });
      core.store.exports.finish(row.id, {
        status: 'completed',
        meta: {
          step: checkpoint.step,
          files: result.files,
          notes: result.notes,
          ...(result.verification ? { verification: result.verification } : {}),
        },
      });
      return result;
    } catch (err) {
      const e = err as ExportError;
      core.store.exports.finish(row.id, {
        status: 'failed',
        error: { code: e.code ?? 'export-failed', message: e.message, ...(e.hint ? { hint: e.hint } : {}) },
      });
      throw err;
    }
  } finally {
    core.close();
  }
}

/** What `--ollama-create` did: the model made, or why not. */
type OllamaOutcome =
  | { ok: true; name: string; output: string }
  | { error: { code: string; message: string; hint: string } };

function report(result: ExportResult, io: CliIo, json: boolean, ollama?: OllamaOutcome): void {
  if (json) {
    io.out(JSON.stringify(ollama ? { ...result, ollama } : result, null, 2));
    return;
  }
  io.out(`Exported ${result.format} to ${result.outDir}:`);
  for (const f of result.files) io.out(`  ${path.basename(f.path)}  ${(f.bytes / 1e6).toFixed(2)} MB`);
  for (const n of result.notes) io.out(`Note: ${n}`);
  if (result.format === 'ollama') {
    const name = ollamaName(path.basename(result.outDir));
    if (ollama && 'ok' in ollama) {
      io.out(`Created the Ollama model ${ollama.name}. Chat with it: ollama run ${ollama.name}`);
    } else if (ollama) {
      io.err(
        `The files are written, but the Ollama model was not created.\n${ollama.error.message}\n${ollama.error.hint}`,
      );
    } else {
      io.out(`Next: ollama create ${name} -f ${path.join(result.outDir, 'Modelfile')}   (see README.md)`);
      if (findOllama())
        io.out(
          `Ollama found: create the model now by running the line above, or add \`--ollama-create ${name}\` to this export command to have Tunesmith run it; then \`ollama run ${name}\`.`,
        );
    }
  }
  if (result.verification) {
    io.out(`Verification in llama.cpp: ${result.verification.passed ? 'PASSED' : 'FAILED'}`);
    for (const c of result.verification.checks)
      io.out(`  ${c.passed ? 'pass' : 'FAIL'}  ${c.name}: ${c.detail}`);
  }
}
