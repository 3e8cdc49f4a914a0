// What every CLI command is: a name, a one-line summary, its --help text and a run function that
// returns the exit code (0 ok, 1 a problem the person must fix, 2 a usage error).
export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export interface CliCommand {
  name: string;
  summary: string;
  usage: string;
  /** Groups (`tunesmith data …`) answer --help for their subcommands themselves. */
  subcommands?: CliCommand[];
  run(argv: string[], io: CliIo): Promise<number>;
}
