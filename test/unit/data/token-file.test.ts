// The token file: written atomically, read back exactly, rejected when damaged or built for other
// settings, reused from the cache, and never written when the audit blocks.
import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ExampleInput } from '../../../main/core/data/audit.js';
import { openAuditor } from '../../../main/core/data/check.js';
import type { Conversation } from '../../../main/core/data/conversation.js';
import {
  exampleLength,
  prepareTokenFile,
  readTokenFile,
  requireTokenFile,
  TokenFileError,
  type TokenFileKey,
  TokenFileWriter,
  tokenFilePath,
} from '../../../main/core/data/token-file.js';
import { loadModelTokenizer, type ModelTokenizer } from '../../../main/core/data/tokenize.js';
import { tempDir } from '../../helpers/cli.js';
import { makeTokenizerFolder } from '../../helpers/tokenizer-folder.js';

let model: ModelTokenizer;
beforeAll(() => {
  model = loadModelTokenizer(makeTokenizerFolder('llama2'));
});

const key = (over: Partial<TokenFileKey> = {}): TokenFileKey => ({
  dataset: 'version:7',
  tokenizerHash: 'abc',
  template: 'mistral',
  maxLen: 64,
  tooLong: 'report',
  ...over,
});

function writeSample(file: string, k = key()) {
  const writer = new TokenFileWriter(file, k);
  writer.add(0, Int32Array.from([1, 5, 6, 2]), Uint8Array.from([0, 0, 1, 1]));
  writer.add(3, Int32Array.from([]), Uint8Array.from([]));
  writer.add(4, Int32Array.from([1, -1, 2147483647]), Uint8Array.from([0, 1, 1]));
  return writer.finish();
}

describe('token file format', () => {
  it('round-trips tokens, flags, offsets and dataset positions', () => {
    const dir = tempDir();
    const file = writeSample(path.join(dir, 'a.tokens'));
    expect(readdirSync(dir)).toEqual(['a.tokens']); // no temp files left behind
    const t = readTokenFile(file, key());
    expect(t.examples).toBe(3);
    expect([...t.tokens]).toEqual([1, 5, 6, 2, 1, -1, 2147483647]);
    expect([...t.trained]).toEqual([0, 0, 1, 1, 0, 1, 1]);
    expect([...t.offsets]).toEqual([0, 4, 4, 7]);
    expect([...t.ordinals]).toEqual([0, 3, 4]);
    expect([0, 1, 2].map((i) => exampleLength(t, i))).toEqual([4, 0, 3]);
    expect(t.maxLen).toBe(64);
  });

  it('rejects a truncated file, a wrong magic, bad flags, and a file built for other settings', () => {
    const dir = tempDir();
    const file = writeSample(path.join(dir, 'a.tokens'));
    const good = readFileSync(file);
    expect(() => readTokenFile(file, key({ maxLen: 65 }))).toThrow(/other settings/);
    truncateSync(file, good.length - 1);
    expect(() => readTokenFile(file)).toThrow(TokenFileError);
    const magic = Buffer.from(good);
    magic[0] = 0x58;
    writeFileSync(file, magic);
    expect(() => readTokenFile(file)).toThrow(/not a token file/);
    const flags = Buffer.from(good);
    flags[64 + 4 * 7] = 7; // the first trained flag
    writeFileSync(file, flags);
    expect(() => readTokenFile(file)).toThrow(/trained flag 7/);
  });
});

describe('prepareTokenFile', () => {
  const conversations: Conversation[] = [
    [
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello.' },
    ],
    [
      { role: 'user', content: 'Bye' },
      { role: 'assistant', content: 'See you.' },
    ],
  ];
  const input = (convs: Conversation[]) => (): ExampleInput[] =>
    convs.map((messages, ordinal) => ({ ordinal, messages }));
  const auditor = () => openAuditor(model, { template: 'mistral', maxLen: 64 });

  it('builds once, then reuses the cached file without reading the examples again', async () => {
    const cacheDir = tempDir();
    const k = key({ tokenizerHash: model.hash });
    const first = await prepareTokenFile({ cacheDir, key: k, auditor, examples: input(conversations) });
    expect(first.reused).toBe(false);
    expect(first.file?.examples).toBe(2);
    expect(first.file?.path).toBe(tokenFilePath(cacheDir, k));
    const second = await prepareTokenFile({
      cacheDir,
      key: k,
      auditor,
      examples: () => {
        throw new Error('the cache should have been used');
      },
    });
    expect(second.reused).toBe(true);
    expect([...second.file!.tokens]).toEqual([...first.file!.tokens]);
    expect(second.report.trainedTokens).toBe(first.report.trainedTokens);
  });

  it('rebuilds a damaged cached file', async () => {
    const cacheDir = tempDir();
    const k = key({ tokenizerHash: model.hash });
    const first = await prepareTokenFile({ cacheDir, key: k, auditor, examples: input(conversations) });
    truncateSync(first.file!.path, 70);
    const again = await prepareTokenFile({ cacheDir, key: k, auditor, examples: input(conversations) });
    expect(again.reused).toBe(false);
    expect([...again.file!.tokens]).toEqual([...first.file!.tokens]);
  });

  it('another max length is another file', async () => {
    const cacheDir = tempDir();
    const a = await prepareTokenFile({ cacheDir, key: key(), auditor, examples: input(conversations) });
    const b = await prepareTokenFile({
      cacheDir,
      key: key({ maxLen: 32 }),
      auditor,
      examples: input(conversations),
    });
    expect(a.file?.path).not.toBe(b.file?.path);
    expect(b.reused).toBe(false);
  });

  it('writes nothing when the audit has blocking problems', async () => {
    const cacheDir = tempDir();
    const bad = [
      ...conversations,
      [
        { role: 'user', content: 'q' },
        { role: 'assistant', content: '' },
      ] as Conversation,
    ];
    const result = await prepareTokenFile({ cacheDir, key: key(), auditor, examples: input(bad) });
    expect(result.file).toBeNull();
    expect(result.report.blockingCount).toBe(1);
    expect(() => requireTokenFile(result)).toThrow(/Training cannot start: a problem in example 3\./);
    expect(
      existsSync(path.join(cacheDir, 'tokens')) ? readdirSync(path.join(cacheDir, 'tokens')) : [],
    ).toEqual([]);
  });
});
