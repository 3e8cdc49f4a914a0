// ChatML, the default: <|im_start|>{role}\n{content}<|im_end|>\n per turn. The reply's <|im_end|> is
// trained; the "\n" after it is not: generation stops at <|im_end|>, so the model never produces the
// newline, and keeping <|im_end|> the last trained token makes "every reply ends with its end token"
// a simple check. (TRL's patched training templates train the "\n" too; either is correct.)
import type { Conversation } from '../conversation.js';
import { type ChatTemplate, requireReply, type Segment } from './types.js';

export const CHATML_START = '<|im_start|>';
export const CHATML_END = '<|im_end|>';

export const chatmlTemplate: ChatTemplate = {
  name: 'chatml',
  endOfTurn: CHATML_END,
  render(messages: Conversation): Segment[] {
    requireReply(messages);
    const segments: Segment[] = [];
    for (const { role, content } of messages) {
      segments.push({ text: `${CHATML_START}${role}\n`, trained: false, role: 'scaffold' });
      const trained = role === 'assistant';
      segments.push({ text: `${content}${CHATML_END}`, trained, role });
      segments.push({ text: '\n', trained: false, role: 'scaffold' });
    }
    return segments;
  },
};
