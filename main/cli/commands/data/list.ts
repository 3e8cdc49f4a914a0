// `tunesmith data list [--json]`
import { resolveHome } from '../../../core/home.js';
import { openCoreServices } from '../../../core/services.js';
import { parseCommandArgs } from '../../args.js';
import type { CliCommand } from '../../types.js';

export const dataListCommand: CliCommand = {
  name: 'list',
  summary: 'list the datasets with their newest version',
  usage: [
    'Usage: tunesmith data list [--json] [--home DIR]',
    '',
    '  --json       print the list as JSON',
    '  --home DIR   the home folder',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseCommandArgs(argv, { json: { type: 'boolean' } }, 'data list');
    const services = openCoreServices(resolveHome(values.home));
    try {
      const datasets = services.datasets.list(1000);
      if (values.json) {
        io.out(JSON.stringify(datasets, null, 2));
        return 0;
      }
      if (datasets.length === 0) {
        io.out('No datasets yet. Import one with: tunesmith data import FILE');
        return 0;
      }
      io.out('   ID  VERSION  EXAMPLES  NAME');
      for (const d of datasets) {
        const v = d.latestVersion;
        io.out(
          `${String(d.id).padStart(5)}  ${String(v ? `v${v.version}` : '-').padStart(7)}  ${String(v?.exampleCount ?? 0).padStart(8)}  ${d.name}`,
        );
      }
      return 0;
    } finally {
      services.close();
    }
  },
};
