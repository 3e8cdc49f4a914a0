// Mistral / Llama-2 [INST] format: <s>[INST] {system}\n\n{user} [/INST] {reply}</s>[INST] … [/INST] {reply}</s>
// The system prompt joins the first user turn (the format has no system role). The space before a
// reply belongs to the reply's segment: SentencePiece vocabularies glue it to the first word
// ("▁Sure"), so splitting it off would make a lone "▁" token the model never sees at inference.
import type { Conversation } from '../conversation.js';
import { type ChatTemplate, requireReply, type Segment, TemplateError } from './types.js';

export const MISTRAL_BOS = '<s>';
export const MISTRAL_EOS = '</s>';

export const mistralTemplate: ChatTemplate = {
  name: 'mistral',
  endOfTurn: MISTRAL_EOS,
  render(messages: Conversation): Segment[] {
    requireReply(messages);
    const segments: Segment[] = [{ text: MISTRAL_BOS, trained: false, role: 'scaffold' }];
    const systems = messages.filter((m) => m.role === 'system');
    const turns = messages.filter((m) => m.role !== 'system');
    if (systems.length > 1 || (systems.length === 1 && messages[0]?.role !== 'system')) {
      throw new TemplateError(
        'template-conversation',
        'The Mistral [INST] format allows one system prompt, at the start of the conversation.',
        'Merge the system turns into one first turn, or choose --template chatml or model.',
      );
    }
    let system = systems[0]?.content;
    turns.forEach((turn, i) => {
      const expected = i % 2 === 0 ? 'user' : 'assistant';
      if (turn.role !== expected) {
        throw new TemplateError(
          'template-conversation',
          `The Mistral [INST] format needs user and assistant turns to alternate, starting with the user; turn ${i + 1} (after any system prompt) is "${turn.role}".`,
          'Fix the order of the turns, or choose --template chatml or model.',
        );
      }
      if (turn.role === 'user') {
        const prefix = system !== undefined && system !== '' ? `${system}\n\n` : '';
        system = undefined;
        segments.push({ text: `[INST] ${prefix}${turn.content} [/INST]`, trained: false, role: 'user' });
      } else {
        segments.push({ text: ` ${turn.content}${MISTRAL_EOS}`, trained: true, role: 'assistant' });
      }
    });
    return segments;
  },
};
