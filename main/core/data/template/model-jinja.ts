// The model's own chat template (tokenizer_config.json's chat_template), rendered with
// @huggingface/jinja: the template language only, no code execution.
//
// A Jinja template gives one string, not segments. How the replies are found in it:
//  - the whole conversation is rendered once: that text is what is trained on, byte for byte;
//  - reply i starts where the rendering of the turns before it, with add_generation_prompt, ends.
//    That rendering must be a prefix of the whole text (checked; an error says otherwise);
//  - reply i ends just after the first end-of-turn marker at or after its start. The marker is
//    found once per template by rendering a probe conversation and taking the first special token
//    the template writes after the probe reply (<|im_end|> for Qwen, <|eot_id|> for Llama-3).
// Why not "render turns 0..i and diff": some templates render the last turn differently (Qwen3 adds
// an empty <think></think> block to a final reply only), so that rendering is not a prefix of the
// whole. The start of a reply is always a prefix: it is the prompt a model is given at inference.
// What follows the marker (Qwen's "\n") is scaffolding: generation stops at the marker.
import { Template } from '@huggingface/jinja';
import type { Conversation } from '../conversation.js';
import {
  type ChatTemplate,
  requireReply,
  type Segment,
  type TemplateContext,
  TemplateError,
} from './types.js';

const PROBE_REPLY = 'Tunesmith probe reply 7f3a';

export interface ModelTemplateOptions {
  /** Strings that the tokenizer treats as single special tokens (its added tokens). */
  specialTokens: readonly string[];
}

export function modelTemplate(context: TemplateContext, options: ModelTemplateOptions): ChatTemplate {
  const source = context.chatTemplate;
  if (!source) {
    throw new TemplateError(
      'template-unusable',
      'This model has no chat template of its own (no chat_template in tokenizer_config.json).',
      'Choose a named template: --template chatml, llama3, mistral or alpaca — one whose end-of-turn token the model’s vocabulary has.',
    );
  }
  let template: Template;
  try {
    template = new Template(source);
  } catch (err) {
    throw new TemplateError(
      'template-unusable',
      `The model's chat template cannot be read: ${(err as Error).message}`,
      'Choose a named template with --template chatml, llama3, mistral or alpaca.',
    );
  }
  const render = (messages: Conversation, addGenerationPrompt: boolean): string => {
    try {
      return template.render({
        messages,
        bos_token: context.bosToken ?? '',
        eos_token: context.eosToken ?? '',
        add_generation_prompt: addGenerationPrompt,
      });
    } catch (err) {
      throw new TemplateError(
        'template-conversation',
        `The model's chat template refused this conversation: ${(err as Error).message}`,
        'Fix the conversation (the template may require alternating user and assistant turns), or choose a named template with --template.',
      );
    }
  };
  const endOfTurn = findEndOfTurn(render, options.specialTokens, context.eosToken);

  return {
    name: 'model',
    endOfTurn,
    render(messages: Conversation): Segment[] {
      requireReply(messages);
      const whole = render(messages, false);
      const segments: Segment[] = [];
      let cursor = 0;
      messages.forEach((message, i) => {
        if (message.role !== 'assistant') return;
        const prompt = render(messages.slice(0, i), true);
        if (!whole.startsWith(prompt) || prompt.length < cursor) {
          throw new TemplateError(
            'template-unusable',
            `The model's chat template renders the conversation before reply ${i + 1} differently from the whole conversation, so the reply cannot be located.`,
            'Choose a named template with --template chatml, llama3, mistral or alpaca.',
          );
        }
        const markerAt = whole.indexOf(endOfTurn, prompt.length);
        if (markerAt < 0) {
          throw new TemplateError(
            'template-unusable',
            `The model's chat template does not end reply ${i + 1} with ${endOfTurn}.`,
            'Choose a named template with --template chatml, llama3, mistral or alpaca.',
          );
        }
        const end = markerAt + endOfTurn.length;
        if (prompt.length > cursor) {
          segments.push({ text: whole.slice(cursor, prompt.length), trained: false, role: 'scaffold' });
        }
        segments.push({ text: whole.slice(prompt.length, end), trained: true, role: 'assistant' });
        cursor = end;
      });
      if (cursor < whole.length)
        segments.push({ text: whole.slice(cursor), trained: false, role: 'scaffold' });
      return segments;
    },
  };
}

/**
 * The first special token the template writes after a reply: its end-of-turn marker. Falls back to
 * eos_token when the template writes it as plain text right after the reply.
 */
function findEndOfTurn(
  render: (messages: Conversation, addGenerationPrompt: boolean) => string,
  specialTokens: readonly string[],
  eosToken: string | null,
): string {
  const text = render(
    [
      { role: 'user', content: 'Tunesmith probe question' },
      { role: 'assistant', content: PROBE_REPLY },
    ],
    false,
  );
  const replyAt = text.lastIndexOf(PROBE_REPLY);
  const after = replyAt < 0 ? '' : text.slice(replyAt + PROBE_REPLY.length);
  let best: { at: number; token: string } | null = null;
  for (const token of specialTokens) {
    if (token === '') continue;
    const at = after.indexOf(token);
    if (at >= 0 && (best === null || at < best.at || (at === best.at && token.length > best.token.length))) {
      best = { at, token };
    }
  }
  if (best && after.slice(0, best.at).trim() === '') return best.token;
  if (eosToken && after.trimStart().startsWith(eosToken)) return eosToken;
  throw new TemplateError(
    'template-unusable',
    'The model’s chat template writes no end-of-turn token after a reply, so the model could not learn to stop.',
    'Choose a named template with --template chatml, llama3, mistral or alpaca.',
  );
}
