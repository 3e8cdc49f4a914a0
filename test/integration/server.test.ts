// The HTTP + WebSocket transport over real sockets: token checks, commands, errors as data, events.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { DoctorReport } from '../../main/api/contract.js';
import { EventBus } from '../../main/api/events.js';
import { createHandlers } from '../../main/api/handlers.js';
import { type RunningServer, startHttpServer } from '../../main/api/http-server.js';
import { type CoreServices, openCoreServices } from '../../main/core/services.js';
import { tempDir } from '../helpers/cli.js';

let services: CoreServices;
let server: RunningServer;
const bus = new EventBus();
const staticDir = join(tempDir('tunesmith-static-'), 'renderer');

beforeAll(async () => {
  services = openCoreServices(tempDir());
  mkdirSync(staticDir);
  writeFileSync(join(staticDir, 'index.html'), '<!doctype html><title>Tunesmith test page</title>');
  mkdirSync(join(staticDir, 'assets'));
  writeFileSync(join(staticDir, 'assets', 'app.js'), 'console.log(1)');
  server = await startHttpServer({
    handlers: createHandlers({ services, bus }),
    bus,
    host: '127.0.0.1',
    port: 0,
    staticDir,
  });
});

afterAll(async () => {
  await server.close();
  services.close();
});

function post(name: string, body: unknown, token: string | null = server.token) {
  return fetch(`${server.url}api/${name}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

describe('HTTP transport', () => {
  it('prints a loopback URL that carries a long random token', () => {
    expect(server.openUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{32}$/);
  });

  it('refuses commands without the token, or with a wrong one, with 401', async () => {
    const none = await post('system.doctor', {}, null);
    expect(none.status).toBe(401);
    expect((await none.json()).error.code).toBe('unauthorized');
    const wrong = await post('system.doctor', {}, `${server.token.slice(0, -1)}x`);
    expect(wrong.status).toBe(401);
    const short = await post('system.doctor', {}, 'x');
    expect(short.status).toBe(401);
  });

  it('answers system.doctor with the CPU backend and the home folder', async () => {
    const response = await post('system.doctor', {});
    expect(response.status).toBe(200);
    const body = (await response.json()) as { ok: true; value: DoctorReport };
    expect(body.ok).toBe(true);
    expect(body.value.engine.backends).toContain('cpu');
    expect(body.value.home.path).toBe(services.homeDir);
    expect(body.value.database.ok).toBe(true);
    expect(body.value.database.schemaVersion).toBe(body.value.database.latestVersion);
  });

  it('accepts the token as a query parameter too', async () => {
    const response = await fetch(`${server.url}api/runs.list?token=${server.token}`, {
      method: 'POST',
      body: '{}',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, value: [] });
  });

  it('returns invalid input, unknown commands and bad JSON as errors with a message', async () => {
    const invalid = await post('runs.list', { limit: -3 });
    expect(invalid.status).toBe(400);
    const invalidBody = await invalid.json();
    expect(invalidBody.error.code).toBe('invalid-input');
    expect(invalidBody.error.message).toMatch(/limit/);
    const unknown = await post('runs.explode', {});
    expect(unknown.status).toBe(404);
    expect((await unknown.json()).error.code).toBe('unknown-command');
    const badJson = await fetch(`${server.url}api/runs.list`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${server.token}` },
      body: '{"limit": ',
    });
    expect(badJson.status).toBe(400);
    expect((await badJson.json()).error.message).toMatch(/not valid JSON/);
    const get = await fetch(`${server.url}api/runs.list`, {
      headers: { Authorization: `Bearer ${server.token}` },
    });
    expect(get.status).toBe(405);
  });

  it('serves the renderer without a token, and nothing outside its folder', async () => {
    const index = await fetch(server.url);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('Tunesmith test page');
    const asset = await fetch(`${server.url}assets/app.js`);
    expect(asset.headers.get('content-type')).toMatch(/javascript/);
    const spaRoute = await fetch(`${server.url}runs/12`);
    expect(await spaRoute.text()).toContain('Tunesmith test page');
    // A file beside the renderer folder, reached by an encoded `../`, is never served.
    writeFileSync(join(staticDir, '..', 'secret.txt'), 'top secret');
    const traversal = await fetch(`${server.url}..%2fsecret.txt`);
    expect(traversal.status).toBe(404);
    expect(await traversal.text()).not.toContain('top secret');
    const passwd = await fetch(`${server.url}..%2f..%2f..%2fetc%2fpasswd`);
    expect(await passwd.text()).not.toContain('root:');
    const missing = await fetch(`${server.url}assets/nope.js`);
    expect(missing.status).toBe(404);
  });
});

describe('WebSocket events', () => {
  it('rejects a socket without the token', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}api/events`);
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => resolve(-1));
    });
    expect(status).toBe(401);
  });

  it('pushes bus events to connected clients', async () => {
    const ws = new WebSocket(`${server.url.replace('http', 'ws')}api/events?token=${server.token}`);
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    const received = new Promise<unknown>((resolve) =>
      ws.once('message', (data) => resolve(JSON.parse(String(data)))),
    );
    bus.emit('system.log', { level: 'info', message: 'hello from main', at: 1 });
    expect(await received).toEqual({
      event: 'system.log',
      payload: { level: 'info', message: 'hello from main', at: 1 },
    });
    ws.close();
  });
});
