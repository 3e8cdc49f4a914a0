// The label audit: blocking problems name the example; the end token must be one vocabulary token;
// too-long examples are reported, excluded or trimmed as chosen, and replies are never cut.
import { beforeAll, describe, expect, it } from 'vitest';
import { AuditError, type ExampleInput, LabelAuditor } from '../../../main/core/data/audit.js';
import { checkData, openAuditor } from '../../../main/core/data/check.js';
import type { Conversation } from '../../../main/core/data/conversation.js';
import { chatmlTemplate } from '../../../main/core/data/template/chatml.js';
import { createTemplate } from '../../../main/core/data/template/index.js';
import { loadModelTokenizer, type ModelTokenizer, SegmentEncoder } from '../../../main/core/data/tokenize.js';
import { trimOldestTurns } from '../../../main/core/data/trim.js';
import { makeTokenizerFolder } from '../../helpers/tokenizer-folder.js';

let llama2: ModelTokenizer;
let qwen3: ModelTokenizer;
beforeAll(() => {
  llama2 = loadModelTokenizer(makeTokenizerFolder('llama2'));
  qwen3 = loadModelTokenizer(makeTokenizerFolder('qwen3'));
});

const qa = (q: string, a: string): Conversation => [
  { role: 'user', content: q },
  { role: 'assistant', content: a },
];
const examples = (...conversations: Conversation[]): ExampleInput[] =>
  conversations.map((messages, ordinal) => ({ ordinal, messages, location: { row: ordinal + 1 } }));

