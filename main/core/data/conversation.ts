// The normalized shape of one training example: a conversation of system / user / assistant turns.
// Every importer produces it, validation checks it, templating (part B) renders it.
//
// An imported conversation may carry a role Tunesmith does not know ("tool", "function"): it is kept
// as written, never dropped, so that validation can report it and the person can fix it. Code that
// needs the strict type (templating, training) calls toConversation() on validated examples.

export const ROLES = ['system', 'user', 'assistant'] as const;
export type Role = (typeof ROLES)[number];

export interface Message {
  role: Role;
  content: string;
}

/** A conversation as training uses it: only known roles. */
export type Conversation = Message[];

/** A turn as it was imported: the role may still be unknown. */
export interface ImportedMessage {
  role: string;
  content: string;
}

export function isRole(role: string): role is Role {
  return (ROLES as readonly string[]).includes(role);
}

export function isConversation(messages: readonly ImportedMessage[]): messages is Conversation {
  return messages.every((m) => isRole(m.role));
}

/** The strict type, or an error naming the first unknown role (validation reports these first). */
export function toConversation(messages: readonly ImportedMessage[]): Conversation {
  const bad = messages.findIndex((m) => !isRole(m.role));
  if (bad >= 0) {
    throw new Error(
      `Turn ${bad + 1} has the role "${messages[bad]?.role}"; only system, user and assistant can be trained.`,
    );
  }
  return messages as Conversation;
}

/** The last assistant turn: the reply a single-turn example trains on. */
export function lastAssistantReply(messages: readonly ImportedMessage[]): string | undefined {
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role === 'assistant') return m.content;
  }
  return undefined;
}

/** The turns before the last assistant reply: what the model is given, not trained on. */
export function promptTurns<M extends ImportedMessage>(messages: readonly M[]): M[] {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === 'assistant') return messages.slice(0, i);
  }
  return messages.slice();
}

/** One example built from a row of columns (the reference CSV: system, question, chosen). */
export function singleTurn(system: string | undefined, user: string, assistant: string): Conversation {
  const messages: Conversation = [];
  if (system !== undefined && system.trim() !== '') messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: user });
  messages.push({ role: 'assistant', content: assistant });
  return messages;
}
