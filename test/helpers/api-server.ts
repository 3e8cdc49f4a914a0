// The app's API over a real HTTP server on a fresh home folder, for the api-*.test.ts suites: typed
// calls that return the ApiResult as the client sees it, and the events pushed over the WebSocket.
import WebSocket from 'ws';
import type {
  ApiError,
  CommandInput,
  CommandName,
  CommandOutput,
  EventName,
  Events,
} from '../../main/api/contract.js';
import { EventBus } from '../../main/api/events.js';
import { createHandlers, type HandlerDeps } from '../../main/api/handlers.js';
import { type RunningServer, startHttpServer } from '../../main/api/http-server.js';
import { type CoreServices, openCoreServices } from '../../main/core/services.js';
import { tempDir } from './cli.js';

/** An ApiResult as JSON, either shape. */
export interface RawResult {
  ok: boolean;
  value?: unknown;
  error?: ApiError;
}

export interface ApiServer {
  services: CoreServices;
  server: RunningServer;
  /** The raw HTTP answer: status and the JSON body. */
  post(name: string, body: unknown): Promise<{ status: number; body: RawResult }>;
  /** The command's value; fails the test with the error when the command fails. */
  call<N extends CommandName>(name: N, input: CommandInput<N>): Promise<CommandOutput<N>>;
  /** The command's error; fails the test when the command succeeds. */
  fail<N extends CommandName>(name: N, input: CommandInput<N>): Promise<ApiError>;
  /** Collects the pushed events of one name from now on (over the WebSocket). */
  listen<E extends EventName>(name: E): Promise<{ events: Events[E][]; close(): void }>;
  close(): Promise<void>;
}

export async function startApiServer(
  homeDir = tempDir('tunesmith-api-'),
  extra: Pick<HandlerDeps, 'openPath'> = {},
): Promise<ApiServer> {
  const services = openCoreServices(homeDir);
  const bus = new EventBus();
  const server = await startHttpServer({
    handlers: createHandlers({ services, bus, ...extra }),
    bus,
    host: '127.0.0.1',
    port: 0,
  });
  const post = async (name: string, body: unknown) => {
    const response = await fetch(`${server.url}api/${name}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${server.token}` },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as RawResult };
  };
  const sockets = new Set<WebSocket>();
  return {
    services,
    server,
    post,
    async call(name, input) {
      const { body } = await post(name, input);
      if (!body.ok) throw new Error(`${name} failed: ${JSON.stringify(body.error)}`);
      return body.value as never;
    },
    async fail(name, input) {
      const { body } = await post(name, input);
      if (body.ok) throw new Error(`${name} succeeded but should have failed: ${JSON.stringify(body.value)}`);
      return body.error!;
    },
    async listen(name) {
      const ws = new WebSocket(`${server.url.replace('http', 'ws')}api/events?token=${server.token}`);
      sockets.add(ws);
      await new Promise((resolve, reject) => {
        ws.on('open', resolve);
        ws.on('error', reject);
      });
      const events: Events[typeof name][] = [];
      ws.on('message', (data) => {
        const message = JSON.parse(String(data)) as { event: string; payload: never };
        if (message.event === name) events.push(message.payload);
      });
      return {
        events,
        close: () => {
          ws.close();
          sockets.delete(ws);
        },
      };
    },
    async close() {
      for (const ws of sockets) ws.close();
      await server.close();
      services.close();
    },
  };
}
