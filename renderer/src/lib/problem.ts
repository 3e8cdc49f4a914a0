// Something that went wrong, as a screen shows it: what happened, what to do about it, and any
// technical detail folded away. Errors from main carry a message and a hint (ApiCallError, or the
// plain error data of a run or an export); main words its hints for the command line, so a hint
// that names a command or an option gets this app's words instead, with main's kept as details.
import { ApiCallError } from './api';

export interface Problem {
  message: string;
  hint?: string | undefined;
  /** The API's machine-readable code, when the error came from main. */
  code?: string | undefined;
  /** Technical detail, shown folded. */
  details?: string | undefined;
}

/** Hints for errors a person meets on a screen, by code: the button to press rather than a command. */
const SCREEN_HINTS: Record<string, string> = {
  interrupted: 'Press Resume to continue from the last saved checkpoint.',
  'disk-full': 'Free some disk space, then press Resume.',
  'out-of-memory':
    'Go back to Settings and start a run that needs less memory: in Advanced settings lower “Longest example” or “Examples at once”, keep “Save memory” on, or close other programs.',
  'dataset-has-errors':
    'Go back to the Data step and fix or delete those examples; that makes a new version, which is the one trained.',
  'bad-mapping':
    'Choose below which column holds the question and which the reply, then read the file again.',
};

/** Main ends some hints with the raw technical cause after "Details:" (a parser's own words). */
const DETAILS = /\s*\bDetails:\s*([\s\S]*)$/;

function plainData(err: unknown): { message: string; hint?: unknown; code?: unknown } | null {
  if (typeof err !== 'object' || err === null || !('message' in err)) return null;
  return typeof err.message === 'string' ? (err as { message: string }) : null;
}

/**
 * Any failure as a Problem in this app's words: a thrown ApiCallError or Error, a run's or an
 * export's error data, or anything else thrown.
 */
export function problemOf(err: unknown): Problem {
  if (err instanceof ApiCallError)
    return screenWords({ message: err.message, hint: err.hint, code: err.code });
  const data = plainData(err);
  if (!data) return { message: String(err) };
  return screenWords({
    message: data.message,
    hint: typeof data.hint === 'string' ? data.hint : undefined,
    code: typeof data.code === 'string' ? data.code : undefined,
  });
}

function screenWords({ message, hint, code }: Omit<Problem, 'details'>): Problem {
  let details: string | undefined;
  const detailed = hint === undefined ? null : DETAILS.exec(hint);
  if (hint !== undefined && detailed) {
    details = detailed[1]?.trim() || undefined;
    hint = hint.slice(0, detailed.index).trim() || undefined;
  }
  const screenHint = code ? SCREEN_HINTS[code] : undefined;
  if (screenHint) return { message, hint: screenHint, code, details: joinDetails(hint, details) };
  const reworded = hint === undefined ? hint : rewordCommands(hint);
  if (reworded !== hint) return { message, hint: reworded, code, details: joinDetails(hint, details) };
  return { message, hint, code, details };
}

function joinDetails(...parts: (string | undefined)[]): string | undefined {
  return parts.filter(Boolean).join('\n') || undefined;
}

/** `--set key=value` advice points at Advanced settings; `tunesmith runs resume N` at Resume. */
function rewordCommands(hint: string): string {
  const resumed = hint.replace(/\b([Rr])un `tunesmith runs resume \d+`/g, (_, r: string) =>
    r === 'R' ? 'Press Resume' : 'press Resume',
  );
  if (resumed.includes('--set ')) return `In Advanced settings: ${resumed.replaceAll('--set ', '')}`;
  return resumed;
}
