// `tunesmith generate`: one reply from a model folder (and optionally an adapter), streamed.
import { isTemplateName, TEMPLATE_NAMES } from '../../core/data/template/index.js';
import { generateReply } from '../../core/engine/generate.js';
import { parseCommandArgs, UsageError } from '../args.js';
import type { CliCommand } from '../types.js';

export const generateCommand: CliCommand = {
  name: 'generate',
  summary: 'generate a reply with a model (and an adapter), using its chat template',
  usage: [
    'Usage: tunesmith generate --model DIR --prompt TEXT [options]',
    '',
    'Renders the prompt with the same chat template as training and streams the reply.',
    '',
    '  --model DIR          a Hugging Face model folder',
    '  --adapter DIR        a PEFT adapter folder to apply (for example a checkpoint of a run)',
    '  --prompt TEXT        the user message',
    '  --system TEXT        a system message',
    `  --template NAME      ${TEMPLATE_NAMES.join('|')} (default: the model's own, else chatml)`,
    '  --max-new-tokens N   stop after N new tokens (default 256)',
    '  --temperature T      0 = always the most likely token (default 0)',
    '  --top-p P            sample from the smallest set of tokens whose probability reaches P (default 1)',
    '  --seed N             sampling seed (default 0)',
    '  --quant nf4|none     how the base weights are held (default nf4, as in training)',
    '  --json               print {text, tokens, stopped, …} as JSON instead of streaming',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseCommandArgs(
      argv,
      {
        model: { type: 'string' },
        adapter: { type: 'string' },
        prompt: { type: 'string' },
        system: { type: 'string' },
        template: { type: 'string' },
        'max-new-tokens': { type: 'string' },
        temperature: { type: 'string' },
        'top-p': { type: 'string' },
        seed: { type: 'string' },
        quant: { type: 'string' },
        json: { type: 'boolean' },
      },
      'generate',
    );
    if (!values.model) throw new UsageError('--model DIR is required. Run `tunesmith generate --help`.');
    if (values.prompt === undefined) throw new UsageError('--prompt TEXT is required.');
    if (values.template !== undefined && !isTemplateName(values.template)) {
      throw new UsageError(`--template must be one of ${TEMPLATE_NAMES.join(', ')}.`);
    }
    if (values.quant !== undefined && values.quant !== 'nf4' && values.quant !== 'none') {
      throw new UsageError('--quant must be nf4 or none.');
    }
    const result = await generateReply({
      modelDir: values.model,
      prompt: values.prompt,
      ...(values.adapter ? { adapterDir: values.adapter } : {}),
      ...(values.system ? { system: values.system } : {}),
      ...(values.template ? { template: values.template } : {}),
      maxNewTokens: numberOption(values['max-new-tokens'], '--max-new-tokens', 256, {
        integer: true,
        min: 1,
      }),
      temperature: numberOption(values.temperature, '--temperature', 0, { min: 0 }),
      topP: numberOption(values['top-p'], '--top-p', 1, { min: 0, max: 1 }),
      seed: numberOption(values.seed, '--seed', 0, { integer: true, min: 0 }),
      ...(values.quant ? { quant: values.quant } : {}),
      ...(values.json ? {} : { onText: (text: string) => process.stdout.write(text) }),
    });
    if (values.json) {
      io.out(JSON.stringify(result, null, 2));
    } else {
      io.out('');
      io.err(
        `(${result.tokens.length} tokens, ${result.tokensPerSecond.toFixed(1)} tok/s, template ${result.template}` +
          `${result.stopped ? '' : ', stopped at --max-new-tokens'})`,
      );
    }
    return 0;
  },
};

function numberOption(
  value: string | undefined,
  flag: string,
  fallback: number,
  { integer = false, min = -Infinity, max = Infinity }: { integer?: boolean; min?: number; max?: number },
): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw new UsageError(
      `${flag} must be ${integer ? 'a whole number' : 'a number'} from ${min} to ${max}, not "${value}".`,
    );
  }
  return n;
}
