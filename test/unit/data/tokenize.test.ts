// Segment-wise tokenization with the trained mask, against whole-string tokenization, for the three
// reference tokenizers (Qwen3 and Llama-3 byte-level BPE, Llama-2 SentencePiece BPE).
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Conversation } from '../../../main/core/data/conversation.js';
import {
  type ChatTemplate,
  createTemplate,
  renderedText,
  TEMPLATE_NAMES,
} from '../../../main/core/data/template/index.js';
import { loadModelTokenizer, type ModelTokenizer, SegmentEncoder } from '../../../main/core/data/tokenize.js';
import { makeTokenizerFolder, type TokenizerFamily } from '../../helpers/tokenizer-folder.js';

const CORPUS: Conversation[] = [
  [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'What is the capital of France?' },
    { role: 'assistant', content: 'The capital of France is Paris.' },
  ],
  [
    { role: 'user', content: '台灣最高的山是哪一座？' },
    { role: 'assistant', content: '台灣最高的山是玉山，海拔約 3,952 公尺。' },
  ],
  [
    { role: 'user', content: 'Write code:  indent  twice' },
    { role: 'assistant', content: 'def f(x):\n    return x  *  2   # doubled\n\nprint(f(21)) 🎉' },
    { role: 'user', content: "Thanks! What's next?" },
    { role: 'assistant', content: "You're welcome -- nothing.\tTabs, too." },
  ],
  [
    { role: 'system', content: 'Reply in lists.' },
    { role: 'user', content: 'Three tips?' },
    { role: 'assistant', content: '1. Sleep.\n2. Eat.\n3. Walk.' },
  ],
];

const families: TokenizerFamily[] = ['qwen3', 'llama3', 'llama2'];
const models = new Map<TokenizerFamily, ModelTokenizer>();
beforeAll(() => {
  for (const family of families) models.set(family, loadModelTokenizer(makeTokenizerFolder(family)));
});

const singleToken = (model: ModelTokenizer, text: string) =>
  model.tokenizer.encode(text, { add_special_tokens: false }).ids.length === 1;

/** The templates this tokenizer can train with (their end token is one token of the vocabulary). */
function usableTemplates(model: ModelTokenizer): ChatTemplate[] {
  return TEMPLATE_NAMES.flatMap((name) => {
    try {
      const t = createTemplate(name, model.context, model.specialTokens);
      return singleToken(model, t.endOfTurn) ? [t] : [];
    } catch {
      return [];
    }
  });
}

describe('the tokenizers', () => {
  it('are recognised: Qwen3 and Llama-3 byte-level, Llama-2 SentencePiece-style', () => {
    expect(models.get('qwen3')?.kind).toBe('byte-level');
    expect(models.get('llama3')?.kind).toBe('byte-level');
    expect(models.get('llama2')?.kind).toBe('sentencepiece');
  });

  it('each family has the templates it should', () => {
    const names = (f: TokenizerFamily) => usableTemplates(models.get(f)!).map((t) => t.name);
    expect(names('qwen3')).toEqual(['chatml', 'model', 'alpaca']);
    expect(names('llama3')).toEqual(['model', 'llama3', 'alpaca']);
    expect(names('llama2')).toEqual(['mistral', 'alpaca']);
  });
});

describe.each(families)('%s', (family) => {
  it('segment-wise tokens equal whole-string tokens, for every usable template', () => {
    const model = models.get(family)!;
    const encoder = new SegmentEncoder(model);
    for (const template of usableTemplates(model)) {
      for (const conversation of CORPUS) {
        const segments = template.render(conversation);
        const { ids } = encoder.encode(segments);
        const whole = encoder.encodeWhole(renderedText(segments));
        const addedBos = ids.length === whole.length + 1 ? [ids[0]] : [];
        expect([...addedBos, ...whole], `${template.name}: ${renderedText(segments)}`).toEqual([...ids]);
      }
    }
  });

  it('every trained span is exactly a reply and ends with the end-of-turn token', () => {
    const model = models.get(family)!;
    const encoder = new SegmentEncoder(model);
    for (const template of usableTemplates(model)) {
      const endId = model.tokenizer.encode(template.endOfTurn, { add_special_tokens: false }).ids[0];
      for (const conversation of CORPUS) {
        const segments = template.render(conversation);
        const { ids, trained, replies } = encoder.encode(segments);
        expect(replies).toHaveLength(conversation.filter((m) => m.role === 'assistant').length);
        let inSpans = 0;
        for (const { start, end } of replies) {
          expect(ids[end - 1], `${template.name}: the last trained token`).toBe(endId);
          expect([...trained.subarray(start, end)].every((f) => f === 1)).toBe(true);
          inSpans += end - start;
          const text = model.tokenizer.decode([...ids.subarray(start, end)], { skip_special_tokens: false });
          expect(text.trim().endsWith(template.endOfTurn)).toBe(true);
        }
        expect(trained.reduce((a, b) => a + b, 0)).toBe(inSpans);
        expect(trained).toHaveLength(ids.length);
      }
    }
  });
});

