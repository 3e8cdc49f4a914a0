// What a chat template produces: the conversation as an ordered list of text segments, each either
// trained (an assistant reply plus the marker that ends it) or not (system and user turns, and the
// template's scaffolding). The trained mask is taken from these boundaries, never by searching for
// token ids afterwards — that search is how the end-of-turn token gets masked out (formats.md §9.4).
import type { Conversation, Role } from '../conversation.js';

export const TEMPLATE_NAMES = ['chatml', 'model', 'llama3', 'mistral', 'alpaca'] as const;
export type TemplateName = (typeof TEMPLATE_NAMES)[number];

/** Who wrote a segment's text: a turn's author, or the template ('scaffold'). */
export type SegmentRole = Role | 'scaffold';

export interface Segment {
  text: string;
  trained: boolean;
  role: SegmentRole;
}

export interface ChatTemplate {
  name: TemplateName;
  /** The text that ends every trained reply; it must be one token of the model's vocabulary. */
  endOfTurn: string;
  /** Render one conversation. Throws TemplateError when the conversation cannot be rendered. */
  render(messages: Conversation): Segment[];
}

/** What a template may need to know about the model's tokenizer (from tokenizer_config.json). */
export interface TemplateContext {
  bosToken: string | null;
  eosToken: string | null;
  /** The model's own Jinja chat template, when it has one. */
  chatTemplate: string | null;
}

export type TemplateErrorCode = 'template-unusable' | 'template-conversation';

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  constructor(
    readonly code: TemplateErrorCode,
    message: string,
    readonly hint: string,
  ) {
    super(message);
  }
}

export function isTemplateName(value: string): value is TemplateName {
  return (TEMPLATE_NAMES as readonly string[]).includes(value);
}

/** The whole text of a rendering, as the model sees it. */
export function renderedText(segments: readonly Segment[]): string {
  return segments.map((s) => s.text).join('');
}

/** The turn a reply answers must exist: every named template needs at least one assistant turn. */
export function requireReply(messages: Conversation): void {
  if (!messages.some((m) => m.role === 'assistant')) {
    throw new TemplateError(
      'template-conversation',
      'The conversation has no assistant reply, so nothing in it can be trained.',
      'Give every example a reply (the "assistant" turn) or remove the example.',
    );
  }
}
