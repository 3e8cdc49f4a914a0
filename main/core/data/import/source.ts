// Any supported file as one stream of records (plain objects keyed by column or field), each with
// the row number and, for text files, the line it starts on.
import { basename } from 'node:path';
import { DataError } from '../errors.js';
import { readCsvRecords } from './csv.js';
import type { DetectedFormat } from './detect.js';
import { readJsonArrayRecords, readJsonlRecords } from './json.js';
import { readParquetRecords } from './parquet.js';

export interface SourceRecord {
  /** 1-based data row (CSV: the header is not counted). */
  row: number;
  /** 1-based file line where the record starts (text formats). */
  line?: number;
  values: Record<string, unknown>;
}

/** Header cells: trimmed; an empty one gets a name (pandas writes an unnamed index column). */
function headerColumns(cells: string[], name: string, line: number): string[] {
  const columns = cells.map((c, i) => c.trim() || `column${i + 1}`);
  const seen = new Map<string, number>();
  columns.forEach((c, i) => {
    const earlier = seen.get(c);
    if (earlier !== undefined) {
      throw new DataError(
        'bad-csv',
        `${name}, line ${line}: the header names the column "${c}" twice (columns ${earlier + 1} and ${i + 1}).`,
        'Give every column its own name in the first row.',
      );
    }
    seen.set(c, i);
  });
  return columns;
}

async function* csvSource(path: string, detected: DetectedFormat): AsyncGenerator<SourceRecord[]> {
  const name = basename(path);
  let columns: string[] | null = null;
  let row = 0;
  for await (const batch of readCsvRecords(path, { delimiter: detected.delimiter ?? ',' })) {
    const out: SourceRecord[] = [];
    for (const record of batch) {
      if (columns === null) {
        columns = headerColumns(record.cells, name, record.line);
        continue;
      }
      if (record.cells.length > columns.length) {
        const sep = detected.delimiter === '\t' ? 'tab' : `"${detected.delimiter ?? ','}"`;
        throw new DataError(
          'bad-csv',
          `${name}, line ${record.line}: the row has ${record.cells.length} cells but the header has ${columns.length}.`,
          `A cell that contains a ${sep} must be in double quotes ("…"). Fix that row, or re-save the file from a spreadsheet program.`,
        );
      }
      row++;
      const values: Record<string, unknown> = {};
      columns.forEach((c, i) => {
        values[c] = record.cells[i] ?? '';
      });
      out.push({ row, line: record.line, values });
    }
    if (out.length) yield out;
  }
  if (columns === null) {
    throw new DataError(
      'empty-file',
      `${name} has no header row and no rows.`,
      'Choose a file that holds your examples.',
    );
  }
}

async function* jsonSource(path: string, detected: DetectedFormat): AsyncGenerator<SourceRecord[]> {
  const name = basename(path);
  const read = detected.format === 'json' ? readJsonArrayRecords(path) : readJsonlRecords(path);
  let row = 0;
  for await (const batch of read) {
    yield batch.map((record) => {
      row++;
      if (record.value === null || typeof record.value !== 'object' || Array.isArray(record.value)) {
        throw new DataError(
          'bad-json',
          `${name}, line ${record.line}: example ${row} is ${Array.isArray(record.value) ? 'an array' : JSON.stringify(record.value)?.slice(0, 40)}, not an object.`,
          'Each example must be an object such as {"messages": [...]} or {"instruction": ..., "output": ...}.',
        );
      }
      return { row, line: record.line, values: record.value as Record<string, unknown> };
    });
  }
}

/**
 * Parquet values JSON cannot hold as they are, made plain: INT64 (BigInt) as a number when exact,
 * else its digits; timestamps as ISO text; raw bytes as base64. The source row is stored as JSON.
 */
export function jsonSafe(value: unknown): unknown {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(value)
      : value.toString();
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, jsonSafe(v)]));
  }
  if (typeof value === 'number' && !Number.isFinite(value)) return String(value);
  return value;
}

async function* parquetSource(path: string): AsyncGenerator<SourceRecord[]> {
  for await (const batch of readParquetRecords(path)) {
    yield batch.map((r) => ({ row: r.row, values: jsonSafe(r.value) as Record<string, unknown> }));
  }
}

export function readSource(path: string, detected: DetectedFormat): AsyncGenerator<SourceRecord[]> {
  if (detected.format === 'csv' || detected.format === 'tsv') return csvSource(path, detected);
  if (detected.format === 'parquet') return parquetSource(path);
  return jsonSource(path, detected);
}
