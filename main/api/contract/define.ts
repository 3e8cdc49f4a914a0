// The shape of one command in the API contract: an input schema (validated at every transport
// boundary) and an output type (trusted: the services produce it). Errors travel as data.
import type { z } from 'zod';

export interface CommandDef<Input extends z.ZodType, Output> {
  readonly input: Input;
  /** Phantom field: carries the output type; never read at run time. */
  readonly output?: Output;
}

export function command<Output>() {
  return <Input extends z.ZodType>(input: Input): CommandDef<Input, Output> => ({ input });
}

/** An error as it crosses a transport: plain data a person can act on. */
export interface ApiError {
  /** Stable machine-readable code, e.g. `invalid-input`, `not-found`, `store-corrupt`. */
  code: string;
  /** What went wrong, in words a non-programmer understands. */
  message: string;
  /** What to do about it, when we know. */
  hint?: string;
}

export type ApiResult<T> = { ok: true; value: T } | { ok: false; error: ApiError };
