// `tunesmith serve`: the app's API and user interface over HTTP + WebSocket, for a browser on this
// machine or (through an SSH tunnel, or --host) a remote GPU box.
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { EventBus } from '../../api/events.js';
import { createHandlers } from '../../api/handlers.js';
import { startHttpServer } from '../../api/http-server.js';
import { resolveHome } from '../../core/home.js';
import { packageRoot } from '../../core/package-info.js';
import { openCoreServices } from '../../core/services.js';
import { parseCommandArgs, parsePort, UsageError } from '../args.js';
import type { CliCommand, CliIo } from '../types.js';

export const DEFAULT_PORT = 4747;

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'serve the app to a browser (headless use, remote GPU boxes)',
  usage: [
    'Usage: tunesmith serve [--port N] [--host H] [--home DIR]',
    '',
    'Serves the Tunesmith app and its API. Open the printed URL (it carries a one-time access',
    'token; requests without it are refused). Stop with Ctrl+C.',
    '',
    `  --port N     port to listen on (default ${DEFAULT_PORT}; 0 picks a free one)`,
    '  --host H     address to listen on (default 127.0.0.1, this machine only).',
    '               Anything else makes the app reachable from the network: prefer an SSH tunnel.',
    '  --home DIR   the home folder to use',
  ].join('\n'),
  async run(argv, io) {
    const { values } = parseCommandArgs(
      argv,
      { port: { type: 'string' }, host: { type: 'string' } },
      'serve',
    );
    const host = chooseHost(values.host, process.env.TUNESMITH_HOST || undefined, io);
    const port = parsePort(values.port ?? (process.env.TUNESMITH_PORT || undefined), DEFAULT_PORT);
    const homeDir = resolveHome(values.home);

    const services = openCoreServices(homeDir);
    const bus = new EventBus();
    const staticDir = join(packageRoot(), 'out', 'renderer');
    if (!existsSync(join(staticDir, 'index.html'))) {
      io.err(
        'Warning: the user interface is not built (out/renderer); only the API is served. Run `npm run build`.',
      );
    }
    let server: Awaited<ReturnType<typeof startHttpServer>>;
    try {
      server = await startHttpServer({
        handlers: createHandlers({ services, bus }),
        bus,
        host,
        port,
        staticDir,
      });
    } catch (err) {
      services.close();
      throw err;
    }
    io.out(`Tunesmith is serving ${homeDir}`);
    io.out(`Open: ${server.openUrl}`);
    for (const run of services.runs.interruptedAtStart) {
      io.err(
        `Run ${run.id} (${run.name}) was interrupted; resume it from the app or \`tunesmith runs resume ${run.id}\`.`,
      );
    }
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    io.out('Stopping…');
    await server.close();
    services.close();
    return 0;
  },
};

/**
 * 127.0.0.1 unless the person asked for something else on the command line. A non-loopback
 * address from the environment alone is refused: exposing the app must be a visible choice.
 */
export function chooseHost(flag: string | undefined, fromEnv: string | undefined, io: CliIo): string {
  const host = flag ?? fromEnv ?? '127.0.0.1';
  if (isLoopback(host)) return host;
  if (flag === undefined) {
    throw new UsageError(
      `TUNESMITH_HOST asks to listen on ${host}, which other machines can reach. ` +
        'Pass --host explicitly if that is what you want.',
    );
  }
  io.err(
    `Warning: listening on ${host} makes Tunesmith reachable from other machines. ` +
      'Anyone with the URL and its token can use this app and its files. Prefer an SSH tunnel to 127.0.0.1.',
  );
  return host;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}
