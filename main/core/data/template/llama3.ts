// Llama-3 instruct: <|begin_of_text|> then <|start_header_id|>{role}<|end_header_id|>\n\n{content}<|eot_id|>
// per turn, contents trimmed as Meta's template does. The reply and its <|eot_id|> are trained.
import type { Conversation } from '../conversation.js';
import { type ChatTemplate, requireReply, type Segment } from './types.js';

export const LLAMA3_BOS = '<|begin_of_text|>';
export const LLAMA3_EOT = '<|eot_id|>';

export const llama3Template: ChatTemplate = {
  name: 'llama3',
  endOfTurn: LLAMA3_EOT,
  render(messages: Conversation): Segment[] {
    requireReply(messages);
    const segments: Segment[] = [{ text: LLAMA3_BOS, trained: false, role: 'scaffold' }];
    for (const { role, content } of messages) {
      segments.push({
        text: `<|start_header_id|>${role}<|end_header_id|>\n\n`,
        trained: false,
        role: 'scaffold',
      });
      segments.push({ text: `${content.trim()}${LLAMA3_EOT}`, trained: role === 'assistant', role });
    }
    return segments;
  },
};
