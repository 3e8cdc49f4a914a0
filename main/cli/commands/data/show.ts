// `tunesmith data show ID [--version N] [--examples N] [--json]`
import type { DatasetExample } from '../../../api/contract.js';
import { resolveHome } from '../../../core/home.js';
import { openCoreServices } from '../../../core/services.js';
import { parseCommandArgs, UsageError } from '../../args.js';
import type { CliCommand } from '../../types.js';
import { formatReport, formatSplit } from './format.js';

export const dataShowCommand: CliCommand = {
  name: 'show',
  summary: 'show a dataset: its versions, the checks and the first examples',
  usage: [
    'Usage: tunesmith data show ID [--version N] [--examples N] [--json] [--home DIR]',
    '',
    'ID is the dataset id from `tunesmith data list`. Shows its newest version unless --version is given.',
    '',
    '  --version N    which version of the dataset (1, 2, …)',
    '  --examples N   how many examples to print (default 3)',
    '  --json         print the version, its report and the examples as JSON',
    '  --home DIR     the home folder',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(
      argv,
      { version: { type: 'string' }, examples: { type: 'string' }, json: { type: 'boolean' } },
      'data show',
    );
    const id = Number(positionals[0]);
    if (positionals.length !== 1 || !Number.isInteger(id) || id < 1) {
      throw new UsageError('Give one dataset id, e.g. `tunesmith data show 1` (see `tunesmith data list`).');
    }
    const count = values.examples === undefined ? 3 : Number(values.examples);
    if (!Number.isInteger(count) || count < 0 || count > 500) {
      throw new UsageError(`--examples must be a whole number from 0 to 500, not "${values.examples}".`);
    }
    const services = openCoreServices(resolveHome(values.home));
    try {
      const { datasets } = services;
      const latest = datasets.latestVersion(id);
      let versionId = latest.id;
      if (values.version !== undefined) {
        const wanted = Number(values.version.replace(/^v/i, ''));
        const match = datasets.get(latest.id).versions.find((v) => v.version === wanted);
        if (!match) {
          throw new UsageError(
            `Dataset ${id} has no version "${values.version}" (it has 1 to ${latest.version}).`,
          );
        }
        versionId = match.id;
      }
      const details = datasets.get(versionId);
      const page = datasets.examples(versionId, 0, Math.max(count, 1));
      const examples = page.examples.slice(0, count);
      if (values.json) {
        io.out(JSON.stringify({ ...details, examples }, null, 2));
        return 0;
      }
      const { dataset, version, versions, report } = details;
      const lines = [
        `Dataset ${dataset.id} "${dataset.name}" — version ${version.version} of ${versions.length} (version id ${version.id})`,
        `  ${formatSplit(version)}; from ${version.sourceFormat ?? 'an edit'}${version.note ? `; ${version.note}` : ''}`,
        '',
        ...formatReport(report),
      ];
      if (examples.length) lines.push('', ...examples.flatMap(formatExample));
      io.out(lines.join('\n'));
      return 0;
    } finally {
      services.close();
    }
  },
};

const clip = (text: string, max = 300) => (text.length > max ? `${text.slice(0, max)}…` : text);

function formatExample(e: DatasetExample): string[] {
  const where =
    e.source?.line !== undefined ? `, line ${e.source.line}` : e.source ? `, row ${e.source.row}` : '';
  const lines = [`Example ${e.ordinal + 1}${e.split ? ` [${e.split}]` : ''}${where}`];
  for (const m of e.messages) {
    lines.push(`  ${m.role}: ${clip(m.content).replaceAll('\n', '\n    ')}`);
  }
  lines.push('');
  return lines;
}
