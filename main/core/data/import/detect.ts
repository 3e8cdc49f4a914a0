// Which reader a file needs, from its first bytes (and its extension when the bytes leave a choice).
import { open } from 'node:fs/promises';
import { basename, extname } from 'node:path';
import { DataError } from '../errors.js';
import { type Delimiter, detectDelimiter } from './csv.js';
import { hasParquetMagic } from './parquet.js';
import { assertTextHead } from './text-stream.js';

export type SourceFormat = 'csv' | 'tsv' | 'jsonl' | 'json' | 'parquet';

export interface DetectedFormat {
  format: SourceFormat;
  /** CSV/TSV only. */
  delimiter?: Delimiter;
  reason: string;
}

const HEAD_BYTES = 64 * 1024;

async function readHead(path: string): Promise<Buffer> {
  let file: Awaited<ReturnType<typeof open>>;
  try {
    file = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(
      'file-not-found',
      code === 'ENOENT'
        ? `There is no file ${path}.`
        : code === 'EISDIR'
          ? `${path} is a folder, not a file.`
          : `${path} cannot be opened (${code}).`,
      'Check the path and try again.',
      { cause: err },
    );
  }
  try {
    const head = Buffer.alloc(HEAD_BYTES);
    const { bytesRead } = await file.read(head, 0, HEAD_BYTES, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/** JSONL's first line is a whole object; a pretty-printed object's first line is just "{". */
function firstLineIsObject(text: string): boolean {
  const trimmed = text.replace(/^[\uFEFF\s]+/, '');
  // The head ends inside a very long first line: let the JSONL reader judge it.
  if (!trimmed.includes('\n')) return true;
  try {
    return typeof JSON.parse(trimmed.split('\n', 1)[0] ?? '') === 'object';
  } catch {
    return false;
  }
}

export async function detectFormat(path: string): Promise<DetectedFormat> {
  const name = basename(path);
  const ext = extname(path).toLowerCase();
  const head = await readHead(path);
  if (await hasParquetMagic(path))
    return { format: 'parquet', reason: 'the file starts and ends with the Parquet marker' };
  if (ext === '.parquet') {
    assertTextHead(head, path); // an empty file says so
    throw new DataError(
      'bad-parquet',
      `${name} is not a Parquet file: it does not start and end with the Parquet marker "PAR1".`,
      'Check that the file was copied completely, or export the data again as Parquet, CSV or JSONL.',
    );
  }
  assertTextHead(head, path);
  // Cut at a character boundary is not needed: a broken last character only affects the sniff.
  const text = new TextDecoder('utf-8').decode(head);
  const first = text.replace(/^[\uFEFF\s]+/, '')[0];
  if (first === undefined) {
    throw new DataError(
      'empty-file',
      `${name} holds only blank space.`,
      'Choose a file that holds your examples.',
    );
  }
  if (ext === '.jsonl' || ext === '.ndjson')
    return { format: 'jsonl', reason: `the file name ends in ${ext}` };
  if (first === '[' && ext !== '.csv' && ext !== '.tsv')
    return { format: 'json', reason: 'the file starts with a JSON array' };
  if (first === '{' && ext !== '.csv' && ext !== '.tsv') {
    if (ext === '.json' && !firstLineIsObject(text)) {
      throw new DataError(
        'bad-json',
        `${name} holds a single JSON object spread over several lines, not a list of examples.`,
        'Save the examples as a JSON array ([ {...}, {...} ]) or as JSONL (one example object per line).',
      );
    }
    return {
      format: 'jsonl',
      reason: 'the file starts with a JSON object: read as one object per line (JSONL)',
    };
  }
  if (ext === '.json') {
    throw new DataError(
      'bad-json',
      `${name}, line 1: a JSON file must start with [ (an array of examples) or { (one example per line); it starts with "${first}".`,
      'Check that the file is JSON, or rename it to .csv if it is a table.',
    );
  }
  const delimiter = detectDelimiter(text, name);
  const format = delimiter === '\t' ? 'tsv' : 'csv';
  const label = delimiter === '\t' ? 'tabs' : `"${delimiter}"`;
  return { format, delimiter, reason: `a table with a header row, cells separated by ${label}` };
}
