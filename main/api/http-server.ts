// HTTP + WebSocket transport for `tunesmith serve`: the same contract as Electron IPC, for the
// browser, headless boxes and the e2e tests.
//   POST /api/<command>   JSON body = input → JSON ApiResult      (token required)
//   GET  /api/events      WebSocket; server pushes {event, payload} (token required)
//   GET  /*               the built renderer (static, holds no data)
// The token comes as `Authorization: Bearer <token>` or `?token=`; it is random per start.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { WebSocketServer } from 'ws';
import type { ApiResult } from './contract.js';
import { dispatch, type Handlers } from './dispatch.js';
import type { EventBus } from './events.js';

const MAX_BODY_BYTES = 16 * 1024 * 1024;
/**
 * `datasets.upload` carries a whole file (base64 grows it by a third). 500 MiB stays under V8's
 * longest string (~512 MiB), which the JSON text must fit in.
 */
const MAX_UPLOAD_BODY_BYTES = 500 * 1024 * 1024;
const bodyLimit = (command: string) =>
  command === 'datasets.upload' ? MAX_UPLOAD_BODY_BYTES : MAX_BODY_BYTES;

class BodyTooLarge extends Error {
  constructor(
    readonly command: string,
    readonly limit: number,
  ) {
    super(
      command === 'datasets.upload'
        ? `The file is too large to send to the server (the limit is ${mebibytes(limit)}).`
        : `The request is larger than ${mebibytes(limit)}, the most a command accepts.`,
    );
  }

  get hint(): string {
    return this.command === 'datasets.upload'
      ? 'Put the file on the server and import it by its path, or split it into smaller files.'
      : 'Send less at once.';
  }
}

const mebibytes = (bytes: number) => `${Math.round(bytes / (1024 * 1024))} MB`;

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export interface HttpServerOptions {
  handlers: Handlers;
  bus: EventBus;
  host: string;
  port: number;
  /** Folder with the built renderer (index.html). Absent: API only. */
  staticDir?: string;
  /** Fixed token (tests); otherwise a random one. */
  token?: string;
}

