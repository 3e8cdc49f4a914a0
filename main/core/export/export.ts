// One entry for every export format. Output goes to a staging folder beside --out and is moved into
// place only when complete, so a failure (a full disk included) leaves no partial files and an
// existing folder replaced with --force survives until the new one is ready.

import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { endTokenId } from '../data/audit.js';
import { createTemplate, type TemplateName } from '../data/template/index.js';
import { loadModelTokenizer } from '../data/tokenize.js';
import { defaultTemplate, promptIds } from '../engine/generate.js';
import type { GgufWriteOptions } from '../formats/gguf.js';
import { SafetensorsReader, type TensorToWrite, writeSafetensors } from '../formats/safetensors.js';
import { readWeightsLayout } from '../formats/safetensors-index.js';
import { type ModelConfig, readModelConfig } from '../models/config.js';
import { expectedTensors } from '../models/tensor-names.js';
import { ADAPTER_CONFIG, ADAPTER_WEIGHTS, type PeftAdapter, readPeftAdapter } from './adapter.js';
import { ExportError } from './errors.js';
import { writeAdapterGguf } from './gguf-adapter.js';
import { ggufArch, writeModelGguf } from './gguf-model.js';
import { modelfile, ollamaAdapterProblem, ollamaReadme } from './ollama.js';
import { type ExportDtype, mergeLora } from './tensor-math.js';
import { FP32_TOLERANCE, type Tolerance, type VerifyCheck, verifyExport } from './verify.js';

export const EXPORT_FORMATS = [
  'peft',
  'gguf-adapter',
  'gguf-base',
  'gguf-merged',
  'hf-merged',
  'ollama',
] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];
const NEEDS_ADAPTER: ExportFormat[] = ['peft', 'gguf-adapter', 'gguf-merged', 'hf-merged'];

export interface ExportRequest {
  modelDir: string;
  adapterDir?: string;
  format: ExportFormat;
  /** GGUF storage of model weights (default f16; adapters default f32). */
  dtype?: ExportDtype;
  outDir: string;
  force?: boolean;
  verify?: boolean;
  /** Model name in GGUF metadata and the Ollama README. */
  name?: string;
  /** The chat template the adapter was trained with (a run's); default: the model's own, else ChatML. */
  template?: TemplateName;
  /** Ollama: FROM this Ollama model instead of our base GGUF. */
  ollamaFrom?: string;
  /** Test seam for GGUF writes (disk-full simulation). */
  write?: GgufWriteOptions;
  onProgress?: (message: string) => void;
}

export interface ExportedFile {
  path: string;
  bytes: number;
}

export interface ExportResult {
  format: ExportFormat;
  outDir: string;
  files: ExportedFile[];
  notes: string[];
  verification?: { passed: boolean; checks: VerifyCheck[] };
}

// Rounding the weights moves probabilities; these bounds are for the stored precision.
const TOLERANCE: Record<ExportDtype, Tolerance> = {
  f32: FP32_TOLERANCE,
  f16: { prob: 5e-3, logProb: 0.1 },
  bf16: { prob: 2e-2, logProb: 0.5 },
  q8_0: { prob: 2e-2, logProb: 0.5 },
};

function diskMessage(err: unknown, outDir: string): never {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    throw new ExportError(
      'disk-full',
      `The disk is full: the export to ${outDir} could not be written, and its partial files were removed.`,
      'Free some disk space (or pick --out on another disk) and export again.',
    );
  }
  throw err;
}

async function exists(p: string): Promise<boolean> {
  return stat(p).then(
    () => true,
    () => false,
  );
}

export async function exportModel(req: ExportRequest): Promise<ExportResult> {
  const outDir = path.resolve(req.outDir);
  if ((await exists(outDir)) && !req.force) {
    const entries = await readdir(outDir).catch(() => ['?']);
    if (entries.length > 0)
      throw new ExportError(
        'output-exists',
        `${outDir} already exists.`,
        'Pick another --out folder, or pass --force to replace it.',
      );
  }
  if (NEEDS_ADAPTER.includes(req.format) && !req.adapterDir) {
    throw new ExportError(
      'adapter-required',
      `--format ${req.format} needs an adapter.`,
      'Pass --adapter DIR (a PEFT adapter folder) or a run id.',
    );
  }
  const config = await readModelConfig(req.modelDir);
  const adapter = req.adapterDir ? await readPeftAdapter(req.adapterDir, config) : undefined;
  const staging = `${outDir}.partial-${randomBytes(4).toString('hex')}`;
  await mkdir(path.dirname(outDir), { recursive: true });
  await mkdir(staging);
  try {
    const result = await exportInto(req, config, adapter, staging);
    if (req.verify) result.verification = await verify(req, config, adapter, result);
    if (await exists(outDir)) await rm(outDir, { recursive: true });
    await rename(staging, outDir);
    result.outDir = outDir;
    result.files = result.files.map((f) => ({
      ...f,
      path: path.join(outDir, path.relative(staging, f.path)),
    }));
    return result;
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    diskMessage(err, outDir);
  }
}

