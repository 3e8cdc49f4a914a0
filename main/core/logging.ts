// Application log in the home folder's logs/: one line per entry, rotated by size so it never
// grows without bound (tunesmith.log → tunesmith.1.log → … → tunesmith.N.log, oldest dropped).
import { appendFileSync, existsSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

export type LogLevel = 'info' | 'warn' | 'error';

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
  readonly file: string;
}

export interface FileLoggerOptions {
  /** Rotate when the current file would pass this size. */
  maxBytes?: number;
  /** Rotated files kept besides the current one. */
  keep?: number;
  name?: string;
  now?: () => Date;
}

export function createFileLogger(dir: string, options: FileLoggerOptions = {}): Logger {
  const { maxBytes = 5 * 1024 * 1024, keep = 3, name = 'tunesmith', now = () => new Date() } = options;
  const file = join(dir, `${name}.log`);
  const rotated = (n: number) => join(dir, `${name}.${n}.log`);
  let size = existsSync(file) ? statSync(file).size : 0;

  const rotate = () => {
    rmSync(rotated(keep), { force: true });
    for (let n = keep - 1; n >= 1; n--) {
      if (existsSync(rotated(n))) renameSync(rotated(n), rotated(n + 1));
    }
    if (keep > 0) renameSync(file, rotated(1));
    else rmSync(file, { force: true });
    size = 0;
  };

  const write = (level: LogLevel, message: string) => {
    const line = `${now().toISOString()} ${level.toUpperCase().padEnd(5)} ${message.replaceAll('\n', '\n    ')}\n`;
    const bytes = Buffer.byteLength(line);
    try {
      if (size > 0 && size + bytes > maxBytes) rotate();
      appendFileSync(file, line);
      size += bytes;
    } catch {
      // A full or read-only disk must not take the app down because of its log.
    }
  };

  return {
    file,
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
  };
}
