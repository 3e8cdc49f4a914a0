import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type CsvRecord, detectDelimiter, readCsvRecords } from '../../../../main/core/data/import/csv.js';
import { tempDir } from '../../store/tmp.js';

async function parse(text: string | Buffer, delimiter: ',' | '\t' | ';' = ',', maxCellChars?: number) {
  const path = join(tempDir(), 'in.csv');
  writeFileSync(path, text);
  const out: CsvRecord[] = [];
  for await (const batch of readCsvRecords(path, { delimiter, ...(maxCellChars && { maxCellChars }) }))
    out.push(...batch);
  return out;
}

/** The inverse of the parser, to build large inputs whose records are known. */
const quote = (cell: string) => `"${cell.replaceAll('"', '""')}"`;

describe('CSV reader', () => {
  it('reads quoted cells with delimiters, doubled quotes and line breaks, and names the line each record starts on', async () => {
    const records = await parse('a,b\n"x, y","say ""hi"""\n"two\nlines",z\nlast,row');
    expect(records).toEqual([
      { line: 1, cells: ['a', 'b'] },
      { line: 2, cells: ['x, y', 'say "hi"'] },
      { line: 3, cells: ['two\nlines', 'z'] },
      { line: 5, cells: ['last', 'row'] },
    ]);
  });

  it('handles CRLF, a BOM, CJK text, blank lines and empty cells', async () => {
    const text = Buffer.concat([
      Buffer.from([0xef, 0xbb, 0xbf]),
      Buffer.from('問題,答案\r\n\r\n你好,"世界\r\n！"\r\n,\r\n', 'utf8'),
    ]);
    expect(await parse(text)).toEqual([
      { line: 1, cells: ['問題', '答案'] },
      { line: 3, cells: ['你好', '世界\r\n！'] },
      { line: 5, cells: ['', ''] },
    ]);
  });

  it('gives the same records whatever the chunk boundaries (files larger than one read)', async () => {
    const rows: string[][] = [];
    for (let i = 0; i < 3000; i++) rows.push([`q${i} 中文`, `multi\r\nline "${i}"`, 'x'.repeat(i % 300)]);
    const text = `${rows.map((r) => r.map(quote).join(',')).join('\r\n')}\r\n`;
    expect(text.length).toBeGreaterThan(2 * 256 * 1024);
    const records = await parse(text);
    expect(records.map((r) => r.cells)).toEqual(rows);
    expect(records[1]?.line).toBe(3); // each record spans two lines
    expect(records[2999]?.line).toBe(5999);
  });

  it('reports unbalanced quotes with the line where the open cell starts', async () => {
    await expect(parse('q,a\nQ1,A1\nQ2,"never closed\nQ3,A3\n')).rejects.toMatchObject({
      code: 'unbalanced-quotes',
      message: expect.stringMatching(
        /in\.csv: the quoted cell that starts on line 3 \(column 2\) never closes/,
      ),
    });
  });

  it('refuses text after a closing quote, naming line and column', async () => {
    await expect(parse('q,a\nok,"A"x\n')).rejects.toMatchObject({
      code: 'bad-csv',
      message: expect.stringContaining('line 2, column 2'),
    });
  });

  it('stops at a cell over the size cap instead of growing without bound', async () => {
    await expect(parse(`q,a\nshort,${'x'.repeat(5000)}\n`, ',', 1000)).rejects.toMatchObject({
      code: 'cell-too-large',
      message: expect.stringContaining('line 2, column 2'),
    });
  });

  it('refuses binary files and UTF-16', async () => {
    await expect(parse(Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0, 1, 2]))).rejects.toMatchObject({
      code: 'binary-file',
    });
    await expect(parse(Buffer.from('\uFEFFq,a\n', 'utf16le'))).rejects.toMatchObject({
      code: 'unsupported-encoding',
    });
    await expect(parse('')).rejects.toMatchObject({ code: 'empty-file' });
  });

  it('detects the delimiter from the header line', () => {
    expect(detectDelimiter('system,question,chosen\n')).toBe(',');
    expect(detectDelimiter('question;answer\n"a,b,c";d\n')).toBe(';');
    expect(detectDelimiter('q\ta\n')).toBe('\t');
    expect(detectDelimiter('"a,b,c"|x|y\n')).toBe('|');
    expect(detectDelimiter('q\ta,b\n', 'data.tsv')).toBe('\t');
  });

  it('splits on tabs for TSV', async () => {
    expect(await parse('a\tb\n"x\ty"\tz\n', '\t')).toEqual([
      { line: 1, cells: ['a', 'b'] },
      { line: 2, cells: ['x\ty', 'z'] },
    ]);
  });
});