async function fileEntry(p: string): Promise<ExportedFile> {
  return { path: p, bytes: (await stat(p)).size };
}

async function exportInto(
  req: ExportRequest,
  config: ModelConfig,
  adapter: PeftAdapter | undefined,
  dir: string,
): Promise<ExportResult> {
  const say = req.onProgress ?? (() => {});
  const name = req.name ?? path.basename(path.resolve(req.adapterDir ?? req.modelDir));
  const files: string[] = [];
  const notes: string[] = [];
  const modelDtype = req.dtype ?? 'f16';
  const adapterDtype = req.dtype === 'f16' ? 'f16' : 'f32';
  switch (req.format) {
    case 'peft':
      files.push(...(await writePeft(adapter!, req.modelDir, dir)));
      break;
    case 'gguf-adapter':
      say('writing the GGUF adapter');
      files.push(
        (await writeAdapterGguf(adapter!, config, path.join(dir, 'adapter.gguf'), adapterDtype, req.write))
          .path,
      );
      break;
    case 'gguf-base':
      say('writing the base model GGUF');
      files.push(
        (
          await writeModelGguf({
            modelDir: req.modelDir,
            config,
            outFile: path.join(dir, 'model.gguf'),
            dtype: modelDtype,
            name,
            write: req.write,
          })
        ).path,
      );
      break;
    case 'gguf-merged':
      say('merging the adapter and writing the GGUF');
      files.push(
        (
          await writeModelGguf({
            modelDir: req.modelDir,
            config,
            outFile: path.join(dir, 'model.gguf'),
            dtype: modelDtype,
            name,
            merge: adapter!.pairs,
            write: req.write,
          })
        ).path,
      );
      break;
    case 'hf-merged':
      say('merging the adapter into the safetensors weights');
      files.push(...(await writeHfMerged(req.modelDir, config, adapter!, dir)));
      break;
    case 'ollama': {
      const model = loadModelTokenizer(req.modelDir);
      const template = createTemplate(
        req.template ?? defaultTemplate(model),
        model.context,
        model.specialTokens,
      );
      const stop = [
        template.endOfTurn,
        ...(model.context.eosToken && model.context.eosToken !== template.endOfTurn
          ? [model.context.eosToken]
          : []),
      ];
      const problem = adapter ? ollamaAdapterProblem(ggufArch(config)) : null;
      let from = req.ollamaFrom;
      let adapterFile: string | undefined;
      if (problem || !from) {
        say(problem ? 'merging the adapter into the model GGUF' : 'writing the base model GGUF');
        const file = problem ? 'model-merged.gguf' : 'base.gguf';
        files.push(
          (
            await writeModelGguf({
              modelDir: req.modelDir,
              config,
              outFile: path.join(dir, file),
              dtype: modelDtype,
              name,
              merge: problem ? adapter!.pairs : undefined,
              write: req.write,
            })
          ).path,
        );
        from = `./${file}`;
      }
      if (adapter && !problem) {
        say('writing the GGUF adapter');
        files.push(
          (await writeAdapterGguf(adapter, config, path.join(dir, 'adapter.gguf'), adapterDtype, req.write))
            .path,
        );
        adapterFile = './adapter.gguf';
      }
      if (problem) notes.push(`${problem}.`);
      const bosText = model.expectsBos ? (model.context.bosToken ?? '') : '';
      const mf = path.join(dir, 'Modelfile');
      await writeFile(mf, modelfile({ from: from!, adapter: adapterFile, template, stop, bosText }));
      const readme = path.join(dir, 'README.md');
      await writeFile(readme, ollamaReadme(ollamaName(name), problem ? `Note: ${problem}.` : undefined));
      files.push(mf, readme);
      break;
    }
  }
  const window = config.slidingWindow;
  if (
    window !== null &&
    window < config.maxPositionEmbeddings &&
    req.format !== 'peft' &&
    req.format !== 'hf-merged'
  ) {
    notes.push(
      `The model was trained with a ${window}-token sliding window, which llama.cpp's ${ggufArch(config)} architecture does not apply: prompts longer than ${window} tokens see more context than in training.`,
    );
  }
  return { format: req.format, outDir: dir, files: await Promise.all(files.map(fileEntry)), notes };
}

export const ollamaName = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^-+|-+$/g, '') || 'tunesmith-model';

