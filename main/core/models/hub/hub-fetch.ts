// The fetch @huggingface/hub is given, and how its failures become errors a person can act on.
// The wrapper adds cancellation (the caller's signal), a short limit on waiting for response
// headers (so an offline machine fails fast instead of hanging), and refuses a ranged request that
// the server answered with the whole file (appending that to a part would corrupt it).
import { HubApiError } from '@huggingface/hub';
import { LibraryError, libraryError } from './errors.js';
import { formatGb } from './progress.js';

export interface HubFetchOptions {
  /** The Hub's address, e.g. https://huggingface.co (HF_ENDPOINT). */
  endpoint: string;
  signal?: AbortSignal;
  /** How long to wait for a response's headers. Default 15 s. */
  connectTimeoutMs?: number;
  /** How long a transfer may go without data before it counts as dropped. Default 60 s. */
  stallTimeoutMs?: number;
  /** The fetch underneath (tests); default globalThis.fetch. */
  fetch?: typeof fetch;
}

class RangeIgnoredError extends Error {}

export function isRangeIgnored(err: unknown): boolean {
  return err instanceof RangeIgnoredError || (typeof err === 'string' && err.startsWith(RANGE_IGNORED));
}
const RANGE_IGNORED = 'The server ignored the Range request';

export function hubFetch(options: HubFetchOptions): typeof fetch {
  const base = options.fetch ?? globalThis.fetch;
  const timeoutMs = options.connectTimeoutMs ?? 15_000;
  return async (input, init) => {
    const timeout = new AbortController();
    const timer = setTimeout(
      () =>
        timeout.abort(Object.assign(new Error(`no answer in ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
    try {
      const response = await base(input, { ...init, signal });
      const range = new Headers(init?.headers).get('range');
      const start = range ? Number(/^bytes=(\d+)-/.exec(range)?.[1] ?? 0) : 0;
      if (start > 0 && response.status === 200) {
        await response.body?.cancel();
        throw new RangeIgnoredError(`${RANGE_IGNORED} for ${String(input)}.`);
      }
      return response;
    } finally {
      clearTimeout(timer);
    }
  };
}

const OFFLINE_CODES = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ECONNRESET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

export interface ProblemContext {
  repoId: string;
  /** What was being done, e.g. "list its files" or "download model.safetensors". */
  what: string;
  endpoint: string;
  hasToken: boolean;
  signal?: AbortSignal;
  /** Set while a file's bytes were flowing: a failure then is an interruption, resumable. */
  file?: { path: string; done: number; size: number };
}

/** Any failure of a Hub call → a LibraryError that says what to do. LibraryErrors pass through. */
export function hubProblem(err: unknown, ctx: ProblemContext): LibraryError {
  if (err instanceof LibraryError) return err;
  const { repoId, endpoint } = ctx;
  const page = `${endpoint}/${repoId}`;
  if (ctx.signal?.aborted || (err instanceof Error && err.name === 'AbortError' && !codeOf(err))) {
    return libraryError(
      'download-cancelled',
      `The download of ${repoId} was cancelled${ctx.file ? ` during ${ctx.file.path}` : ''}.`,
      'What was downloaded is kept: run the same download again to resume.',
      { cause: err },
    );
  }
  if (err instanceof HubApiError) {
    const status = err.statusCode;
    if (status === 401) {
      return libraryError(
        'hub-auth-required',
        ctx.hasToken
          ? `The Hub refused the access token for ${repoId} (401).`
          : `${repoId} needs an access token (the Hub answered 401): it is gated or private, or there is no such model.`,
        ctx.hasToken
          ? 'Check that the token is a valid read token (https://huggingface.co/settings/tokens) and that the model id is right.'
          : `Check the model id; if it is gated, accept its licence at ${page}, create a read token at https://huggingface.co/settings/tokens and pass it with --token-env VAR (or set HF_TOKEN).`,
        { cause: err },
      );
    }
    if (status === 403) {
      return libraryError(
        'hub-forbidden',
        `Your access token may not download ${repoId} (403).`,
        `Accept the model's licence at ${page} with the account the token belongs to, then run the same command again.`,
        { cause: err },
      );
    }
    if (status === 404) {
      return libraryError(
        'hub-not-found',
        `The Hub has no ${repoId}${ctx.what.startsWith('download') ? ` file for "${ctx.what}"` : ''} (404).`,
        'Check the model id and --revision (ids look like Qwen/Qwen2.5-0.5B-Instruct).',
        { cause: err },
      );
    }
    if (ctx.file && status >= 500) return interrupted(err, ctx, `the Hub answered ${status}`);
    return libraryError(
      'hub-error',
      `The Hub answered ${status} when Tunesmith tried to ${ctx.what} (${repoId}).`,
      'Try again later.',
      { cause: err },
    );
  }
  const code = codeOf(err);
  if (ctx.file) return interrupted(err, ctx, reasonOf(err));
  if (code === 'ENOSPC' || code === 'EDQUOT') return diskFull(err, ctx);
  if (code !== undefined && OFFLINE_CODES.has(code)) {
    return libraryError(
      'hub-unreachable',
      `Cannot reach the Hugging Face Hub at ${endpoint}: ${reasonOf(err)}.`,
      'Local models still work; to add one you already have, use `tunesmith models add DIR`.',
      { cause: err },
    );
  }
  if (err instanceof SyntaxError) {
    return libraryError(
      'hub-error',
      `The answer from ${endpoint} when Tunesmith tried to ${ctx.what} (${repoId}) was not what the Hub sends (${err.message}).`,
      'Check --endpoint / HF_ENDPOINT.',
      { cause: err },
    );
  }
  return libraryError(
    'hub-error',
    `Tunesmith could not ${ctx.what} (${repoId}) at ${endpoint}: ${reasonOf(err)}.`,
    'Check --endpoint (or HF_ENDPOINT) and the network, then run the same command again.',
    { cause: err },
  );
}

function interrupted(err: unknown, ctx: ProblemContext, reason: string): LibraryError {
  const code = codeOf(err);
  if (code === 'ENOSPC' || code === 'EDQUOT') return diskFull(err, ctx);
  const f = ctx.file!;
  return libraryError(
    'download-interrupted',
    `The download of ${f.path} (${ctx.repoId}) stopped at ${formatGb(f.done)} of ${formatGb(f.size)}: ${reason}.`,
    'What was downloaded is kept: run the same command again to resume.',
    { cause: err },
  );
}

function diskFull(err: unknown, ctx: ProblemContext): LibraryError {
  return libraryError(
    'disk-full',
    `The disk filled up while downloading ${ctx.file?.path ?? ''} of ${ctx.repoId}.`,
    'Free some space and run the same command again: what was downloaded is kept and the download resumes.',
    { cause: err },
  );
}

/** The errno-style code of an error or of its cause (undici puts the socket error in `cause`). */
function codeOf(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}

function reasonOf(err: unknown): string {
  if (typeof err === 'string') return err;
  const parts: string[] = [];
  for (let e = err, depth = 0; e && depth < 4; depth++) {
    if (e instanceof Error || (typeof e === 'object' && 'message' in e)) {
      const message = String((e as { message: unknown }).message);
      if (message && message !== 'fetch failed') parts.push(message);
    }
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join(': ') || String(err);
}
