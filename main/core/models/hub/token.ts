// Where a Hugging Face access token comes from, in the Hub's own order of precedence: an explicit
// environment variable (--token-env VAR), HF_TOKEN, then the token file the `hf auth login` command
// writes ($HF_TOKEN_PATH, else $HF_HOME/token, else ~/.cache/huggingface/token), read only. The token
// itself is returned to the caller and never logged or stored by Tunesmith; the desktop app keeps its
// own in the OS keychain.
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { libraryError } from './errors.js';

export interface HubToken {
  token: string | undefined;
  /** Where it came from, for messages (never the token). */
  source: string | null;
}

export interface TokenLookup {
  /** The variable named by --token-env; it must be set when given. */
  tokenEnv?: string;
  env?: NodeJS.ProcessEnv;
  home?: string;
}

export function hubTokenFile(env: NodeJS.ProcessEnv = process.env, home = homedir()): string {
  if (env.HF_TOKEN_PATH) return env.HF_TOKEN_PATH;
  const hfHome = env.HF_HOME || path.join(env.XDG_CACHE_HOME || path.join(home, '.cache'), 'huggingface');
  return path.join(hfHome, 'token');
}

export function resolveHubToken({ tokenEnv, env = process.env, home }: TokenLookup = {}): HubToken {
  if (tokenEnv !== undefined) {
    const value = env[tokenEnv]?.trim();
    if (!value) {
      throw libraryError(
        'bad-token',
        `--token-env ${tokenEnv} was given but the environment variable ${tokenEnv} is empty or not set.`,
        `Set it to your Hugging Face access token (export ${tokenEnv}=hf_…), or leave out --token-env.`,
      );
    }
    return { token: value, source: `$${tokenEnv}` };
  }
  const fromEnv = env.HF_TOKEN?.trim();
  if (fromEnv) return { token: fromEnv, source: '$HF_TOKEN' };
  const file = hubTokenFile(env, home);
  try {
    const value = readFileSync(file, 'utf8').trim();
    if (value) return { token: value, source: file };
  } catch {
    // no token file: downloads of public models need none
  }
  return { token: undefined, source: null };
}

export const DEFAULT_HUB_ENDPOINT = 'https://huggingface.co';

export function resolveHubEndpoint(option?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = option || env.HF_ENDPOINT || DEFAULT_HUB_ENDPOINT;
  let url: URL;
  try {
    url = new URL(chosen);
  } catch {
    throw libraryError(
      'hub-error',
      `The Hub endpoint "${chosen}" is not a URL.`,
      'Give --endpoint (or HF_ENDPOINT) as http(s)://host[:port].',
    );
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw libraryError('hub-error', `The Hub endpoint "${chosen}" is not http(s).`, 'Use an https:// URL.');
  }
  return chosen.replace(/\/+$/, '');
}