async function writePeft(adapter: PeftAdapter, modelDir: string, dir: string): Promise<string[]> {
  const config = { ...adapter.config, inference_mode: true };
  if (!config.base_model_name_or_path) config.base_model_name_or_path = path.resolve(modelDir);
  if (Number.isInteger(config.lora_alpha)) config.lora_alpha = Math.trunc(config.lora_alpha);
  const sorted = Object.fromEntries(Object.entries(config).sort(([a], [b]) => (a < b ? -1 : 1)));
  const cfg = path.join(dir, ADAPTER_CONFIG);
  await writeFile(cfg, `${JSON.stringify(sorted, null, 2)}\n`);
  const weights = path.join(dir, ADAPTER_WEIGHTS);
  await copyFile(path.join(adapter.dir, ADAPTER_WEIGHTS), weights);
  return [cfg, weights];
}

const TOKENIZER_FILES = [
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'generation_config.json',
  'tokenizer.model',
];

async function writeHfMerged(
  modelDir: string,
  config: ModelConfig,
  adapter: PeftAdapter,
  dir: string,
): Promise<string[]> {
  const out: string[] = [];
  const rawConfig = JSON.parse(await readFile(path.join(modelDir, 'config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  rawConfig.torch_dtype = 'float32';
  await writeFile(path.join(dir, 'config.json'), `${JSON.stringify(rawConfig, null, 2)}\n`);
  out.push(path.join(dir, 'config.json'));
  for (const f of TOKENIZER_FILES) {
    if (await exists(path.join(modelDir, f))) {
      await copyFile(path.join(modelDir, f), path.join(dir, f));
      out.push(path.join(dir, f));
    }
  }
  const layout = await readWeightsLayout(modelDir);
  const merges = new Map(adapter.pairs.map((p) => [p.weight, p]));
  const readers = new Map<string, SafetensorsReader>();
  try {
    const tensors: TensorToWrite[] = expectedTensors(config).map((t) => ({
      name: t.name,
      dtype: 'F32' as const,
      shape: t.shape,
      data: async function* () {
        const at = layout.tensors.get(t.name);
        if (!at)
          throw new ExportError(
            'model-incomplete',
            `${modelDir} has no tensor "${t.name}".`,
            'Download the model folder again.',
          );
        let r = readers.get(at.file);
        if (!r) {
          r = await SafetensorsReader.open(at.file);
          readers.set(at.file, r);
        }
        const values = await r.readFloat32(t.name);
        const pair = merges.get(t.name);
        if (pair) mergeLora(values, pair.A, pair.B, pair.out, pair.in, pair.r, pair.scale);
        yield new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      },
    }));
    const file = path.join(dir, 'model.safetensors');
    await writeSafetensors(file, tensors, { format: 'pt' });
    out.push(file);
  } finally {
    for (const r of readers.values()) await r.close();
  }
  return out;
}

async function verify(
  req: ExportRequest,
  config: ModelConfig,
  adapter: PeftAdapter | undefined,
  result: ExportResult,
): Promise<{ passed: boolean; checks: VerifyCheck[] }> {
  const model = loadModelTokenizer(req.modelDir);
  const template = createTemplate(req.template ?? defaultTemplate(model), model.context, model.specialTokens);
  const prompt = promptIds(model, template, [{ role: 'user', content: 'Hello! What can you do?' }]);
  const stopTokens = [endTokenId(model, template)];
  const eos = model.context.eosToken ? model.tokenizer.token_to_id(model.context.eosToken) : undefined;
  if (eos !== undefined && eos !== null && !stopTokens.includes(eos)) stopTokens.push(eos);
  const find = (base: string) => result.files.find((f) => path.basename(f.path) === base)?.path;
  const scratch = path.join(tmpdir(), `tunesmith-verify-${randomBytes(4).toString('hex')}`);
  try {
    let baseGguf = find('model.gguf') ?? find('base.gguf') ?? find('model-merged.gguf');
    const dtype = req.dtype ?? 'f16';
    let tolerance = TOLERANCE[dtype];
    const merged = req.format === 'gguf-merged' || find('model-merged.gguf') !== undefined;
    if (!baseGguf) {
      if (req.format === 'peft' || req.format === 'hf-merged')
        throw new ExportError(
          'verify-unsupported',
          `--verify checks GGUF exports; ${req.format} has none.`,
          'Export with --format gguf-adapter, gguf-base, gguf-merged or ollama to verify.',
        );
      await mkdir(scratch, { recursive: true });
      baseGguf = path.join(scratch, 'base.gguf');
      await writeModelGguf({ modelDir: req.modelDir, config, outFile: baseGguf, dtype: 'f32' });
      tolerance = TOLERANCE.f32;
    }
    req.onProgress?.('verifying in llama.cpp');
    const checks = await verifyExport({
      modelDir: req.modelDir,
      baseGguf,
      adapterDir: adapter ? req.adapterDir : undefined,
      adapterGguf: find('adapter.gguf'),
      merged,
      prompt,
      stopTokens,
      tolerance,
    });
    return { passed: checks.every((c) => c.passed), checks };
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
