// The one typed API between the renderer (or any client) and main. Commands are request →
// response; events are pushed. Both transports (Electron IPC, HTTP + WebSocket) carry exactly this.
// Safe to import from the renderer: no Node types here.
import type { z } from 'zod';
import { type ChatEvents, chatCommands } from './contract/chat.js';
import { datasetDetailCommands } from './contract/datasets.js';
import type { ApiError, ApiResult, CommandDef } from './contract/define.js';
import { type ExportEvents, exportDetailCommands } from './contract/exports.js';
import { datasetCommands, exportCommands, runCommands } from './contract/library.js';
import { type ModelEvents, modelCommands } from './contract/models.js';
import { type RunEvents, runDetailCommands } from './contract/runs.js';
import { type SystemEvents, systemCommands } from './contract/system.js';

export type * from './contract/chat.js';
export type * from './contract/datasets.js';
export type * from './contract/exports.js';
export type * from './contract/library.js';
export type * from './contract/models.js';
export type * from './contract/runs.js';
export type * from './contract/system.js';
export type { ApiError, ApiResult };

export const commands = {
  ...systemCommands,
  ...modelCommands,
  ...datasetCommands,
  ...datasetDetailCommands,
  ...runCommands,
  ...runDetailCommands,
  ...exportCommands,
  ...exportDetailCommands,
  ...chatCommands,
} as const;

export type Commands = typeof commands;
export type CommandName = keyof Commands;

type DefOf<N extends CommandName> = Commands[N];
/** What a caller passes (defaults may be omitted). */
export type CommandInput<N extends CommandName> =
  DefOf<N> extends CommandDef<infer I, unknown> ? z.input<I> : never;
/** What a handler receives, after validation and defaults. */
export type ParsedInput<N extends CommandName> =
  DefOf<N> extends CommandDef<infer I, unknown> ? z.output<I> : never;
export type CommandOutput<N extends CommandName> =
  DefOf<N> extends CommandDef<z.ZodType, infer O> ? O : never;

export type Events = SystemEvents & ModelEvents & RunEvents & ChatEvents & ExportEvents;
export type EventName = keyof Events;

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(commands, name);
}

/** The client-side view of the API, implemented by both transports in renderer/src/lib/api.ts. */
export interface ApiClient {
  call<N extends CommandName>(name: N, input: CommandInput<N>): Promise<CommandOutput<N>>;
  on<E extends EventName>(name: E, listener: (payload: Events[E]) => void): () => void;
}
