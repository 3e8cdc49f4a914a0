// `tunesmith` — the command line over the same services as the app.
import { appVersion } from '../core/package-info.js';
import { UsageError } from './args.js';
import { dataCommand } from './commands/data.js';
import { demoCommand } from './commands/demo.js';
import { doctorCommand } from './commands/doctor.js';
import { exportCommand } from './commands/export.js';
import { generateCommand } from './commands/generate.js';
import { modelsCommand } from './commands/models.js';
import { runsCommand } from './commands/runs.js';
import { serveCommand } from './commands/serve.js';
import { trainCommand } from './commands/train.js';

import type { CliCommand, CliIo } from './types.js';

export type { CliCommand, CliIo };

const COMMANDS: CliCommand[] = [
  dataCommand,
  demoCommand,
  doctorCommand,
  exportCommand,
  generateCommand,
  modelsCommand,
  runsCommand,
  serveCommand,
  trainCommand,
];

function mainHelp(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'tunesmith — fine-tune an open LLM on your own examples, on your own machine.',
    '',
    'Usage: tunesmith <command> [options]',
    '',
    'Commands:',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options for every command:',
    '  --home DIR   the home folder for models, data, runs and the database',
    '               (default: $TUNESMITH_HOME, else the platform data folder)',
    '  -h, --help   help for a command',
    '',
    'Run `tunesmith <command> --help` for a command’s options.',
  ].join('\n');
}

export async function runCli(argv: string[], io: CliIo = defaultIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.out(mainHelp());
    return first === undefined ? 2 : 0;
  }
  if (first === '--version' || first === '-v') {
    io.out(appVersion());
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === first);
  if (!command) {
    io.err(`Unknown command "${first}".\n\n${mainHelp()}`);
    return 2;
  }
  if (!command.subcommands && (rest.includes('--help') || rest.includes('-h'))) {
    io.out(command.usage);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(err.message);
      return 2;
    }
    const { message = String(err), hint } = err as { message?: string; hint?: string };
    // Service errors usually end with their hint already; print it once.
    io.err(`Error: ${message}${hint && !message.includes(hint) ? `\n${hint}` : ''}`);
    return 1;
  }
}

const defaultIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};
