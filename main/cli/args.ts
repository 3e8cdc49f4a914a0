// Small shared helpers for the command line: argument parsing with friendly errors, and the
// usage error type that maps to exit code 2.
import { type ParseArgsConfig, parseArgs } from 'node:util';

export class UsageError extends Error {
  readonly code = 'usage';
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export const globalOptions = {
  home: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies OptionSpec;

export function parseCommandArgs<O extends OptionSpec>(argv: string[], options: O, command: string) {
  try {
    return parseArgs({
      args: argv,
      options: { ...globalOptions, ...options },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\nRun \`tunesmith ${command} --help\` for the options.`);
  }
}

export function parsePort(value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(
      `--port must be a whole number from 0 to 65535 (0 picks a free port), not "${value}".`,
    );
  }
  return port;
}

/** The one positional argument a command takes (a folder, a file, a model id), or a usage error. */
export function onePositional(positionals: string[], what: string, command: string): string {
  const [value, ...extra] = positionals;
  if (!value || extra.length > 0) {
    throw new UsageError(`Give exactly one ${what}.\nRun \`tunesmith ${command} --help\` for the options.`);
  }
  return value;
}
