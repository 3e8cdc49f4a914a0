// An error as the screen shows it: what went wrong and, when known, what to do about it. Calls
// through lib/api.ts fail with ApiCallError (message + hint); anything else still gets a message.
export interface ShownError {
  message: string;
  hint?: string | undefined;
}

export function shownError(err: unknown): ShownError {
  if (err instanceof Error) {
    const hint = (err as Error & { hint?: unknown }).hint;
    return { message: err.message, hint: typeof hint === 'string' ? hint : undefined };
  }
  return { message: String(err) };
}