export interface RunningServer {
  url: string;
  /** The URL to open in a browser, token included. */
  openUrl: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

export function newAccessToken(): string {
  return randomBytes(24).toString('base64url');
}

export async function startHttpServer(options: HttpServerOptions): Promise<RunningServer> {
  const token = options.token ?? newAccessToken();
  const expected = Buffer.from(token);
  const authorized = (req: IncomingMessage, url: URL): boolean => {
    const header = req.headers.authorization;
    const given = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
    if (!given) return false;
    const buf = Buffer.from(given);
    return buf.length === expected.length && timingSafeEqual(buf, expected);
  };

  const server = createServer((req, res) => {
    handleRequest(req, res).catch((err: unknown) => {
      if (!res.headersSent) sendJson(res, 500, failure('internal', String(err)));
      else res.destroy();
    });
  });

  async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/api/')) {
      if (!authorized(req, url)) {
        sendJson(
          res,
          401,
          failure(
            'unauthorized',
            'This request has no valid access token.',
            'Open the URL that `tunesmith serve` printed, token included.',
          ),
        );
        return;
      }
      if (req.method !== 'POST') {
        res.setHeader('Allow', 'POST');
        sendJson(res, 405, failure('method-not-allowed', 'Commands are sent with POST.'));
        return;
      }
      const name = decodeURIComponent(url.pathname.slice('/api/'.length));
      let input: unknown;
      try {
        input = await readJsonBody(req, name);
      } catch (err) {
        if (err instanceof BodyTooLarge) {
          // The rest of the body is not read: close the connection once the answer is out.
          res.setHeader('Connection', 'close');
          sendJson(res, 413, failure('too-large', err.message, err.hint));
          return;
        }
        sendJson(res, 400, failure('invalid-input', (err as Error).message));
        return;
      }
      const result = await dispatch(options.handlers, name, input);
      const status = result.ok
        ? 200
        : result.error.code === 'unknown-command'
          ? 404
          : result.error.code === 'invalid-input'
            ? 400
            : 200;
      sendJson(res, status, result);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, failure('method-not-allowed', 'Only GET is served here.'));
      return;
    }
    await serveStatic(options.staticDir, url.pathname, res);
  }

  const sockets = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname !== '/api/events' || !authorized(req, url)) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit('connection', ws, req));
  });
  const unsubscribe = options.bus.subscribe((event, payload) => {
    const message = JSON.stringify({ event, payload });
    for (const client of sockets.clients) {
      if (client.readyState === client.OPEN) client.send(message);
    }
  });

  await listen(server, options.host, options.port);
  const { port } = server.address() as AddressInfo;
  const hostInUrl = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${hostInUrl}:${port}/`;
  return {
    url,
    openUrl: `${url}?token=${token}`,
    port,
    token,
    close: async () => {
      unsubscribe();
      for (const client of sockets.clients) client.terminate();
      sockets.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function listen(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => {
      const reason =
        err.code === 'EADDRINUSE'
          ? `Port ${port} on ${host} is already in use. Choose another with --port, or --port 0 for any free port.`
          : err.code === 'EADDRNOTAVAIL'
            ? `This machine has no address ${host}. Use --host 127.0.0.1, or an address of this machine.`
            : err.code === 'EACCES'
              ? `Not allowed to listen on port ${port}. Ports below 1024 need special rights; choose a higher one.`
              : `Cannot listen on ${host}:${port}: ${err.message}`;
      reject(Object.assign(new Error(reason), { code: 'listen-failed' }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function failure(code: string, message: string, hint?: string): ApiResult<never> {
  return { ok: false, error: hint ? { code, message, hint } : { code, message } };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
    'Cache-Control': 'no-store',
  });
  res.end(text);
}

async function readJsonBody(req: IncomingMessage, command: string): Promise<unknown> {
  const limit = bodyLimit(command);
  if (Number(req.headers['content-length'] ?? 0) > limit) throw new BodyTooLarge(command, limit);
  const chunks: Buffer[] = [];
  let size = 0;
  // Past the limit the rest is read and dropped, so the client gets the answer rather than a reset.
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= limit) chunks.push(chunk);
  }
  if (size > limit) throw new BodyTooLarge(command, limit);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new Error('The request body is not valid JSON.');
  }
}

async function serveStatic(root: string | undefined, pathname: string, res: ServerResponse): Promise<void> {
  if (!root) {
    sendJson(
      res,
      404,
      failure('not-found', 'This server has no user interface built.', 'Run `npm run build`.'),
    );
    return;
  }
  let relative: string;
  try {
    relative = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '');
  } catch {
    sendJson(res, 400, failure('invalid-path', 'Malformed path.'));
    return;
  }
  if (relative.split(sep).includes('..')) {
    sendJson(res, 404, failure('not-found', 'Not found.'));
    return;
  }
  let file = join(root, relative || 'index.html');
  let info = await stat(file).catch(() => undefined);
  if (info?.isDirectory()) {
    file = join(file, 'index.html');
    info = await stat(file).catch(() => undefined);
  }
  if (!info?.isFile()) {
    // Unknown paths without an extension belong to the single-page app.
    if (extname(relative)) {
      sendJson(res, 404, failure('not-found', 'Not found.'));
      return;
    }
    file = join(root, 'index.html');
    info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      sendJson(
        res,
        404,
        failure('not-found', 'This server has no user interface built.', 'Run `npm run build`.'),
      );
      return;
    }
  }
  res.writeHead(200, {
    'Content-Type': MIME[extname(file)] ?? 'application/octet-stream',
    'Content-Length': info.size,
    'Cache-Control': file.endsWith('index.html') ? 'no-store' : 'public, max-age=3600',
    'X-Content-Type-Options': 'nosniff',
    'Content-Security-Policy':
      "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'",
  });
  createReadStream(file).pipe(res);
}
