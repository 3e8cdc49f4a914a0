// The "too long" remedy that keeps every reply whole: drop the oldest turns of the conversation
// (after any leading system prompt) until the templated example fits. The last reply and the user
// turn it answers are never dropped, and no turn is ever cut in the middle.
import type { Conversation } from './conversation.js';

export interface TrimResult {
  messages: Conversation;
  /** How many turns were dropped from the start. */
  droppedTurns: number;
}

/**
 * The longest suffix of the conversation (system prompt kept) that fits `maxLen` tokens, starting
 * with a user turn; null when even the last exchange alone does not fit.
 */
export function trimOldestTurns(
  messages: Conversation,
  tokenCount: (messages: Conversation) => number,
  maxLen: number,
): TrimResult | null {
  let systemEnd = 0;
  while (messages[systemEnd]?.role === 'system') systemEnd++;
  const system = messages.slice(0, systemEnd);
  const turns = messages.slice(systemEnd);
  const lastReply = turns.findLastIndex((m) => m.role === 'assistant');
  if (lastReply < 0) return null;
  // The earliest start we may not go past: the user turn the last reply answers.
  let floor = lastReply;
  while (floor > 0 && turns[floor]?.role !== 'user') floor--;
  if (turns[floor]?.role !== 'user') floor = lastReply;

  // Candidate starts: each user turn from the oldest on (a conversation should open with a user).
  for (let start = 0; start <= floor; start++) {
    if (start > 0 && turns[start]?.role !== 'user' && start !== floor) continue;
    const candidate = [...system, ...turns.slice(start)];
    if (tokenCount(candidate) <= maxLen) return { messages: candidate, droppedTurns: start };
  }
  return null;
}
