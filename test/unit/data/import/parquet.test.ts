import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type ParquetRecord, readParquetRecords } from '../../../../main/core/data/import/parquet.js';
import { tempDir } from '../../store/tmp.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'data');

async function rows(path: string) {
  const out: ParquetRecord[][] = [];
  for await (const batch of readParquetRecords(path)) out.push(batch);
  return out;
}

describe('Parquet reader', () => {
  it('reads row group by row group, numbering rows from 1', async () => {
    const batches = await rows(join(FIXTURES, 'reference.parquet'));
    expect(batches.map((b) => b.length)).toEqual([2, 1]);
    expect(batches.flat().map((r) => [r.row, r.value.question, r.value.chosen])).toEqual([
      [1, 'What is 2+2?', '4'],
      [2, '台灣最高的山？', '玉山。\n海拔 3,952 公尺。'],
      [3, 'Say hi', 'Hi!'],
    ]);
  });

  it('refuses a file that is not Parquet, and a damaged one, naming the file', async () => {
    await expect(rows(join(FIXTURES, 'not-parquet.parquet'))).rejects.toMatchObject({
      code: 'bad-parquet',
      message: expect.stringContaining('not-parquet.parquet is not a readable Parquet file'),
    });
    const good = readFileSync(join(FIXTURES, 'reference.parquet'));
    const damaged = Buffer.concat([
      good.subarray(0, 4),
      Buffer.alloc(good.length - 12, 0x41),
      good.subarray(-8),
    ]);
    const path = join(tempDir(), 'damaged.parquet');
    writeFileSync(path, damaged);
    await expect(rows(path)).rejects.toMatchObject({ code: 'bad-parquet' });
  });
});
