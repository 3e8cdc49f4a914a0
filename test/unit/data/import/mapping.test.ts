import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectFormat } from '../../../../main/core/data/import/detect.js';
import {
  checkMapping,
  detectMapping,
  parseMapOption,
  toMessages,
} from '../../../../main/core/data/import/mapping.js';
import { tempDir } from '../../store/tmp.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'data');
const fixture = (name: string) => join(FIXTURES, name);

describe('format detection', () => {
  it.each([
    ['reference.csv', 'csv', ','],
    ['semicolon.csv', 'csv', ';'],
    ['reference.tsv', 'tsv', '\t'],
    ['openai.jsonl', 'jsonl', undefined],
    ['sharegpt.json', 'json', undefined],
    ['reference.parquet', 'parquet', undefined],
  ])('%s is %s', async (name, format, delimiter) => {
    const detected = await detectFormat(fixture(name));
    expect(detected.format).toBe(format);
    expect(detected.delimiter).toBe(delimiter);
    expect(detected.reason).not.toBe('');
  });

  it('refuses a .parquet file that is not Parquet, an empty file and a missing file', async () => {
    await expect(detectFormat(fixture('not-parquet.parquet'))).rejects.toMatchObject({ code: 'bad-parquet' });
    await expect(detectFormat(fixture('empty.csv'))).rejects.toMatchObject({
      code: 'empty-file',
      message: 'empty.csv is empty (0 bytes).',
    });
    await expect(detectFormat(fixture('nope.csv'))).rejects.toMatchObject({ code: 'file-not-found' });
    const single = join(tempDir(), 'single.json');
    writeFileSync(single, '{\n  "data": [{"prompt": "a", "completion": "b"}]\n}\n');
    await expect(detectFormat(single)).rejects.toMatchObject({
      code: 'bad-json',
      message: 'single.json holds a single JSON object spread over several lines, not a list of examples.',
    });
    const oneLine = join(tempDir(), 'one.json');
    writeFileSync(oneLine, '{"prompt": "a", "completion": "b"}\n{"prompt": "c", "completion": "d"}\n');
    expect((await detectFormat(oneLine)).format).toBe('jsonl');
  });
});

describe('mapping detection', () => {
  it('recognises the reference columns and says why', () => {
    const p = detectMapping(['system', 'question', 'chosen', 'rejected'], [], 'x.csv');
    expect(p.mapping).toEqual({ kind: 'columns', system: 'system', user: ['question'], assistant: 'chosen' });
    expect(p.layout).toBe('reference');
    expect(p.reason).toContain('system, question, chosen look like the reference format');
    expect(p.reason).toContain('Not used: rejected');
  });

  it('joins Alpaca instruction and input; recognises prompt/completion', () => {
    expect(detectMapping(['instruction', 'input', 'output'], [], 'a.json')).toMatchObject({
      layout: 'alpaca',
      mapping: { user: ['instruction', 'input'], assistant: 'output', system: null },
    });
    expect(detectMapping(['prompt', 'completion'], [], 'p.jsonl').layout).toBe('prompt-completion');
  });

  it('finds conversation fields by shape: OpenAI role/content and ShareGPT from/value', () => {
    const openai = detectMapping(['turns'], [{ turns: [{ role: 'user', content: 'hi' }] }], 'o.jsonl');
    expect(openai).toMatchObject({ layout: 'openai', mapping: { kind: 'messages', field: 'turns' } });
    const sharegpt = detectMapping(
      ['conversations', 'id'],
      [{ conversations: [{ from: 'human', value: 'hi' }] }],
      's.json',
    );
    expect(sharegpt.layout).toBe('sharegpt');
  });

  it('asks for --map when it cannot tell, listing the columns', () => {
    expect(() => detectMapping(['name', 'city'], [], 'people.csv')).toThrow(
      /people\.csv: .*reply\. Its columns are: name, city/,
    );
  });

  it('parses and checks --map', () => {
    expect(parseMapOption('system=sys, user=instruction+input ,assistant=out')).toEqual({
      kind: 'columns',
      system: 'sys',
      user: ['instruction', 'input'],
      assistant: 'out',
    });
    expect(parseMapOption('messages=chat')).toEqual({ kind: 'messages', field: 'chat' });
    expect(() => parseMapOption('user=q')).toThrow(/at least the user and the assistant/);
    expect(() => parseMapOption('bot=q')).toThrow(/not role=column/);
    expect(() => checkMapping(parseMapOption('user=q,assistant=Chosen'), ['q', 'chosen'], 'f.csv')).toThrow(
      /f\.csv has no column "Chosen"/,
    );
  });
});

describe('toMessages', () => {
  it('builds system/user/assistant turns from columns, leaving out an empty system prompt', () => {
    const mapping = parseMapOption('system=s,user=i+x,assistant=o');
    expect(toMessages({ s: '', i: 'Translate', x: 'Hola', o: 'Hello' }, mapping)).toEqual([
      { role: 'user', content: 'Translate\n\nHola' },
      { role: 'assistant', content: 'Hello' },
    ]);
    expect(toMessages({ s: 'Be brief.', i: 'a\r\nb', o: null }, mapping)).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'a\nb' },
      { role: 'assistant', content: '' },
    ]);
  });

  it('maps ShareGPT speakers, lowercases known roles, joins content parts and keeps unknown roles', () => {
    const mapping = { kind: 'messages', field: 'm' } as const;
    expect(
      toMessages(
        {
          m: [
            { from: 'human', value: 'q' },
            { from: 'gpt', value: 'a' },
            {
              role: 'User',
              content: [
                { type: 'text', text: 'x' },
                { type: 'text', text: 'y' },
              ],
            },
            { role: 'tool', content: '42' },
          ],
        },
        mapping,
      ),
    ).toEqual([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: 'a' },
      { role: 'user', content: 'xy' },
      { role: 'tool', content: '42' },
    ]);
  });
});
