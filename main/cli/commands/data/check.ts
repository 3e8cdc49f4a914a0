// `tunesmith data check --model DIR (--dataset ID | --data FILE) [--template …] [--max-len N] [--show N] [--json]`
// The label audit before training: what will be trained, token by token, and what stops training.
import {
  AuditError,
  type AuditReport,
  TOO_LONG_POLICIES,
  type TooLongPolicy,
} from '../../../core/data/audit.js';
import {
  checkData,
  type DataCheckResult,
  fileExamples,
  type ShownExample,
  versionExamples,
} from '../../../core/data/check.js';
import { isTemplateName, TEMPLATE_NAMES, TemplateError } from '../../../core/data/template/index.js';
import { resolveHome } from '../../../core/home.js';
import { openCoreServices } from '../../../core/services.js';
import { parseCommandArgs, UsageError } from '../../args.js';
import type { CliCommand } from '../../types.js';

export const DEFAULT_MAX_LEN = 4096;

export const dataCheckCommand: CliCommand = {
  name: 'check',
  summary: 'the label audit: tokenize with the model’s tokenizer and show what will be trained',
  usage: [
    'Usage: tunesmith data check --model DIR (--dataset ID | --data FILE) [options]',
    '',
    'Renders every example with the chat template, tokenizes it with the model’s tokenizer and checks the',
    'labels: each example has trained tokens, each reply ends with the end-of-turn token inside its trained',
    'span, that token is one token of the vocabulary, and each example fits the maximum length.',
    'Exit code 0 when training can start, 1 when something must be fixed first.',
    '',
    '  --model DIR          the model folder (tokenizer.json, tokenizer_config.json)',
    '  --dataset ID         a stored dataset (from `tunesmith data list`); its newest version unless --version',
    '  --version N          which version of --dataset',
    '  --data FILE          check a file directly (CSV, TSV, JSONL, JSON, Parquet); nothing is stored',
    `  --template NAME      ${TEMPLATE_NAMES.join(', ')} (default chatml; "model" = the model’s own chat_template)`,
    `  --max-len N          the maximum tokens per example (default ${DEFAULT_MAX_LEN})`,
    '  --too-long CHOICE    what to do with examples over --max-len (replies are never cut):',
    '                       report (default: they stop training), exclude (leave them out, listed),',
    '                       trim (drop their oldest turns until they fit, listed)',
    '  --show N             print the first N examples with the trained spans marked',
    '  --example N[,N…]     print these examples (numbers from 1) with the trained spans marked',
    '  --json               print the audit as JSON',
    '  --home DIR           the home folder (for --dataset)',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseCommandArgs(
      argv,
      {
        model: { type: 'string' },
        dataset: { type: 'string' },
        version: { type: 'string' },
        data: { type: 'string' },
        template: { type: 'string' },
        'max-len': { type: 'string' },
        'too-long': { type: 'string' },
        show: { type: 'string' },
        example: { type: 'string' },
        json: { type: 'boolean' },
      },
      'data check',
    );
    if (!values.model)
      throw new UsageError('Give the model folder with --model DIR (it holds tokenizer.json).');
    if ((values.dataset === undefined) === (values.data === undefined)) {
      throw new UsageError(
        'Give either --dataset ID (a stored dataset) or --data FILE (a file to check), not both.',
      );
    }
    const template = values.template ?? 'chatml';
    if (!isTemplateName(template)) {
      throw new UsageError(`--template must be one of ${TEMPLATE_NAMES.join(', ')}, not "${template}".`);
    }
    const maxLen = wholeNumber(values['max-len'], DEFAULT_MAX_LEN, '--max-len', 1);
    const show = wholeNumber(values.show, 0, '--show', 0);
    const tooLong = values['too-long'] ?? 'report';
    if (!(TOO_LONG_POLICIES as readonly string[]).includes(tooLong)) {
      throw new UsageError(`--too-long must be one of ${TOO_LONG_POLICIES.join(', ')}, not "${tooLong}".`);
    }
    const pick = (values.example ?? '')
      .split(',')
      .filter((part) => part.trim() !== '')
      .map((part) => wholeNumber(part.trim(), 0, '--example', 1));
    const options = {
      modelDir: values.model,
      template,
      maxLen,
      tooLong: tooLong as TooLongPolicy,
      show,
      pick,
    };
    let result: DataCheckResult;
    try {
      if (values.data !== undefined) {
        result = await checkData(fileExamples(values.data), options);
      } else {
        const services = openCoreServices(resolveHome(values.home));
        try {
          const versionId = pickVersion(services, values.dataset!, values.version);
          result = await checkData(versionExamples(services.store, versionId), options);
        } finally {
          services.close();
        }
      }
    } catch (err) {
      if (values.json && (err instanceof AuditError || err instanceof TemplateError || hasCode(err))) {
        const { code, message, hint } = err as { code: string; message: string; hint?: string };
        io.out(JSON.stringify({ ok: false, error: { code, message, hint } }, null, 2));
        return 1;
      }
      throw err;
    }
    if (values.json) {
      io.out(JSON.stringify({ ok: result.report.ok, ...result }, null, 2));
    } else {
      io.out(formatCheck(result, process.stdout.isTTY === true));
    }
    return result.report.ok ? 0 : 1;
  },
};

