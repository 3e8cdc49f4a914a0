// Most examples are one question and one reply, maybe with a system prompt: the editor shows those as
// three cells. Anything else (several turns, unknown roles) is edited turn by turn.
import type { ChatTurn } from '../../../main/api/contract';

export type CellRole = 'system' | 'user' | 'assistant';
export type Cells = Record<CellRole, string>;

export function cellsOf(messages: readonly ChatTurn[]): Cells | null {
  const roles = messages.map((m) => m.role).join(',');
  if (roles === 'user,assistant') {
    return { system: '', user: messages[0]!.content, assistant: messages[1]!.content };
  }
  if (roles === 'system,user,assistant') {
    return { system: messages[0]!.content, user: messages[1]!.content, assistant: messages[2]!.content };
  }
  return null;
}

export function messagesOf(cells: Cells): ChatTurn[] {
  return [
    ...(cells.system !== '' ? [{ role: 'system', content: cells.system }] : []),
    { role: 'user', content: cells.user },
    { role: 'assistant', content: cells.assistant },
  ];
}

export function sameMessages(a: readonly ChatTurn[], b: readonly ChatTurn[]): boolean {
  return a.length === b.length && a.every((m, i) => m.role === b[i]!.role && m.content === b[i]!.content);
}
