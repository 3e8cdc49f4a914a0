// JSONL and JSON readers. JSONL is read line by line; a JSON file must hold one top-level array,
// which is split into its elements by a small scanner (strings, escapes, nesting) so that a large
// array is never parsed whole. Each element or line is parsed on its own, capped in size.
import { basename } from 'node:path';
import { DataError, MAX_RECORD_CHARS, mib } from '../errors.js';
import { readTextChunks } from './text-stream.js';

export interface JsonRecord {
  /** 1-based line where the record starts. */
  line: number;
  value: unknown;
}

/** The parser's own words come last in the hint, after "Details:", where screens fold them away. */
function parseRecord(text: string, name: string, line: number, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    const fix = what.startsWith('element')
      ? 'Fix or delete that element; each element of the array must be one complete JSON object.'
      : 'Fix or delete that line; each line of a JSONL file must be one complete JSON object.';
    throw new DataError(
      'bad-json',
      `${name}, line ${line}: ${what} is not valid JSON.`,
      `${fix} Details: ${(err as Error).message}.`,
      { cause: err },
    );
  }
}

function tooLarge(name: string, line: number, maxChars: number, what: string) {
  return new DataError(
    'cell-too-large',
    `${name}, line ${line}: ${what} is larger than ${mib(maxChars)}.`,
    'Split very long texts into several examples, or check that the file is not damaged.',
  );
}

/** One record per non-blank line, in batches. */
export async function* readJsonlRecords(
  path: string,
  maxChars = MAX_RECORD_CHARS,
): AsyncGenerator<JsonRecord[]> {
  const name = basename(path);
  let pending = '';
  let line = 1;
  for await (const chunk of readTextChunks(path)) {
    const records: JsonRecord[] = [];
    let start = 0;
    for (let nl = chunk.indexOf('\n'); nl >= 0; nl = chunk.indexOf('\n', start)) {
      const text = pending + chunk.slice(start, nl);
      pending = '';
      if (text.length > maxChars) throw tooLarge(name, line, maxChars, 'the line');
      if (text.trim()) records.push({ line, value: parseRecord(text, name, line, 'the line') });
      line++;
      start = nl + 1;
    }
    pending += chunk.slice(start);
    if (pending.length > maxChars) throw tooLarge(name, line, maxChars, 'the line');
    if (records.length) yield records;
  }
  if (pending.trim()) yield [{ line, value: parseRecord(pending, name, line, 'the line') }];
}

/** The elements of a top-level JSON array, in batches, without parsing the array whole. */
export async function* readJsonArrayRecords(
  path: string,
  maxChars = MAX_RECORD_CHARS,
): AsyncGenerator<JsonRecord[]> {
  const name = basename(path);
  let line = 1;
  let started = false; // seen the opening [
  let ended = false; // seen the closing ]
  let depth = 0; // nesting inside the current element
  let inString = false;
  let escaped = false;
  let element = '';
  let elementLine = 1;
  let count = 0;

  const notArray = (what: string) =>
    new DataError(
      'bad-json',
      `${name}, line ${line}: ${what}. A JSON file must hold one array of examples: [ {...}, {...} ].`,
      'Fix the file, or save it as JSONL (one example object per line).',
    );

  for await (const chunk of readTextChunks(path)) {
    const records: JsonRecord[] = [];
    // Start of the element text in this chunk, -1 when between elements. An element (or a string in
    // it) that continues from the previous chunk starts at 0.
    let segment = element !== '' || inString ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (c === '\n') line++;
      if (inString) {
        if (escaped) escaped = false;
        else if (c === '\\') escaped = true;
        else if (c === '"') inString = false;
        continue;
      }
      if (!started) {
        if (c === '[') started = true;
        else if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n' && c !== '\uFEFF') {
          throw notArray(c === '{' ? 'the file holds one object, not an array' : `it starts with "${c}"`);
        }
        continue;
      }
      if (ended) {
        if (c !== ' ' && c !== '\t' && c !== '\r' && c !== '\n') throw notArray('text follows the closing ]');
        continue;
      }
      if (depth === 0 && (c === ',' || c === ']')) {
        if (segment >= 0) element += chunk.slice(segment, i);
        segment = -1;
        if (element.trim()) {
          records.push({
            line: elementLine,
            value: parseRecord(element, name, elementLine, `element ${count + 1}`),
          });
          count++;
        } else if (c === ',') {
          throw notArray('an empty element (two commas in a row?)');
        }
        element = '';
        if (c === ']') ended = true;
        continue;
      }
      if (segment < 0) {
        if (c === ' ' || c === '\t' || c === '\r' || c === '\n') continue;
        segment = i;
        elementLine = line;
      }
      if (c === '"') inString = true;
      else if (c === '{' || c === '[') depth++;
      else if (c === '}' || c === ']') depth--;
    }
    if (segment >= 0) element += chunk.slice(segment);
    if (element.length > maxChars) throw tooLarge(name, elementLine, maxChars, `element ${count + 1}`);
    if (records.length) yield records;
  }
  if (!started) throw notArray('the file holds no JSON array');
  if (!ended) throw notArray('the array never closes (the file ends before its closing ])');
}
