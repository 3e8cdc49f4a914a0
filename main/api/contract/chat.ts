// chat: talk to a model — a run's checkpoint (the tuned model) or the base model alone — with the
// run's training template. Replies stream as `chat.token` events under the caller's requestId; the
// command resolves with the whole reply when generation ends (end token, length, or chat.cancel).
import { z } from 'zod';
import { command } from './define.js';

export interface ChatReply {
  requestId: string;
  text: string;
  /** The model ended its reply itself (end-of-turn token), rather than hitting maxNewTokens. */
  stopped: boolean;
  cancelled: boolean;
  tokens: number;
  promptTokens: number;
  tokensPerSecond: number;
  template: string;
  /** What answered: e.g. "run 3, checkpoint at step 40" or "base model". */
  source: string;
}

export interface ChatTokenEvent {
  requestId: string;
  /** New text since the previous event. */
  text: string;
}

const turn = z.object({ role: z.enum(['user', 'assistant']), content: z.string() }).strict();

export const chatCommands = {
  'chat.generate': command<ChatReply>()(
    z
      .object({
        /** Chosen by the client (unique per reply); tags the streamed `chat.token` events. */
        requestId: z.string().min(1).max(100),
        /** A run: its model, template and (unless `checkpoint` is `base`) a checkpoint's adapter. */
        runId: z.number().int().min(1).optional(),
        /** A checkpoint id of the run, `best` (lowest eval loss), `last`, or `base` (no adapter). */
        checkpoint: z.union([z.number().int().min(1), z.enum(['best', 'last', 'base'])]).default('best'),
        /** Without a run: a model folder, used as is. */
        modelDir: z.string().min(1).optional(),
        system: z.string().max(20_000).optional(),
        /** The conversation so far, ending with the user's message. */
        messages: z.array(turn).min(1),
        maxNewTokens: z.number().int().min(1).max(4096).default(256),
        /** 0 = greedy. */
        temperature: z.number().min(0).max(2).default(0.7),
        topP: z.number().gt(0).max(1).default(0.95),
        seed: z.number().int().optional(),
      })
      .strict()
      .refine((v) => (v.runId === undefined) !== (v.modelDir === undefined), {
        message: 'give exactly one of runId and modelDir',
      }),
  ),
  /** Stop a reply being generated; its `chat.generate` resolves with what was produced so far. */
  'chat.cancel': command<{ cancelled: boolean }>()(
    z.object({ requestId: z.string().min(1).max(100) }).strict(),
  ),
};

export interface ChatEvents {
  'chat.token': ChatTokenEvent;
}