const hasCode = (err: unknown) =>
  typeof (err as { code?: unknown })?.code === 'string' && !(err instanceof UsageError);

function wholeNumber(text: string | undefined, fallback: number, option: string, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) {
    throw new UsageError(`${option} must be a whole number of at least ${min}, not "${text}".`);
  }
  return n;
}

function pickVersion(
  services: ReturnType<typeof openCoreServices>,
  dataset: string,
  version: string | undefined,
): number {
  const id = Number(dataset);
  if (!Number.isInteger(id) || id < 1) {
    throw new UsageError(`--dataset takes a dataset id (see \`tunesmith data list\`), not "${dataset}".`);
  }
  const latest = services.datasets.latestVersion(id);
  if (version === undefined) return latest.id;
  const wanted = Number(version.replace(/^v/i, ''));
  const match = services.datasets.get(latest.id).versions.find((v) => v.version === wanted);
  if (!match)
    throw new UsageError(`Dataset ${id} has no version "${version}" (it has 1 to ${latest.version}).`);
  return match.id;
}

const number = (n: number) => n.toLocaleString('en-US');

export function formatCheck(result: DataCheckResult, tty: boolean): string {
  const { report, shown } = result;
  const lines = [
    `Label audit — template ${report.template}: each reply is trained up to and including its end token ${report.endOfTurn} (id ${report.endTokenId})`,
    `Tokenizer: ${result.tokenizer.dir} (${result.tokenizer.kind})`,
    '',
    `Examples: ${number(report.examples)} checked, ${number(report.kept)} to train` +
      `${report.excluded ? `, ${number(report.excluded)} excluded as too long` : ''}` +
      `${report.trimmed ? `, ${number(report.trimmed)} trimmed of old turns` : ''}`,
    `Tokens:   ${number(report.totalTokens)} in total, ${number(report.trainedTokens)} trained` +
      `${report.totalTokens ? ` (${((100 * report.trainedTokens) / report.totalTokens).toFixed(1)}%)` : ''}` +
      `; longest example ${number(report.longest)}`,
    '',
    ...formatHistogram(report),
  ];
  const blocking = report.issues.filter((i) => i.blocking);
  const warnings = report.issues.filter((i) => !i.blocking);
  if (blocking.length) {
    lines.push('', `Problems that stop training (${number(report.blockingCount)}):`);
    for (const issue of blocking) lines.push(`  ✖ ${issue.message}`);
  }
  if (warnings.length) {
    lines.push('', `Notes (${warnings.length}):`);
    for (const issue of warnings) lines.push(`  ! ${issue.message}`);
  }
  const { boundary } = report;
  if (boundary.differing > 0) {
    lines.push(
      '',
      `Note: in ${boundary.differing} of the first ${boundary.checked} examples (first: example ${boundary.firstExample}), tokenizing the prompt and` +
        ' the reply separately gives other tokens at their boundary than tokenizing the whole text (e.g. a reply that' +
        ' starts with a newline). Training uses the separate tokens: they are what the model sees when it answers.',
    );
  }
  const listed = report.issues.length;
  const total = Object.values(report.issueCounts).reduce<number>((a, b) => a + (b ?? 0), 0);
  if (total > listed) lines.push(`  … and ${number(total - listed)} more (--json lists the counts by kind)`);
  if (shown.length) {
    lines.push('', tty ? 'Examples (trained tokens underlined):' : 'Examples (trained tokens inside [[ ]]):');
    for (const example of shown) lines.push('', ...formatShown(example, tty));
  }
  lines.push(
    '',
    report.ok
      ? 'Ready to train: every reply is trained up to and including its end-of-turn token.'
      : report.kept === 0 && report.blockingCount === 0
        ? 'Nothing to train: no example is left.'
        : `Not ready: fix the ${report.blockingCount === 1 ? 'problem' : `${number(report.blockingCount)} problems`} above, then check again.`,
  );
  return lines.join('\n');
}

function formatHistogram(report: AuditReport): string[] {
  const bins = report.histogram.filter((b) => b.to !== null || b.count > 0);
  const most = Math.max(1, ...bins.map((b) => b.count));
  const label = (b: (typeof bins)[number]) =>
    b.to === null ? `over ${number(report.maxLen)}` : `${number(b.from)}–${number(b.to)}`;
  const width = Math.max(...bins.map((b) => label(b).length));
  return [
    'Length in tokens (examples):',
    ...bins.map((b) => {
      const bar = '█'.repeat(Math.round((40 * b.count) / most)) || (b.count ? '▏' : '');
      const mark = b.to === report.maxLen ? `  ← max length ${number(report.maxLen)}` : '';
      return `  ${label(b).padStart(width)} │${bar} ${b.count}${mark}`;
    }),
  ];
}

function formatShown(example: ShownExample, tty: boolean): string[] {
  const open = tty ? '\x1b[4;32m' : '[[';
  const close = tty ? '\x1b[0m' : ']]';
  const text = example.spans.map((s) => (s.trained ? `${open}${s.text}${close}` : s.text)).join('');
  if (!example.trainedInRun) return [`── ${example.where}: not trained — see the problems and notes above`];
  return [`── ${example.where}: ${example.tokens} tokens, ${example.trainedTokens} trained`, text];
}
