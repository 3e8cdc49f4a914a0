// The renderer's only door to main. Inside the desktop app it uses the preload bridge (Electron
// IPC); in a browser it uses `tunesmith serve` over HTTP + WebSocket with the URL's access token.
// Tests replace this one module.
import type {
  ApiClient,
  ApiError,
  ApiResult,
  CommandInput,
  CommandName,
  CommandOutput,
  EventName,
  Events,
} from '../../../main/api/contract';

export type ConnectionStatus = 'connecting' | 'connected' | 'disconnected' | 'unauthorized';

export interface Api extends ApiClient {
  readonly transport: 'ipc' | 'http';
  status(): ConnectionStatus;
  onStatus(listener: (status: ConnectionStatus) => void): () => void;
  /** Try to reach main again now (after "not connected"). */
  reconnect(): void;
}

/** A failed call, carrying the contract's plain-data error. */
export class ApiCallError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  constructor(error: ApiError) {
    super(error.message);
    this.code = error.code;
    this.hint = error.hint;
  }
}

/** What main/preload exposes on `window.tunesmith` (see main/preload/index.ts). */
export interface PreloadBridge {
  invoke(name: string, input: unknown): Promise<ApiResult<unknown>>;
  subscribe(listener: (name: string, payload: unknown) => void): () => void;
  /** The path of a dropped or chosen file (desktop app only). */
  pathForFile?(file: File): string;
}

declare global {
  interface Window {
    tunesmith?: PreloadBridge;
  }
}

type AnyListener = (payload: unknown) => void;

class Listeners {
  readonly #byEvent = new Map<string, Set<AnyListener>>();
  add(name: string, listener: AnyListener): () => void {
    let set = this.#byEvent.get(name);
    if (!set) {
      set = new Set();
      this.#byEvent.set(name, set);
    }
    set.add(listener);
    return () => set.delete(listener);
  }
  deliver(name: string, payload: unknown): void {
    for (const listener of this.#byEvent.get(name) ?? []) listener(payload);
  }
}

function unwrap<T>(result: ApiResult<unknown>): T {
  if (!result.ok) throw new ApiCallError(result.error);
  return result.value as T;
}

function ipcApi(bridge: PreloadBridge): Api {
  const listeners = new Listeners();
  bridge.subscribe((name, payload) => listeners.deliver(name, payload));
  return {
    transport: 'ipc',
    async call<N extends CommandName>(name: N, input: CommandInput<N>) {
      return unwrap<CommandOutput<N>>(await bridge.invoke(name, input));
    },
    on<E extends EventName>(name: E, listener: (payload: Events[E]) => void) {
      return listeners.add(name, listener as AnyListener);
    },
    status: () => 'connected',
    onStatus: () => () => {},
    reconnect: () => {},
  };
}

const TOKEN_KEY = 'tunesmith.token';

/** The token arrives once in the URL (`?token=`); keep it for reloads and take it out of the address bar. */
function takeToken(): string | null {
  const url = new URL(window.location.href);
  const fromUrl = url.searchParams.get('token');
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    url.searchParams.delete('token');
    window.history.replaceState(null, '', url.pathname + url.search + url.hash);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

async function tokenRefused(token: string): Promise<boolean> {
  try {
    const response = await fetch('/api/runs.list', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: '{"limit":1}',
    });
    return response.status === 401;
  } catch {
    return false;
  }
}

function httpApi(): Api {
  const token = takeToken();
  const listeners = new Listeners();
  const statusListeners = new Set<(status: ConnectionStatus) => void>();
  let status: ConnectionStatus = token ? 'connecting' : 'unauthorized';
  let socket: WebSocket | undefined;
  let retryDelay = 500;
  let retryTimer: ReturnType<typeof setTimeout> | undefined;

  const setStatus = (next: ConnectionStatus) => {
    if (next === status) return;
    status = next;
    for (const listener of statusListeners) listener(next);
  };

  const openEvents = () => {
    if (!token || socket) return;
    clearTimeout(retryTimer);
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws';
    const ws = new WebSocket(
      `${scheme}://${window.location.host}/api/events?token=${encodeURIComponent(token)}`,
    );
    socket = ws;
    ws.onopen = () => {
      retryDelay = 500;
      setStatus('connected');
    };
    ws.onmessage = (message) => {
      const { event, payload } = JSON.parse(String(message.data)) as { event: string; payload: unknown };
      listeners.deliver(event, payload);
    };
    ws.onclose = async () => {
      socket = undefined;
      // A browser does not tell why a WebSocket was refused: ask once whether the token still
      // works (a restarted server has a new one) before retrying.
      if (await tokenRefused(token)) {
        setStatus('unauthorized');
        return;
      }
      setStatus('disconnected');
      retryTimer = setTimeout(openEvents, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10_000);
    };
  };

  if (token) openEvents();

  return {
    transport: 'http',
    async call<N extends CommandName>(name: N, input: CommandInput<N>) {
      if (!token) {
        throw new ApiCallError({
          code: 'unauthorized',
          message: 'This page was opened without its access token.',
          hint: 'Open the full URL that `tunesmith serve` printed, including ?token=…',
        });
      }
      let response: Response;
      try {
        response = await fetch(`/api/${name}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
          body: JSON.stringify(input ?? {}),
        });
      } catch {
        setStatus('disconnected');
        throw new ApiCallError({
          code: 'not-connected',
          message: 'Cannot reach the Tunesmith server.',
          hint: 'Is `tunesmith serve` still running? Start it again and reload this page.',
        });
      }
      if (response.status === 401) setStatus('unauthorized');
      else if (socket?.readyState === WebSocket.OPEN) setStatus('connected');
      return unwrap<CommandOutput<N>>((await response.json()) as ApiResult<unknown>);
    },
    on<E extends EventName>(name: E, listener: (payload: Events[E]) => void) {
      return listeners.add(name, listener as AnyListener);
    },
    status: () => status,
    onStatus(listener) {
      statusListeners.add(listener);
      return () => statusListeners.delete(listener);
    },
    reconnect() {
      retryDelay = 500;
      openEvents();
    },
  };
}

let api: Api | undefined;

export function getApi(): Api {
  api ??= window.tunesmith ? ipcApi(window.tunesmith) : httpApi();
  return api;
}
