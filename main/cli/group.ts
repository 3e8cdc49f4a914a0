// A command made of subcommands: `tunesmith data import …`, `tunesmith models inspect …`.
import type { CliCommand } from './types.js';

export function commandGroup(name: string, summary: string, subcommands: CliCommand[]): CliCommand {
  const width = Math.max(...subcommands.map((c) => c.name.length));
  const usage = [
    `Usage: tunesmith ${name} <subcommand> [options]`,
    '',
    summary.charAt(0).toUpperCase() + summary.slice(1),
    '',
    'Subcommands:',
    ...subcommands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    `Run \`tunesmith ${name} <subcommand> --help\` for its options.`,
  ].join('\n');
  return {
    name,
    summary,
    usage,
    subcommands,
    async run(argv, io) {
      const [first, ...rest] = argv;
      if (first === undefined || first === '--help' || first === '-h') {
        io.out(usage);
        return first === undefined ? 2 : 0;
      }
      const sub = subcommands.find((c) => c.name === first);
      if (!sub) {
        io.err(`Unknown subcommand "${name} ${first}".\n\n${usage}`);
        return 2;
      }
      if (rest.includes('--help') || rest.includes('-h')) {
        io.out(sub.usage);
        return 0;
      }
      return sub.run(rest, io);
    },
  };
}
