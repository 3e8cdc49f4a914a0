// Templates render a conversation into segments; the trained mask comes from their boundaries.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { describe, expect, it } from 'vitest';
import type { Conversation } from '../../../main/core/data/conversation.js';
import {
  createTemplate,
  renderedText,
  type Segment,
  type TemplateContext,
  TemplateError,
} from '../../../main/core/data/template/index.js';
import { lenmlTokenizerDir, type TokenizerFamily } from '../../helpers/tokenizer-folder.js';

const single: Conversation = [
  { role: 'system', content: 'Be brief.' },
  { role: 'user', content: 'What is 2+2?' },
  { role: 'assistant', content: 'Four.' },
];
const multi: Conversation = [
  { role: 'user', content: 'Hi' },
  { role: 'assistant', content: 'Hello! How can I help?' },
  { role: 'user', content: 'Name a colour.' },
  { role: 'assistant', content: 'Blue.' },
];

const noModel: TemplateContext = { bosToken: '<s>', eosToken: '</s>', chatTemplate: null };

/** The trained text, reply by reply. */
const trainedTexts = (segments: Segment[]) => segments.filter((s) => s.trained).map((s) => s.text);

function contextOf(family: TokenizerFamily): { context: TemplateContext; specials: string[] } {
  const dir = lenmlTokenizerDir(family);
  const config = JSON.parse(readFileSync(path.join(dir, 'tokenizer_config.json'), 'utf8'));
  const specials = Object.values(config.added_tokens_decoder as Record<string, { content: string }>).map(
    (t) => t.content,
  );
  return {
    context: {
      bosToken: config.bos_token ?? null,
      eosToken: config.eos_token ?? null,
      chatTemplate: config.chat_template,
    },
    specials,
  };
}

describe('named templates', () => {
  it('ChatML trains each reply and its <|im_end|>, not the newline after it, nor system/user turns', () => {
    const t = createTemplate('chatml', noModel, []);
    const segments = t.render(multi);
    expect(trainedTexts(segments)).toEqual(['Hello! How can I help?<|im_end|>', 'Blue.<|im_end|>']);
    expect(renderedText(segments)).toBe(
      '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello! How can I help?<|im_end|>\n' +
        '<|im_start|>user\nName a colour.<|im_end|>\n<|im_start|>assistant\nBlue.<|im_end|>\n',
    );
    expect(segments.filter((s) => s.role === 'user' || s.role === 'system').every((s) => !s.trained)).toBe(
      true,
    );
  });

  it('Llama-3 starts with <|begin_of_text|> and trains the reply with <|eot_id|>', () => {
    const segments = createTemplate('llama3', noModel, []).render(single);
    expect(renderedText(segments)).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nWhat is 2+2?<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\nFour.<|eot_id|>',
    );
    expect(trainedTexts(segments)).toEqual(['Four.<|eot_id|>']);
  });

  it('Mistral [INST] folds the system prompt into the first question and trains " reply</s>"', () => {
    const segments = createTemplate('mistral', noModel, []).render(single);
    expect(renderedText(segments)).toBe('<s>[INST] Be brief.\n\nWhat is 2+2? [/INST] Four.</s>');
    expect(trainedTexts(segments)).toEqual([' Four.</s>']);
    const two = createTemplate('mistral', noModel, []).render(multi);
    expect(trainedTexts(two)).toEqual([' Hello! How can I help?</s>', ' Blue.</s>']);
  });

  it('Mistral refuses turns that do not alternate, saying which', () => {
    const t = createTemplate('mistral', noModel, []);
    const bad: Conversation = [
      { role: 'user', content: 'a' },
      { role: 'user', content: 'b' },
      { role: 'assistant', content: 'c' },
    ];
    expect(() => t.render(bad)).toThrow(/alternate.*turn 2/);
  });

  it('Alpaca ends each reply with the tokenizer’s eos and needs one', () => {
    const segments = createTemplate('alpaca', noModel, []).render(single);
    expect(renderedText(segments)).toBe(
      'Be brief.\n\n### Instruction:\nWhat is 2+2?\n\n### Response:\nFour.</s>\n\n',
    );
    expect(trainedTexts(segments)).toEqual(['Four.</s>']);
    expect(() => createTemplate('alpaca', { ...noModel, eosToken: null }, [])).toThrow(TemplateError);
  });

  it('every template refuses a conversation with no reply', () => {
    for (const name of ['chatml', 'llama3', 'mistral', 'alpaca'] as const) {
      expect(() => createTemplate(name, noModel, []).render([{ role: 'user', content: 'hi' }])).toThrow(
        /no assistant reply/,
      );
    }
  });
});

describe("the model's own chat_template (Jinja)", () => {
  for (const family of ['qwen3', 'llama3'] as const) {
    it(`${family}: the segments join to the template's own rendering, byte for byte`, () => {
      const { context, specials } = contextOf(family);
      const t = createTemplate('model', context, specials);
      for (const conversation of [single, multi]) {
        const expected = new Template(context.chatTemplate!).render({
          messages: conversation,
          bos_token: context.bosToken,
          eos_token: context.eosToken,
          add_generation_prompt: false,
        });
        expect(renderedText(t.render(conversation))).toBe(expected);
      }
    });
  }

  it('Qwen3: each reply is trained through <|im_end|>; the "\\n" after it and the prompts are not', () => {
    const { context, specials } = contextOf('qwen3');
    const t = createTemplate('model', context, specials);
    expect(t.endOfTurn).toBe('<|im_end|>');
    const segments = t.render(multi);
    // Qwen3's template gives the final reply an empty think block; it belongs to the reply.
    expect(trainedTexts(segments)).toEqual([
      'Hello! How can I help?<|im_end|>',
      '<think>\n\n</think>\n\nBlue.<|im_end|>',
    ]);
    expect(segments.at(-1)).toEqual({ text: '\n', trained: false, role: 'scaffold' });
    expect(segments.filter((s) => !s.trained).some((s) => s.text.includes('Name a colour.'))).toBe(true);
  });

  it('Llama-3: replies end with <|eot_id|>; the header the template always appends is untrained', () => {
    const { context, specials } = contextOf('llama3');
    const t = createTemplate('model', context, specials);
    expect(t.endOfTurn).toBe('<|eot_id|>');
    const segments = t.render(multi);
    expect(trainedTexts(segments)).toEqual(['Hello! How can I help?<|eot_id|>', 'Blue.<|eot_id|>']);
    expect(segments.at(-1)?.trained).toBe(false);
  });

  it('a model without chat_template is refused with the named templates as the way out', () => {
    expect(() => createTemplate('model', noModel, [])).toThrow(/no chat template of its own/);
  });

  it('a template that writes no special token after a reply is refused', () => {
    const plain = {
      ...noModel,
      eosToken: null,
      chatTemplate: '{% for m in messages %}{{ m.content }}\n{% endfor %}',
    };
    expect(() => createTemplate('model', plain, ['<s>'])).toThrow(/no end-of-turn token/);
  });
});
