// Parquet reader (hyparquet, pure JS): one row group at a time, so memory follows the largest row
// group, not the file. Rows come out as plain objects keyed by top-level column.
import { open, stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { asyncBufferFromFile, type FileMetaData, parquetMetadataAsync, parquetReadObjects } from 'hyparquet';
import { DataError } from '../errors.js';

export interface ParquetRecord {
  /** 1-based row number in the file. */
  row: number;
  value: Record<string, unknown>;
}

const MAGIC = 'PAR1';

export async function hasParquetMagic(path: string): Promise<boolean> {
  const { size } = await stat(path);
  if (size < 12) return false;
  const file = await open(path, 'r');
  try {
    const head = Buffer.alloc(4);
    const tail = Buffer.alloc(4);
    await file.read(head, 0, 4, 0);
    await file.read(tail, 0, 4, size - 4);
    return head.toString('latin1') === MAGIC && tail.toString('latin1') === MAGIC;
  } finally {
    await file.close();
  }
}

function notParquet(path: string, detail: string, cause?: unknown) {
  const codec = /unsupported compression codec: (\S+)/.exec(
    String((cause as Error | undefined)?.message),
  )?.[1];
  return new DataError(
    'bad-parquet',
    `${basename(path)} is not a readable Parquet file: ${detail}.`,
    codec
      ? `It is compressed with ${codec}, which Tunesmith cannot read yet: save it again with snappy or no compression (pandas: to_parquet(..., compression="snappy")), or as JSONL.`
      : 'Check that the file was copied completely, or export the data again as Parquet, CSV or JSONL.',
    { cause },
  );
}

export async function parquetColumns(path: string): Promise<{ columns: string[]; rows: number }> {
  const metadata = await readMetadata(path);
  return {
    columns: metadata.schema[0]?.num_children ? topLevelNames(metadata) : [],
    rows: Number(metadata.num_rows),
  };
}

function topLevelNames(metadata: FileMetaData): string[] {
  // schema is a flattened tree: element 0 is the root, its children follow depth-first.
  const names: string[] = [];
  let i = 1;
  const skip = (index: number): number => {
    const el = metadata.schema[index];
    let next = index + 1;
    for (let c = 0; c < (el?.num_children ?? 0); c++) next = skip(next);
    return next;
  };
  while (i < metadata.schema.length) {
    names.push(metadata.schema[i]?.name ?? `column ${names.length + 1}`);
    i = skip(i);
  }
  return names;
}

async function readMetadata(path: string): Promise<FileMetaData> {
  if (!(await hasParquetMagic(path))) {
    const { size } = await stat(path);
    if (size === 0) {
      throw new DataError(
        'empty-file',
        `${basename(path)} is empty (0 bytes).`,
        'Choose a file that holds your examples.',
      );
    }
    throw notParquet(path, 'it does not start and end with the Parquet marker "PAR1"');
  }
  try {
    return await parquetMetadataAsync(await asyncBufferFromFile(path));
  } catch (err) {
    throw notParquet(path, `its footer could not be read (${(err as Error).message})`, err);
  }
}

/** Rows of the file in batches, one row group at a time. */
export async function* readParquetRecords(path: string): AsyncGenerator<ParquetRecord[]> {
  const metadata = await readMetadata(path);
  const file = await asyncBufferFromFile(path);
  let rowStart = 0;
  for (const group of metadata.row_groups) {
    const rowEnd = rowStart + Number(group.num_rows);
    let rows: Record<string, unknown>[];
    try {
      rows = await parquetReadObjects({ file, metadata, rowStart, rowEnd });
    } catch (err) {
      throw notParquet(
        path,
        `rows ${rowStart + 1}–${rowEnd} could not be decoded (${(err as Error).message})`,
        err,
      );
    }
    yield rows.map((value, i) => ({ row: rowStart + i + 1, value }));
    rowStart = rowEnd;
  }
}
