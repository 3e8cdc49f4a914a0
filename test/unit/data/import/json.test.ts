import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type JsonRecord,
  readJsonArrayRecords,
  readJsonlRecords,
} from '../../../../main/core/data/import/json.js';
import { tempDir } from '../../store/tmp.js';

async function collect(
  read: (path: string, max?: number) => AsyncGenerator<JsonRecord[]>,
  text: string,
  max?: number,
) {
  const path = join(tempDir(), 'in.json');
  writeFileSync(path, text);
  const out: JsonRecord[] = [];
  for await (const batch of read(path, max)) out.push(...batch);
  return out;
}

describe('JSONL reader', () => {
  it('reads one object per line, skipping blank lines, with line numbers', async () => {
    expect(await collect(readJsonlRecords, '{"a":1}\n\n{"b":"x\\ny"}\r\n{"c":3}')).toEqual([
      { line: 1, value: { a: 1 } },
      { line: 3, value: { b: 'x\ny' } },
      { line: 4, value: { c: 3 } },
    ]);
  });

  it('names the broken line in plain words, the parser\'s own words after "Details:" in the hint', async () => {
    await expect(collect(readJsonlRecords, '{"a":1}\n{"b":\n{"c":3}\n')).rejects.toMatchObject({
      code: 'bad-json',
      message: 'in.json, line 2: the line is not valid JSON.',
      hint: expect.stringMatching(/^Fix or delete that line; .* Details: \S.*\.$/),
    });
  });

  it('caps the length of a line', async () => {
    await expect(collect(readJsonlRecords, `{"a":"${'x'.repeat(3000)}"}\n`, 1000)).rejects.toMatchObject({
      code: 'cell-too-large',
    });
  });
});

describe('JSON array reader', () => {
  it('splits a top-level array into elements without being fooled by brackets, commas or quotes in strings', async () => {
    const elements = [{ a: 'x ] , } { [ "q" \\' }, { b: [1, [2, { c: 3 }]] }, { d: '中文' }];
    const records = await collect(readJsonArrayRecords, JSON.stringify(elements, null, 2));
    expect(records.map((r) => r.value)).toEqual(elements);
    expect(records[0]?.line).toBe(2);
  });

  it('handles elements that cross read boundaries', async () => {
    const elements = Array.from({ length: 2000 }, (_, i) => ({ i, text: `${'長'.repeat(i % 200)}"]` }));
    const records = await collect(readJsonArrayRecords, JSON.stringify(elements));
    expect(records.map((r) => r.value)).toEqual(elements);
  });

  it('refuses what is not one array, naming the line', async () => {
    await expect(collect(readJsonArrayRecords, '{"a": 1}')).rejects.toMatchObject({ code: 'bad-json' });
    await expect(collect(readJsonArrayRecords, '[{"a": 1},\n{"b": 2}')).rejects.toMatchObject({
      message: expect.stringContaining('never closes'),
    });
    await expect(collect(readJsonArrayRecords, '[{"a": 1},\n{"b": }]')).rejects.toMatchObject({
      message: expect.stringMatching(/line 2: element 2 is not valid JSON/),
    });
    await expect(collect(readJsonArrayRecords, '[1] x')).rejects.toMatchObject({
      message: expect.stringContaining('text follows the closing ]'),
    });
  });
});
