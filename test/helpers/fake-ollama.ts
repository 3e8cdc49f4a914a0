// A stand-in `ollama` for tests: a small shell script in its own folder, to put first on PATH. It
// records each call (working folder and arguments), refuses anything but
// `create NAME -f Modelfile` run where ./Modelfile exists, and then either prints progress the way
// Ollama does (spinner frames redrawn with \r, terminal escapes) and succeeds, or fails as Ollama
// does when its server is not running.
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './cli.js';

export type FakeOllamaMode = 'ok' | 'not-running';

export interface FakeOllama {
  /** The folder holding `ollama`: put it first on PATH. */
  dir: string;
  /** PATH with the fake first. */
  path: string;
  /** Each call: the folder it ran in and its arguments. */
  calls(): { cwd: string; args: string[] }[];
}

const SCRIPTS: Record<FakeOllamaMode, string> = {
  ok: [
    // "gathering model components" with two spinner frames (⠙ ⠹), redrawn in place.
    String.raw`printf '\033[?25lgathering model components \342\240\231 \rgathering model components \342\240\271 \r' >&2`,
    String.raw`printf 'gathering model components\n' >&2`,
    String.raw`printf 'copying file sha256:0123abcd 100%%\n' >&2`,
    String.raw`printf 'writing manifest\n' >&2`,
    String.raw`printf 'success\033[?25h\n'`,
    'exit 0',
  ].join('\n'),
  'not-running': [`echo 'Error: could not connect to ollama app, is it running?' >&2`, 'exit 1'].join('\n'),
};

export function writeFakeOllama(mode: FakeOllamaMode): FakeOllama {
  const dir = tempDir('tunesmith-fake-ollama-');
  const log = path.join(dir, 'calls.log');
  const script = [
    '#!/bin/sh',
    `printf '%s\\t%s\\n' "$PWD" "$*" >> '${log}'`,
    'if [ "$#" -ne 4 ] || [ "$1" != create ] || [ "$3" != -f ] || [ "$4" != Modelfile ]; then',
    '  echo "Error: unexpected arguments: $*" >&2; exit 2',
    'fi',
    'if [ ! -f ./Modelfile ]; then echo "Error: no Modelfile in $PWD" >&2; exit 3; fi',
    SCRIPTS[mode],
    '',
  ].join('\n');
  const file = path.join(dir, 'ollama');
  writeFileSync(file, script);
  chmodSync(file, 0o755);
  return {
    dir,
    path: [dir, process.env.PATH ?? ''].join(path.delimiter),
    calls: () =>
      existsSync(log)
        ? readFileSync(log, 'utf8')
            .trim()
            .split('\n')
            .map((line) => {
              const [cwd = '', args = ''] = line.split('\t');
              return { cwd, args: args.split(' ') };
            })
        : [],
  };
}