describe('BOS', () => {
  const first = (family: TokenizerFamily, template: string) => {
    const model = models.get(family)!;
    const t = createTemplate(template as 'chatml', model.context, model.specialTokens);
    const { ids, trained } = new SegmentEncoder(model).encode(t.render(CORPUS[0]!));
    return { ids: [...ids], trained: [...trained], model };
  };

  it('Llama-2 expects BOS: added once, untrained, when the template has none (Alpaca)', () => {
    const { ids, trained } = first('llama2', 'alpaca');
    expect(ids[0]).toBe(1);
    expect(ids[1]).not.toBe(1);
    expect(trained[0]).toBe(0);
  });

  it('not doubled when the template writes it (Mistral <s>, Llama-3 <|begin_of_text|>)', () => {
    const mistral = first('llama2', 'mistral');
    expect(mistral.ids.slice(0, 2)).toEqual([1, mistral.ids[1]]);
    expect(mistral.ids[1]).not.toBe(1);
    const llama3 = first('llama3', 'llama3');
    expect(llama3.ids[0]).toBe(128000);
    expect(llama3.ids.filter((id) => id === 128000)).toHaveLength(1);
  });

  it('Qwen3 has no BOS: the first token is <|im_start|>', () => {
    const { ids, model } = first('qwen3', 'chatml');
    expect(model.expectsBos).toBe(false);
    expect(ids[0]).toBe(model.tokenizer.token_to_id('<|im_start|>'));
  });
});

describe('the boundary rule', () => {
  it('a reply starting with a newline is tokenized as at inference (prompt alone, then the reply), not fused', () => {
    const model = models.get('qwen3')!;
    const encoder = new SegmentEncoder(model);
    const chatml = createTemplate('chatml', model.context, model.specialTokens);
    const segments = chatml.render([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: '\n\nStarts with blank lines' },
    ]);
    const { ids } = encoder.encode(segments);
    const whole = encoder.encodeWhole(renderedText(segments));
    expect([...ids]).not.toEqual(whole); // whole-string fuses "\n" + "\n\n" into one token
    const prompt = encoder.encodeWhole('<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n');
    const reply = encoder.encodeWhole('\n\nStarts with blank lines<|im_end|>');
    expect([...ids]).toEqual([...prompt, ...reply, ...encoder.encodeWhole('\n')]);
  });

  it('SentencePiece text is encoded in pieces with the same result as whole-string BPE', () => {
    const model = models.get('llama2')!;
    const encoder = new SegmentEncoder(model);
    const words = ['alpha', 'beta,', '  gamma', '台灣', 'x=1;', '\n', 'δ', '🎉', 'end.'];
    const text = Array.from({ length: 600 }, (_, i) => words[(i * 7) % words.length]).join(' ');
    const { ids } = encoder.encode([{ text, trained: true, role: 'assistant' }]);
    expect([...ids]).toEqual([1, ...encoder.encodeWhole(text)]);
  });

  it('SentencePiece: added tokens that strip the spaces beside them are honoured', () => {
    const dir = makeTokenizerFolder('llama2', undefined, { copy: true });
    const file = path.join(dir, 'tokenizer.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    for (const [id, content] of [
      [32000, '[INST]'],
      [32001, '[/INST]'],
    ] as const) {
      json.added_tokens.push({
        id,
        content,
        single_word: false,
        lstrip: true,
        rstrip: true,
        normalized: false,
        special: true,
      });
    }
    writeFileSync(file, JSON.stringify(json));
    const model = loadModelTokenizer(dir);
    expect(model.kind).toBe('sentencepiece');
    const encoder = new SegmentEncoder(model);
    const mistral = createTemplate('mistral', model.context, model.specialTokens);
    for (const conversation of CORPUS) {
      const segments = mistral.render(conversation);
      expect([...encoder.encode(segments).ids]).toEqual(encoder.encodeWhole(renderedText(segments)));
    }
  });

  it('a SentencePiece segment that continues a section gets no extra "▁"', () => {
    const model = models.get('llama2')!;
    const encoder = new SegmentEncoder(model);
    const { ids } = encoder.encode([
      { text: '<s>[INST] hi [/INST]', trained: false, role: 'user' },
      { text: 'ok</s>', trained: true, role: 'assistant' },
    ]);
    expect([...ids]).toEqual(encoder.encodeWhole('<s>[INST] hi [/INST]ok</s>'));
  });
});
