// CSV / TSV reader: an RFC 4180 state machine over decoded chunks, so a file of several GB never
// sits in memory. Quoted cells may hold delimiters, doubled quotes and line breaks. Records come
// out with the file line they start on, so every message can point at the line a person sees.
import { basename } from 'node:path';
import { DataError, MAX_CELL_CHARS, mib } from '../errors.js';
import { readTextChunks } from './text-stream.js';

export interface CsvRecord {
  /** 1-based line of the file where the record starts. */
  line: number;
  cells: string[];
}

export const DELIMITERS = [',', '\t', ';', '|'] as const;
export type Delimiter = (typeof DELIMITERS)[number];

export interface CsvOptions {
  delimiter: Delimiter;
  maxCellChars?: number;
}

const QUOTE = 34; // "
const LF = 10;
const CR = 13;

/**
 * Picks the delimiter from the header line (the first line, outside quotes): the candidate that
 * appears most often there. A .tsv file prefers tab when the header has any.
 */
export function detectDelimiter(head: string, fileName = ''): Delimiter {
  let header = '';
  let quoted = false;
  for (const ch of head) {
    if (ch === '"') quoted = !quoted;
    else if (!quoted && (ch === '\n' || ch === '\r')) break;
    if (!quoted) header += ch;
  }
  const counts = DELIMITERS.map((d) => header.split(d).length - 1);
  if (/\.tsv$/i.test(fileName) && (counts[1] ?? 0) > 0) return '\t';
  let best = 0;
  for (let i = 1; i < counts.length; i++) if ((counts[i] ?? 0) > (counts[best] ?? 0)) best = i;
  return DELIMITERS[best] ?? ',';
}

enum State {
  FieldStart,
  Unquoted,
  Quoted,
  QuoteInQuoted,
}

/** Records of the file, in batches (one per chunk read). Blank lines are skipped. */
export async function* readCsvRecords(path: string, options: CsvOptions): AsyncGenerator<CsvRecord[]> {
  const name = basename(path);
  const delimiter = options.delimiter.charCodeAt(0);
  const maxCell = options.maxCellChars ?? MAX_CELL_CHARS;
  const delimiterName = options.delimiter === '\t' ? 'tab' : `"${options.delimiter}"`;

  let state = State.FieldStart;
  let line = 1;
  let recordLine = 1;
  let quoteLine = 1;
  let cells: string[] = [];
  let field = '';
  let fieldLength = 0;
  let skipLf = false;

  const tooLarge = () =>
    new DataError(
      'cell-too-large',
      `${name}, line ${recordLine}, column ${cells.length + 1}: a cell is larger than ${mib(maxCell)}.`,
      state === State.Quoted || state === State.QuoteInQuoted
        ? `Usually a quote (") that opens a cell on line ${quoteLine} and never closes. Check the quotes there.`
        : 'Split very long texts into several examples, or check that the file is really a CSV.',
    );

  for await (const chunk of readTextChunks(path)) {
    const records: CsvRecord[] = [];
    let segment = 0; // start of the part of `chunk` not yet copied into `field`
    const flush = (end: number) => {
      if (end > segment) {
        fieldLength += end - segment;
        if (fieldLength > maxCell) throw tooLarge();
        field += chunk.slice(segment, end);
      }
    };
    const endField = () => {
      cells.push(field);
      field = '';
      fieldLength = 0;
    };
    const endRecord = () => {
      endField();
      if (!(cells.length === 1 && cells[0] === '')) records.push({ line: recordLine, cells });
      cells = [];
    };

    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (skipLf) {
        skipLf = false;
        if (c === LF) {
          segment = i + 1;
          continue;
        }
      }
      switch (state) {
        case State.FieldStart:
        case State.Unquoted:
          if (c === delimiter) {
            flush(i);
            endField();
            segment = i + 1;
            state = State.FieldStart;
          } else if (c === LF || c === CR) {
            flush(i);
            endRecord();
            skipLf = c === CR;
            line++;
            recordLine = line;
            segment = i + 1;
            state = State.FieldStart;
          } else if (c === QUOTE && state === State.FieldStart) {
            quoteLine = line;
            segment = i + 1;
            state = State.Quoted;
          } else {
            state = State.Unquoted;
          }
          break;
        case State.Quoted:
          if (c === QUOTE) {
            flush(i);
            segment = i + 1;
            state = State.QuoteInQuoted;
          } else if (c === LF) {
            line++;
          }
          break;
        case State.QuoteInQuoted:
          if (c === QUOTE) {
            // A doubled quote is one literal quote; it starts the next segment.
            segment = i;
            state = State.Quoted;
          } else if (c === delimiter) {
            endField();
            segment = i + 1;
            state = State.FieldStart;
          } else if (c === LF || c === CR) {
            endRecord();
            skipLf = c === CR;
            line++;
            recordLine = line;
            segment = i + 1;
            state = State.FieldStart;
          } else {
            throw new DataError(
              'bad-csv',
              `${name}, line ${line}, column ${cells.length + 1}: text follows the closing quote of a quoted cell.`,
              `Inside a quoted cell, write a quote as two quotes (""), and put nothing but a ${delimiterName} or a line break after the closing quote.`,
            );
          }
          break;
      }
    }
    if (state !== State.QuoteInQuoted) flush(chunk.length);
    if (records.length) yield records;
  }

  if (state === State.Quoted) {
    throw new DataError(
      'unbalanced-quotes',
      `${name}: the quoted cell that starts on line ${quoteLine} (column ${cells.length + 1}) never closes; the file ends inside it.`,
      'Add the missing closing quote ("), or write quotes inside a cell as two quotes (""). A spreadsheet program can re-save the file with correct quoting.',
    );
  }
  if (state !== State.FieldStart || field !== '' || cells.length > 0) {
    cells.push(field);
    if (!(cells.length === 1 && cells[0] === '')) yield [{ line: recordLine, cells }];
  }
}
