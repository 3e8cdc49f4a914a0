// `tunesmith data import FILE [--name N] [--map …] [--eval FILE | --split R [--seed S]] [--json]`
import { resolve } from 'node:path';
import type { ImportProgress } from '../../../core/data/datasets.js';
import { resolveHome } from '../../../core/home.js';
import { openCoreServices } from '../../../core/services.js';
import { onePositional, parseCommandArgs, UsageError } from '../../args.js';
import type { CliCommand } from '../../types.js';
import { formatReport, formatSplit } from './format.js';

export const dataImportCommand: CliCommand = {
  name: 'import',
  summary: 'import a CSV, TSV, JSONL, JSON or Parquet file as a new dataset',
  usage: [
    'Usage: tunesmith data import FILE [--name NAME | --dataset ID] [--map MAPPING] [--eval FILE | --split RATIO [--seed N]] [--json]',
    '',
    'Reads FILE (CSV/TSV with a header row, JSONL, JSON array, or Parquet), proposes which column is',
    'the system prompt, the question and the reply, checks every example and stores it as version 1',
    'of a new dataset (or the next version of --dataset ID). A file that cannot be read changes nothing.',
    '',
    '  --name NAME     the dataset name (default: the file name)',
    '  --dataset ID    add the file as the next version of dataset ID instead of a new dataset',
    '  --map MAPPING   which column plays which role, e.g. system=system,user=question,assistant=chosen;',
    '                  join columns with +: user=instruction+input; or messages=FIELD for chat turns',
    '  --eval FILE     a separate evaluation file with the same columns',
    '  --split RATIO   hold out this share of the examples for evaluation, e.g. 0.1',
    '  --seed N        seed for --split (default 42)',
    '  --json          print the result as JSON',
    '  --home DIR      the home folder',
    '',
    'Exit code 0 when imported (even with problems to fix before training), 1 when the file could not be imported.',
  ].join('\n'),
  async run(argv, io) {
    const { values, positionals } = parseCommandArgs(
      argv,
      {
        name: { type: 'string' },
        dataset: { type: 'string' },
        map: { type: 'string' },
        eval: { type: 'string' },
        split: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean' },
      },
      'data import',
    );
    const file = onePositional(positionals, 'file to import', 'data import');
    const splitRatio = values.split === undefined ? undefined : Number(values.split);
    if (splitRatio !== undefined && !(splitRatio > 0 && splitRatio < 1)) {
      throw new UsageError(`--split must be a number between 0 and 1, e.g. 0.1, not "${values.split}".`);
    }
    const seed = values.seed === undefined ? undefined : Number(values.seed);
    if (seed !== undefined && !Number.isInteger(seed)) {
      throw new UsageError(`--seed must be a whole number, not "${values.seed}".`);
    }
    const datasetId = values.dataset === undefined ? undefined : Number(values.dataset);
    if (datasetId !== undefined && !(Number.isInteger(datasetId) && datasetId > 0)) {
      throw new UsageError(
        `--dataset must be a dataset id such as 1 (see \`tunesmith data list\`), not "${values.dataset}".`,
      );
    }
    if (datasetId !== undefined && values.name !== undefined) {
      throw new UsageError(
        'Use either --name (a new dataset) or --dataset (a new version of one), not both.',
      );
    }
    if (values.eval && splitRatio !== undefined) {
      throw new UsageError('Use either --eval FILE or --split RATIO, not both.');
    }

    // A live line on a terminal only: pipes and --json get clean output.
    const showProgress = process.stderr.isTTY === true && !values.json;
    const services = openCoreServices(resolveHome(values.home));
    try {
      const result = await services.datasets.importFile(resolve(file), {
        ...(values.name !== undefined && { name: values.name }),
        ...(datasetId !== undefined && { datasetId }),
        ...(values.map !== undefined && { map: values.map }),
        ...(values.eval !== undefined && { evalFile: resolve(values.eval) }),
        ...(splitRatio !== undefined && { splitRatio }),
        ...(seed !== undefined && { seed }),
        ...(showProgress && { onProgress: printProgress }),
      });
      if (showProgress) process.stderr.write('\r\x1b[K');
      if (values.json) {
        io.out(JSON.stringify(result, null, 2));
        return 0;
      }
      const { dataset, version, report, format, evalFormat } = result;
      io.out(
        [
          `Format: ${format.format} (${format.reason})${evalFormat ? `; eval file: ${evalFormat.format}` : ''}`,
          `Mapping: ${result.reason}`,
          `Imported: ${formatSplit(version)}`,
          '',
          ...formatReport(report),
          '',
          `Dataset ${dataset.id} "${dataset.name}", version ${version.version} (version id ${version.id}).`,
          `See it with: tunesmith data show ${dataset.id}`,
        ].join('\n'),
      );
      return 0;
    } catch (err) {
      if (!values.json) throw err;
      const {
        code = 'internal',
        message = String(err),
        hint,
      } = err as { code?: string; message?: string; hint?: string };
      io.out(JSON.stringify({ error: { code, message, ...(hint && { hint }) } }, null, 2));
      return 1;
    } finally {
      services.close();
    }
  },
};

function printProgress({ phase, file, examples }: ImportProgress): void {
  const count = examples.toLocaleString('en-US');
  const text =
    phase === 'reading'
      ? `Reading ${file}: ${count} examples…`
      : phase === 'storing'
        ? `Storing ${count} examples…`
        : 'Checking the examples…';
  process.stderr.write(`\r\x1b[K${text}`);
}
