// The one place a command from any transport is checked and run: unknown names and invalid input
// become `ApiError`s, thrown errors become data a person can act on. Transports stay thin.
import {
  type ApiError,
  type ApiResult,
  type CommandName,
  type CommandOutput,
  commands,
  isCommandName,
  type ParsedInput,
} from './contract.js';

export type Handlers = {
  [N in CommandName]: (input: ParsedInput<N>) => Promise<CommandOutput<N>> | CommandOutput<N>;
};

export async function dispatch(
  handlers: Handlers,
  name: string,
  rawInput: unknown,
): Promise<ApiResult<unknown>> {
  if (!isCommandName(name)) {
    return {
      ok: false,
      error: {
        code: 'unknown-command',
        message: `There is no command named "${name}".`,
        hint: 'The app and its server may be different versions: restart both.',
      },
    };
  }
  const parsed = commands[name].input.safeParse(rawInput ?? {});
  if (!parsed.success) {
    const details = parsed.error.issues
      .map((issue) => `${issue.path.length ? issue.path.join('.') : 'input'}: ${issue.message}`)
      .join('; ');
    return { ok: false, error: { code: 'invalid-input', message: `Invalid input for ${name}: ${details}` } };
  }
  try {
    const handler = handlers[name] as (input: unknown) => unknown;
    return { ok: true, value: await handler(parsed.data) };
  } catch (err) {
    return { ok: false, error: toApiError(err) };
  }
}

/** Errors from services carry `code`, `message` and `hint`; anything else is a bug we report as one. */
export function toApiError(err: unknown): ApiError {
  if (err && typeof err === 'object' && 'message' in err && typeof err.message === 'string') {
    const code = 'code' in err && typeof err.code === 'string' ? err.code : 'internal';
    const hint = 'hint' in err && typeof err.hint === 'string' ? err.hint : undefined;
    const error: ApiError = { code, message: err.message };
    if (hint) error.hint = hint;
    else if (code === 'internal')
      error.hint = 'This is a bug in Tunesmith. The log in the home folder has details.';
    return error;
  }
  return { code: 'internal', message: String(err), hint: 'This is a bug in Tunesmith.' };
}
