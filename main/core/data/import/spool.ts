// A temporary file of parsed examples, one JSON line each. Import parses the whole source into it
// first (asynchronously, memory bounded) and only then writes the database, in one synchronous
// transaction that reads the spool back: a file that fails to parse never touches the database,
// and no other write of this process can slip into the import's transaction.
import {
  closeSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const FLUSH_CHARS = 1024 * 1024;
const PREFIX = 'tunesmith-import-';

/**
 * Removes spools left by imports that were killed (a finished or failed import removes its own).
 * Only old ones: a spool younger than `olderThanMs` may belong to an import still running.
 */
export function removeStaleSpools(parent: string, olderThanMs = 24 * 3600 * 1000, now = Date.now()): number {
  let removed = 0;
  let names: string[];
  try {
    names = readdirSync(parent);
  } catch {
    return 0;
  }
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    const dir = join(parent, name);
    try {
      if (now - statSync(dir).mtimeMs < olderThanMs) continue;
      rmSync(dir, { recursive: true, force: true });
      removed++;
    } catch {
      // gone already, or not ours to remove
    }
  }
  return removed;
}

export class Spool<T> {
  readonly #dir: string;
  readonly #path: string;
  #fd: number;
  #buffer: string[] = [];
  #bufferChars = 0;
  count = 0;

  constructor(parent = tmpdir()) {
    this.#dir = mkdtempSync(join(parent, PREFIX));
    this.#path = join(this.#dir, 'examples.jsonl');
    this.#fd = openSync(this.#path, 'w');
  }

  push(item: T): void {
    const line = `${JSON.stringify(item)}\n`;
    this.#buffer.push(line);
    this.#bufferChars += line.length;
    this.count++;
    if (this.#bufferChars >= FLUSH_CHARS) this.#flush();
  }

  #flush(): void {
    if (this.#buffer.length) writeSync(this.#fd, this.#buffer.join(''));
    this.#buffer = [];
    this.#bufferChars = 0;
  }

  /** Reads the items back in order (synchronously, chunk by chunk). */
  *read(): Generator<T> {
    this.#flush();
    const fd = openSync(this.#path, 'r');
    try {
      const chunk = Buffer.alloc(FLUSH_CHARS);
      const decoder = new TextDecoder();
      let pending = '';
      for (;;) {
        const n = readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) break;
        pending += decoder.decode(chunk.subarray(0, n), { stream: true });
        let start = 0;
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n', start)) {
          yield JSON.parse(pending.slice(start, nl)) as T;
          start = nl + 1;
        }
        pending = pending.slice(start);
      }
    } finally {
      closeSync(fd);
    }
  }

  dispose(): void {
    try {
      closeSync(this.#fd);
    } catch {
      // already closed
    }
    rmSync(this.#dir, { recursive: true, force: true });
  }
}
