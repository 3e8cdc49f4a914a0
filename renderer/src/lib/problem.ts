// Something that went wrong, as the screen shows it: what happened and what to do about it. Errors
// from main carry both (ApiCallError); a few run errors get a hint about buttons on this screen
// instead of the CLI command main suggests, keeping main's words as details.
import { ApiCallError } from './api';

export interface Problem {
  message: string;
  hint?: string | undefined;
  code?: string | undefined;
  /** Technical detail, shown folded. */
  details?: string | undefined;
}

export function problemOf(err: unknown): Problem {
  if (err instanceof ApiCallError) return { message: err.message, hint: err.hint, code: err.code };
  return { message: err instanceof Error ? err.message : String(err) };
}

const SCREEN_HINTS: Record<string, string> = {
  interrupted: 'Press Resume to continue from the last saved checkpoint.',
  'disk-full': 'Free some disk space, then press Resume.',
  'out-of-memory':
    'Go back to Settings and start a run that needs less memory: in Advanced settings lower “Longest example” or “Examples at once”, keep “Save memory” on, or close other programs.',
  'dataset-has-errors':
    'Go back to the Data step and fix or delete those examples; that makes a new version, which is the one trained.',
  'not-implemented': 'This part of Tunesmith is still being built; update Tunesmith and try again.',
};

/**
 * A problem with a hint that fits the screen rather than the command line: known codes get this
 * screen's words (main's hint stays as details), and `--set key=value` advice points at Advanced
 * settings, where the same names are shown.
 */
export function screenProblem(error: {
  code?: string | undefined;
  message: string;
  hint?: string | undefined;
}): Problem {
  const screenHint = error.code ? SCREEN_HINTS[error.code] : undefined;
  if (screenHint) return { message: error.message, hint: screenHint, code: error.code, details: error.hint };
  if (error.hint?.includes('--set ')) {
    const hint = `In Advanced settings: ${error.hint.replaceAll('--set ', '')}`;
    return { message: error.message, hint, code: error.code, details: error.hint };
  }
  return { message: error.message, hint: error.hint, code: error.code };
}
