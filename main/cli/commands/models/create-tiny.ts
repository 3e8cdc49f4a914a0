// `tunesmith models create-tiny`: a small random-weight model with a real tokenizer, for tests and
// for trying the whole pipeline in seconds.
import { BUNDLED_TOKENIZERS, type BundledTokenizerName } from '../../../core/models/bundled-tokenizers.js';
import { type Architecture, SUPPORTED_ARCHITECTURES } from '../../../core/models/config.js';
import {
  createTinyModel,
  DEFAULT_TOKENIZER,
  TINY_DEFAULTS,
  type TinyDtype,
  tinyDimsProblem,
} from '../../../core/models/tiny.js';
import { parseCommandArgs, UsageError } from '../../args.js';
import type { CliCommand } from '../../types.js';
import { formatCount } from './inspect.js';

const TOKENIZERS = Object.keys(BUNDLED_TOKENIZERS) as BundledTokenizerName[];
const DTYPES: TinyDtype[] = ['f32', 'bf16', 'f16'];
const NAME = 'models create-tiny';

export const createTinyCommand: CliCommand = {
  name: 'create-tiny',
  summary: 'write a tiny random-weight model folder (real tokenizer) for tests and demos',
  usage: [
    `Usage: tunesmith ${NAME} --arch ${SUPPORTED_ARCHITECTURES.join('|')} --out DIR [options]`,
    '',
    'Writes a complete Hugging Face model folder (config.json, model.safetensors, tokenizer.json,',
    'tokenizer_config.json with a chat template, generation_config.json) with random weights.',
    'The same options and seed give byte-identical files. DIR must not exist or be empty.',
    '',
    `  --layers N        transformer layers (default ${TINY_DEFAULTS.layers})`,
    `  --hidden N        hidden size (default ${TINY_DEFAULTS.hidden})`,
    `  --heads N         attention heads (default ${TINY_DEFAULTS.heads})`,
    `  --kv-heads N      key/value heads (default ${TINY_DEFAULTS.kvHeads})`,
    `  --ffn N           feed-forward size (default ${TINY_DEFAULTS.ffn})`,
    `  --tokenizer NAME  ${TOKENIZERS.join('|')} (default: llama → llama3, mistral → mistral, qwen2 → qwen3)`,
    `  --dtype T         ${DTYPES.join('|')} weights (default ${TINY_DEFAULTS.dtype})`,
    `  --seed N          random seed (default ${TINY_DEFAULTS.seed})`,
    '  --json            print the result as JSON',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        arch: { type: 'string' },
        out: { type: 'string' },
        layers: { type: 'string' },
        hidden: { type: 'string' },
        heads: { type: 'string' },
        'kv-heads': { type: 'string' },
        ffn: { type: 'string' },
        tokenizer: { type: 'string' },
        dtype: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean' },
      },
      NAME,
    );
    if (positionals.length > 0)
      throw new UsageError(`Unexpected argument "${positionals[0]}". Use --out DIR.`);
    const arch = oneOf('--arch', values.arch, SUPPORTED_ARCHITECTURES, true) as Architecture;
    if (!values.out)
      throw new UsageError(`--out DIR is required.\nRun \`tunesmith ${NAME} --help\` for the options.`);
    const options = {
      arch,
      outDir: values.out,
      layers: whole('--layers', values.layers, TINY_DEFAULTS.layers),
      hidden: whole('--hidden', values.hidden, TINY_DEFAULTS.hidden),
      heads: whole('--heads', values.heads, TINY_DEFAULTS.heads),
      kvHeads: whole('--kv-heads', values['kv-heads'], TINY_DEFAULTS.kvHeads),
      ffn: whole('--ffn', values.ffn, TINY_DEFAULTS.ffn),
      seed: whole('--seed', values.seed, TINY_DEFAULTS.seed),
      tokenizer: (oneOf('--tokenizer', values.tokenizer, TOKENIZERS, false) ??
        DEFAULT_TOKENIZER[arch]) as BundledTokenizerName,
      dtype: (oneOf('--dtype', values.dtype, DTYPES, false) ?? TINY_DEFAULTS.dtype) as TinyDtype,
    };
    const problem = tinyDimsProblem(options);
    if (problem) throw new UsageError(`${problem}.\nRun \`tunesmith ${NAME} --help\` for the options.`);

    const model = await createTinyModel(options);
    if (values.json) {
      io.out(JSON.stringify({ ...model, tokenizer: options.tokenizer, dtype: options.dtype }, null, 2));
      return 0;
    }
    const c = model.config;
    io.out(
      [
        `Created a tiny ${arch} model in ${model.dir}`,
        `  ${c.numLayers} layers, hidden ${c.hiddenSize}, ${c.numHeads} heads / ${c.numKvHeads} KV heads, FFN ${c.intermediateSize}, vocab ${c.vocabSize}`,
        `  ${formatCount(model.parameterCount)} parameters, ${options.dtype}, seed ${options.seed}, ${options.tokenizer} tokenizer`,
        model.chatTemplateAdded
          ? '  chat template: ChatML (added by Tunesmith: the tokenizer package has none)'
          : "  chat template: the tokenizer package's own",
      ].join('\n'),
    );
    return 0;
  },
};

function whole(flag: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new UsageError(`${flag} must be a whole number, not "${value}".`);
  }
  return n;
}

function oneOf(
  flag: string,
  value: string | undefined,
  allowed: readonly string[],
  required: boolean,
): string | undefined {
  if (value === undefined) {
    if (required) throw new UsageError(`${flag} is required: one of ${allowed.join(', ')}.`);
    return undefined;
  }
  if (!allowed.includes(value))
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}, not "${value}".`);
  return value;
}
