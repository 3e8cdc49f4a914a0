// `tunesmith models remove ID [--delete-files] [--json]`: take a model out of the library.
import { resolveHome } from '../../../core/home.js';
import { openCoreServices } from '../../../core/services.js';
import { parseCommandArgs, UsageError } from '../../args.js';
import type { CliCommand } from '../../types.js';

const NAME = 'models remove';

export const removeCommand: CliCommand = {
  name: 'remove',
  summary: 'take a model out of the library (and delete a downloaded one with --delete-files)',
  usage: [
    `Usage: tunesmith ${NAME} ID [--delete-files] [--json]`,
    '',
    'Removes the model from the library; runs that used it keep their results.',
    'Files are deleted only with --delete-files, and only for models Tunesmith downloaded:',
    'a folder you added with `models add` is never touched.',
    '',
    '  --delete-files   also delete the downloaded folder (frees its disk space)',
    '  --json           print the result as JSON',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { json: { type: 'boolean' }, 'delete-files': { type: 'boolean' } },
      NAME,
    );
    const [idText, ...extra] = positionals;
    const id = Number(idText);
    if (idText === undefined || extra.length > 0 || !/^\d+$/.test(idText) || id < 1) {
      throw new UsageError(`Give one model id (a number from \`tunesmith models list\`).`);
    }
    const services = openCoreServices(resolveHome(values.home));
    try {
      const result = await services.models.remove(id, { deleteFiles: values['delete-files'] ?? false });
      if (values.json) {
        io.out(JSON.stringify(result, null, 2));
        return 0;
      }
      const { model, deletedFiles } = result;
      io.out(
        `Removed model ${model.id} (${model.name}) from the library. ` +
          (deletedFiles
            ? `Deleted ${model.path}.`
            : model.source === 'download'
              ? `Its files are still in ${model.path}; run again with --delete-files to delete them.`
              : `Its folder ${model.path} was left as it is.`),
      );
      return 0;
    } finally {
      services.close();
    }
  },
};
