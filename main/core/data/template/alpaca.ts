// Alpaca: a preamble (the system prompt, or Alpaca's own), then "### Instruction:\n{user}\n\n### Response:\n{reply}{eos}"
// per exchange. Alpaca has no end-of-turn token of its own: the reply ends with the tokenizer's eos.
import type { Conversation } from '../conversation.js';
import {
  type ChatTemplate,
  requireReply,
  type Segment,
  type TemplateContext,
  TemplateError,
} from './types.js';

export const ALPACA_PREAMBLE =
  'Below is an instruction that describes a task. Write a response that appropriately completes the request.';

export function alpacaTemplate(context: TemplateContext): ChatTemplate {
  const eos = context.eosToken;
  if (!eos) {
    throw new TemplateError(
      'template-unusable',
      'The Alpaca template ends each reply with the tokenizer’s end-of-sequence token, but tokenizer_config.json names none (eos_token).',
      'Choose --template model, chatml, llama3 or mistral, or add eos_token to tokenizer_config.json.',
    );
  }
  return {
    name: 'alpaca',
    endOfTurn: eos,
    render(messages: Conversation): Segment[] {
      requireReply(messages);
      const system = messages[0]?.role === 'system' ? messages[0].content : ALPACA_PREAMBLE;
      const segments: Segment[] = [{ text: `${system}\n\n`, trained: false, role: 'system' }];
      messages.forEach((m, i) => {
        if (m.role === 'system') {
          if (i === 0) return;
          throw new TemplateError(
            'template-conversation',
            `The Alpaca format has one system prompt, at the start; turn ${i + 1} is another.`,
            'Merge the system turns into the first one, or choose --template chatml or model.',
          );
        }
        if (m.role === 'user') {
          segments.push({
            text: `### Instruction:\n${m.content}\n\n### Response:\n`,
            trained: false,
            role: 'user',
          });
        } else {
          segments.push({ text: `${m.content}${eos}`, trained: true, role: 'assistant' });
          segments.push({ text: '\n\n', trained: false, role: 'scaffold' });
        }
      });
      return segments;
    },
  };
}
