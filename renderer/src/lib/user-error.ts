// What a screen shows when something fails: the message and, when known, what to do about it.
import { ApiCallError } from './api';

export interface UserError {
  message: string;
  hint?: string | undefined;
  /** The API's machine-readable code, when the error came from main. */
  code?: string | undefined;
}

export function toUserError(err: unknown): UserError {
  if (err instanceof ApiCallError) return { message: err.message, hint: err.hint, code: err.code };
  return { message: err instanceof Error ? err.message : String(err) };
}
