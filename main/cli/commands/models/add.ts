// `tunesmith models add DIR [--json]`: register a model folder you already have.
import { resolveHome } from '../../../core/home.js';
import { openCoreServices } from '../../../core/services.js';
import { onePositional, parseCommandArgs } from '../../args.js';
import type { CliCommand } from '../../types.js';
import { formatCount } from './inspect.js';
import { formatBytes } from './list.js';

const NAME = 'models add';

export const addCommand: CliCommand = {
  name: 'add',
  summary: 'add a model folder you already have to the library (checked first)',
  usage: [
    `Usage: tunesmith ${NAME} DIR [--json]`,
    '',
    'Checks the folder as `models inspect` does (architecture supported, weights complete and',
    'consistent with the index and config.json, tokenizer present) and adds it to the library.',
    'The folder stays where it is; Tunesmith never deletes it. Exit code 1 when it cannot be used.',
    '',
    '  --json   print the added model as JSON',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(argv, { json: { type: 'boolean' } }, NAME);
    const dir = onePositional(positionals, 'model folder', NAME);
    const services = openCoreServices(resolveHome(values.home));
    try {
      const { model, warnings } = await services.models.add(dir);
      if (values.json) {
        io.out(JSON.stringify({ model, warnings }, null, 2));
        return 0;
      }
      io.out(
        [
          `Added model ${model.id}: ${model.name} (${model.architecture}, ${model.params ? formatCount(model.params) : '?'} parameters, ${formatBytes(model.sizeBytes)})`,
          `  folder         ${model.path}`,
          `  chat template  ${model.chatTemplate === 'model' ? "the model's own" : 'ChatML (the model has none)'}`,
          ...(model.fit ? [`  fit            ${model.fit.verdict}`] : []),
          ...warnings.map((w) => `  warning        ${w}`),
        ].join('\n'),
      );
      return 0;
    } finally {
      services.close();
    }
  },
};
