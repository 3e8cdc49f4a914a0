// Making the Ollama model from an Ollama export folder: `ollama create NAME -f Modelfile`, run in
// the folder, when Ollama is installed here. Never required: the folder's README has the same
// command for later. Ollama is found by walking PATH ourselves (PATHEXT on Windows) and started
// without a shell, so a model name or folder is never read as shell syntax.
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { OLLAMA_MODEL_NAME, type OllamaCreateResult } from '../../api/contract/exports.js';
import { ExportError } from './errors.js';

export { OLLAMA_MODEL_NAME };

/** Why `name` cannot be an Ollama model name, or null when it can. */
export function ollamaNameProblem(name: string): string | null {
  if (OLLAMA_MODEL_NAME.test(name)) return null;
  return `"${name}" cannot be an Ollama model name: use lowercase letters, digits, ".", "_" and "-", starting with a letter or digit, optionally followed by ":tag" (e.g. support-bot:v2).`;
}

/**
 * The full path of `command` on `env`'s PATH, or null: the first of `executableCandidates` that is
 * a file (and, outside Windows, executable).
 */
export function findExecutable(
  command: string,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): string | null {
  const windows = platform === 'win32';
  return executableCandidates(command, env, platform).find((file) => isRunnable(file, windows)) ?? null;
}

/**
 * The files `command` may be, in PATH order. On Windows the variables may be spelled `Path` and
 * `PathExt`, entries may be quoted, and each PATHEXT extension is tried (the command as given first
 * when it already has one). Empty PATH entries (the current folder) are skipped.
 */
export function executableCandidates(
  command: string,
  env: NodeJS.ProcessEnv,
  platform: NodeJS.Platform,
): string[] {
  const windows = platform === 'win32';
  const variable = (name: string) =>
    windows ? env[Object.keys(env).find((k) => k.toUpperCase() === name) ?? name] : env[name];
  const dirs = (variable('PATH') ?? '')
    .split(windows ? ';' : ':')
    .map((dir) => (windows ? dir.trim().replace(/^"(.*)"$/, '$1') : dir))
    .filter((dir) => dir !== '');
  if (!windows) return dirs.map((dir) => path.posix.join(dir, command));
  const extensions = (variable('PATHEXT') || '.COM;.EXE;.BAT;.CMD').split(';').filter((e) => e !== '');
  const names = [
    ...(extensions.some((e) => command.toLowerCase().endsWith(e.toLowerCase())) ? [command] : []),
    ...extensions.map((e) => command + e),
  ];
  return dirs.flatMap((dir) => names.map((name) => path.win32.join(dir, name)));
}

function isRunnable(file: string, windows: boolean): boolean {
  try {
    if (!statSync(file).isFile()) return false;
    if (!windows) accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where `ollama` is on this computer's PATH, or null. */
export const findOllama = (env: NodeJS.ProcessEnv = process.env) => findExecutable('ollama', env);

export interface OllamaCreateRequest {
  /** The export folder holding the Modelfile. */
  dir: string;
  name: string;
  /** Each line Ollama prints (progress bars and spinners reduced to their text, repeats dropped). */
  onLine?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

/** The command a person can run themselves in the export folder. */
export const ollamaCreateCommand = (name: string) => `ollama create ${name} -f Modelfile`;

/** Runs `ollama create NAME -f Modelfile` in `dir`; rejects with an ExportError carrying a hint. */
export async function createOllamaModel(request: OllamaCreateRequest): Promise<OllamaCreateResult> {
  const { dir, name, onLine, env = process.env } = request;
  const problem = ollamaNameProblem(name);
  if (problem) throw new ExportError('bad-ollama-name', problem, 'Choose another name, e.g. my-model.');
  if (!existsSync(path.join(dir, 'Modelfile'))) {
    throw new ExportError(
      'no-modelfile',
      `${dir} has no Modelfile.`,
      'Export the run for Ollama again; the folder may have been moved or emptied.',
    );
  }
  const ollama = findOllama(env);
  if (!ollama) {
    throw new ExportError(
      'ollama-not-found',
      'Ollama was not found on this computer.',
      `Install it from ollama.com, then run \`${ollamaCreateCommand(name)}\` in ${dir} (or try again here).`,
    );
  }
  const lines: string[] = [];
  const addLine = (line: string) => {
    if (line === lines.at(-1)) return; // a spinner redrawing the same words
    lines.push(line);
    onLine?.(line);
  };
  const stdout = new LineSplitter(addLine);
  const stderr = new LineSplitter(addLine);
  const code = await new Promise<number | null>((resolve, reject) => {
    const child = spawn(ollama, ['create', name, '-f', 'Modelfile'], {
      cwd: dir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
    });
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    child.on('error', (err) =>
      reject(
        new ExportError(
          'ollama-failed',
          `Could not start Ollama (${ollama}): ${err.message}`,
          `Check that Ollama is installed correctly, or run \`${ollamaCreateCommand(name)}\` yourself in ${dir}.`,
        ),
      ),
    );
    child.on('close', resolve);
  });
  stdout.end();
  stderr.end();
  if (code !== 0) {
    const tail = lines.slice(-5).join('\n') || '(it printed nothing)';
    const notRunning = /could not connect|connection refused|is ollama running|server not responding/i.test(
      lines.join('\n'),
    );
    throw new ExportError(
      'ollama-create-failed',
      `\`ollama create ${name}\` failed (exit code ${code ?? 'none: it was stopped'}):\n${tail}`,
      notRunning
        ? 'Is the Ollama app running? Start it (or run `ollama serve` in another terminal), then try again.'
        : `Read Ollama's words above. If the Ollama app is not running, start it (or run \`ollama serve\`) and try again; or run \`${ollamaCreateCommand(name)}\` yourself in ${dir}.`,
    );
  }
  return { ok: true, name, output: lines.join('\n') };
}

/** ANSI escapes (colours, cursor moves) and the braille spinner frames Ollama draws. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: terminal escapes are control characters
const TERMINAL_NOISE = /\u001b\[[0-9;?]*[A-Za-z]|\u001b[()][A-Za-z0-9]|[\u2800-\u28ff]/g;

/** Splits output at newlines and carriage returns (progress redraws), without terminal noise. */
class LineSplitter {
  #rest = '';
  readonly #decoder = new TextDecoder();
  readonly #onLine: (line: string) => void;
  constructor(onLine: (line: string) => void) {
    this.#onLine = onLine;
  }

  push(chunk: Buffer): void {
    const parts = (this.#rest + this.#decoder.decode(chunk, { stream: true })).split(/\r\n|\r|\n/);
    this.#rest = parts.pop() ?? '';
    for (const part of parts) this.#emit(part);
  }

  end(): void {
    this.#emit(this.#rest + this.#decoder.decode());
    this.#rest = '';
  }

  #emit(raw: string): void {
    const line = raw.replace(TERMINAL_NOISE, '').trim();
    if (line !== '') this.#onLine(line);
  }
}
