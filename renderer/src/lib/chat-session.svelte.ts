// A conversation with the tuned model and, side by side, optionally the base model: each side keeps
// its own replies (they differ), both get the same questions. A reply streams in from `chat.token`
// events tagged with its requestId; `chat.generate` resolves with the whole reply at the end.
import type { ChatReply } from '../../../main/api/contract';
import type { Api } from './api';
import { type Problem, problemOf } from './problem';

export type ChatSide = 'tuned' | 'base';

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
  /** Assistant turns: set while the reply is streaming. */
  requestId?: string;
  reply?: ChatReply;
  error?: Problem;
}

let counter = 0;
function newRequestId(): string {
  counter++;
  return globalThis.crypto?.randomUUID?.() ?? `chat-${Date.now()}-${counter}`;
}

export class ChatSession {
  system = $state('');
  sideBySide = $state(false);
  temperature = $state(0.7);
  maxNewTokens = $state(256);
  /** A checkpoint id, `best` or `last`. */
  checkpoint = $state<number | 'best' | 'last'>('best');
  turns = $state<Record<ChatSide, ChatTurn[]>>({ tuned: [], base: [] });

  readonly #api: Api;
  readonly #runId: number;
  readonly #unsubscribe: () => void;

  constructor(api: Api, runId: number) {
    this.#api = api;
    this.#runId = runId;
    this.#unsubscribe = api.on('chat.token', ({ requestId, text }) => {
      const turn = this.#streaming().find((t) => t.requestId === requestId);
      if (turn) turn.content += text;
    });
  }

  get sides(): ChatSide[] {
    return this.sideBySide ? ['tuned', 'base'] : ['tuned'];
  }

  get busy(): boolean {
    return this.#streaming().length > 0;
  }

  /** Ask every shown side; each answers with its own conversation so far. */
  send(text: string): void {
    const content = text.trim();
    if (!content || this.busy) return;
    for (const side of this.sides) void this.#ask(side, content);
  }

  /** Stop the replies being written; what was written so far stays. */
  async cancel(): Promise<void> {
    const ids = this.#streaming().map((t) => t.requestId!);
    await Promise.all(
      ids.map((requestId) => this.#api.call('chat.cancel', { requestId }).catch(() => undefined)),
    );
  }

  clear(): void {
    this.turns = { tuned: [], base: [] };
  }

  dispose(): void {
    this.#unsubscribe();
    void this.cancel();
  }

  async #ask(side: ChatSide, content: string): Promise<void> {
    // Turns come in pairs (question, reply); a reply that failed drops its question too.
    const history = this.turns[side].flatMap((turn, i, all) => {
      const pairFailed = turn.role === 'user' ? all[i + 1]?.error : turn.error;
      return pairFailed ? [] : [{ role: turn.role, content: turn.content }];
    });
    const requestId = newRequestId();
    this.turns[side].push({ role: 'user', content }, { role: 'assistant', content: '', requestId });
    // The proxied turn: mutations through it update the screen.
    const turn = this.turns[side].at(-1)!;
    try {
      const reply = await this.#api.call('chat.generate', {
        requestId,
        runId: this.#runId,
        checkpoint: side === 'base' ? 'base' : this.checkpoint,
        ...(this.system.trim() ? { system: this.system } : {}),
        messages: [...history, { role: 'user', content }],
        maxNewTokens: this.maxNewTokens,
        temperature: this.temperature,
      });
      turn.content = reply.text;
      turn.reply = reply;
    } catch (err) {
      turn.error = problemOf(err);
    } finally {
      delete turn.requestId;
    }
  }

  #streaming(): ChatTurn[] {
    return [...this.turns.tuned, ...this.turns.base].filter((t) => t.requestId !== undefined);
  }
}