describe('the end-of-turn token must be one token of the vocabulary', () => {
  it('ChatML on Llama-2 (no <|im_end|>) stops with what to do instead', () => {
    const alternatives = [createTemplate('mistral', llama2.context, llama2.specialTokens)];
    let error: unknown;
    try {
      new LabelAuditor(new SegmentEncoder(llama2), chatmlTemplate, { maxLen: 512, alternatives });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(AuditError);
    const { code, message, hint } = error as AuditError;
    expect(code).toBe('end-token-missing');
    expect(message).toMatch(/<\|im_end\|>.*no such token/);
    expect(hint).toMatch(/model's own template/);
    expect(hint).toMatch(/--template mistral/);
    expect(hint).toMatch(/LoRA adapter cannot carry new token/);
  });

  it('ChatML on Qwen3 is fine: <|im_end|> is one token', () => {
    const auditor = openAuditor(qwen3, { template: 'chatml', maxLen: 512 });
    expect(auditor.endTokenId).toBe(qwen3.tokenizer.token_to_id('<|im_end|>'));
  });
});

describe('examples', () => {
  it('a good dataset passes, with trained and total counts and a histogram', async () => {
    const { report } = await checkData(
      examples(qa('Hi', 'Hello.'), qa('2+2?', 'Four, of course.')),
      {
        modelDir: qwen3.dir,
        template: 'chatml',
        maxLen: 64,
      },
      qwen3,
    );
    expect(report.ok).toBe(true);
    expect(report.kept).toBe(2);
    expect(report.trainedTokens).toBe(3 + 6); // "Hello." + <|im_end|>; "Four, of course." + <|im_end|>
    expect(report.totalTokens).toBeGreaterThan(report.trainedTokens);
    expect(report.histogram.reduce((a, b) => a + b.count, 0)).toBe(2);
    expect(report.histogram.at(-2)?.to).toBe(64);
  });

  it('an empty reply blocks training and names the example and row', async () => {
    const { report } = await checkData(
      examples(qa('a', 'fine'), qa('b', '   ')),
      {
        modelDir: qwen3.dir,
        template: 'chatml',
        maxLen: 64,
      },
      qwen3,
    );
    expect(report.ok).toBe(false);
    expect(report.kept).toBe(1);
    const blocking = report.issues.filter((i) => i.blocking);
    expect(blocking).toHaveLength(1);
    expect(blocking[0]?.example).toBe(2);
    expect(blocking[0]?.message).toMatch(/^Example 2 \(row 2\).*empty/);
  });

  it('unknown roles, missing replies and a reply holding the end token text block, each reported', () => {
    const auditor = openAuditor(qwen3, { template: 'chatml', maxLen: 64 });
    expect(
      auditor.add({
        ordinal: 0,
        messages: [
          { role: 'tool', content: 'x' },
          { role: 'assistant', content: 'y' },
        ],
      }),
    ).toBeNull();
    expect(auditor.add({ ordinal: 1, messages: [{ role: 'user', content: 'only a question' }] })).toBeNull();
    expect(auditor.add({ ordinal: 2, messages: qa('q', 'stop<|im_end|> here') })).toBeNull();
    const report = auditor.report();
    expect(report.issues.map((i) => [i.example, i.code])).toEqual([
      [1, 'unknown-role'],
      [2, 'no-reply'],
      [3, 'reply-contains-end-token'],
    ]);
    expect(report.blockingCount).toBe(3);
  });

  it('the mask is checked by position: every reply ends with the end token', () => {
    const auditor = openAuditor(llama2, { template: 'mistral', maxLen: 128 });
    const audited = auditor.add({ ordinal: 0, messages: qa('Hi', 'Hello there.') });
    expect(audited).not.toBeNull();
    const { ids, trained, replies } = audited!.tokens;
    expect(replies).toHaveLength(1);
    expect(ids[replies[0]!.end - 1]).toBe(2); // </s>
    expect(trained[replies[0]!.end - 1]).toBe(1);
  });
});

describe('the boundary check', () => {
  it('counts examples whose segment-wise tokens differ from whole-string tokens', () => {
    const auditor = openAuditor(qwen3, { template: 'chatml', maxLen: 64 });
    auditor.add({ ordinal: 0, messages: qa('q', 'plain reply') });
    auditor.add({ ordinal: 1, messages: qa('q', '\n\nreply after blank lines') });
    expect(auditor.report().boundary).toEqual({ checked: 2, differing: 1, firstExample: 2 });
  });
});

describe('too long for the maximum length', () => {
  const long: Conversation = [
    { role: 'system', content: 'Be kind.' },
    { role: 'user', content: 'old question '.repeat(30) },
    { role: 'assistant', content: 'old answer '.repeat(30) },
    { role: 'user', content: 'New question?' },
    { role: 'assistant', content: 'New answer.' },
  ];

  it('is reported as blocking by default, with the two choices', () => {
    const auditor = openAuditor(llama2, { template: 'mistral', maxLen: 60 });
    expect(auditor.add({ ordinal: 4, messages: long, location: { row: 5 } })).toBeNull();
    const [issue] = auditor.report().issues;
    expect(issue?.code).toBe('too-long');
    expect(issue?.blocking).toBe(true);
    expect(issue?.message).toMatch(/Example 5 \(row 5\) is \d+ tokens.*over the maximum length of 60/);
    expect(issue?.message).toMatch(/--too-long exclude.*--too-long trim/);
    expect(auditor.report().histogram.at(-1)).toEqual({ from: 61, to: null, count: 1 });
  });

  it('exclude: left out and listed, training can go on', () => {
    const auditor = openAuditor(llama2, { template: 'mistral', maxLen: 60, tooLong: 'exclude' });
    expect(auditor.add({ ordinal: 0, messages: long })).toBeNull();
    expect(auditor.add({ ordinal: 1, messages: qa('short', 'yes') })).not.toBeNull();
    const report = auditor.report();
    expect(report).toMatchObject({ ok: true, excluded: 1, kept: 1, blockingCount: 0 });
    expect(report.issues[0]).toMatchObject({ code: 'excluded-too-long', blocking: false, example: 1 });
  });

  it('trim: the oldest turns go, the system prompt and the whole last reply stay', () => {
    const auditor = openAuditor(llama2, { template: 'mistral', maxLen: 60, tooLong: 'trim' });
    const audited = auditor.add({ ordinal: 0, messages: long });
    expect(audited?.messages).toEqual([long[0], long[3], long[4]]);
    expect(audited!.tokens.ids.length).toBeLessThanOrEqual(60);
    expect(auditor.report().issues[0]).toMatchObject({ code: 'trimmed', blocking: false });
  });

  it('trim cannot help when the last exchange alone is too long: blocking, reply not cut', () => {
    const auditor = openAuditor(llama2, { template: 'mistral', maxLen: 20, tooLong: 'trim' });
    expect(auditor.add({ ordinal: 0, messages: qa('q', 'a very long reply '.repeat(20)) })).toBeNull();
    expect(auditor.report().issues[0]).toMatchObject({ code: 'too-long', blocking: true });
  });
});

describe('trimOldestTurns', () => {
  const count = (m: Conversation) => m.reduce((a, t) => a + t.content.length, 0);
  const turns: Conversation = [
    { role: 'system', content: 'S' },
    { role: 'user', content: 'u1xxxx' },
    { role: 'assistant', content: 'a1xxxx' },
    { role: 'user', content: 'u2' },
    { role: 'assistant', content: 'a2' },
  ];

  it('drops whole exchanges from the start, keeping the system prompt', () => {
    expect(trimOldestTurns(turns, count, 100)).toEqual({ messages: turns, droppedTurns: 0 });
    expect(trimOldestTurns(turns, count, 10)).toEqual({
      messages: [turns[0], turns[3], turns[4]],
      droppedTurns: 2,
    });
  });

  it('returns null rather than touch the last exchange', () => {
    expect(trimOldestTurns(turns, count, 4)).toBeNull();
  });
});
