// `tunesmith` as a person runs it: help, doctor, serve, and the bad-input paths.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, startServe, tempDir } from '../helpers/cli.js';

function nvccOnPath(): boolean {
  try {
    execFileSync('nvcc', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('tunesmith --help', () => {
  it('lists the commands and exits 0', () => {
    const { status, stdout } = runCli(['--help']);
    expect(status).toBe(0);
    expect(stdout).toMatch(/doctor/);
    expect(stdout).toMatch(/serve/);
  });

  it('rejects an unknown command with exit code 2 and the help', () => {
    const { status, stderr } = runCli(['trian']);
    expect(status).toBe(2);
    expect(stderr).toMatch(/Unknown command "trian"/);
  });

  it('rejects an unknown option with a pointer to --help', () => {
    const { status, stderr } = runCli(['doctor', '--jsn']);
    expect(status).toBe(2);
    expect(stderr).toMatch(/tunesmith doctor --help/);
  });
});

describe('tunesmith doctor', () => {
  it('prints valid JSON with the CPU backend and the CUDA build state', () => {
    const home = tempDir();
    const { status, stdout } = runCli(['doctor', '--json', '--home', home]);
    expect(status).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.engine.backends).toContain('cpu');
    expect(report.engine.cudaCompiled).toBe(nvccOnPath() && process.env.TUNESMITH_CUDA !== 'OFF');
    expect(report.home.path).toBe(home);
    expect(report.app.node).toBe(process.versions.node);
    expect(report.ok).toBe(true);
  });

  it('takes the home folder from TUNESMITH_HOME, and --home wins over it', () => {
    const fromEnv = tempDir();
    const fromFlag = tempDir();
    expect(JSON.parse(runCli(['doctor', '--json'], { TUNESMITH_HOME: fromEnv }).stdout).home.path).toBe(
      fromEnv,
    );
    expect(
      JSON.parse(runCli(['doctor', '--json', '--home', fromFlag], { TUNESMITH_HOME: fromEnv }).stdout).home
        .path,
    ).toBe(fromFlag);
  });

  it('prints a readable report', () => {
    const { status, stdout } = runCli(['doctor', '--home', tempDir()]);
    expect(status).toBe(0);
    expect(stdout).toMatch(/backends: cpu/);
    expect(stdout).toMatch(/Ready\./);
  });

  it('says so, with exit code 1, when the home folder is a file', () => {
    const file = join(tempDir(), 'not-a-folder');
    writeFileSync(file, 'hello');
    const { status, stdout } = runCli(['doctor', '--home', file]);
    expect(status).toBe(1);
    expect(stdout).toMatch(/not a folder|is a file/i);
    expect(readFileSync(file, 'utf8')).toBe('hello');
  });

  it('reports a corrupt database without touching it', () => {
    const home = tempDir();
    const db = join(home, 'tunesmith.db');
    const garbage = Buffer.from('this is not an SQLite database, just some bytes '.repeat(200));
    writeFileSync(db, garbage);
    const { status, stdout } = runCli(['doctor', '--json', '--home', home]);
    expect(status).toBe(1);
    const report = JSON.parse(stdout);
    expect(report.database.ok).toBe(false);
    expect(report.database.error.code).toBe('corrupt');
    expect(readFileSync(db).equals(garbage)).toBe(true);
  });
});

describe('tunesmith serve', () => {
  it('prints a URL with its token; requests without it get 401; SIGTERM stops it cleanly', async () => {
    const home = tempDir();
    const serve = await startServe(['--home', home]);
    try {
      expect(serve.openUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=/);
      const denied = await fetch(`${serve.baseUrl}/api/system.doctor`, { method: 'POST', body: '{}' });
      expect(denied.status).toBe(401);
      const allowed = await fetch(`${serve.baseUrl}/api/system.doctor`, {
        method: 'POST',
        headers: { Authorization: `Bearer ${serve.token}` },
        body: '{}',
      });
      expect(allowed.status).toBe(200);
      expect((await allowed.json()).value.home.path).toBe(home);
      const page = await fetch(serve.baseUrl);
      expect(page.status).toBe(200);
      expect(await page.text()).toMatch(/<div id="app">/);
    } finally {
      expect(await serve.stop()).toBe(0);
    }
  });

  it('uses a new token on every start', async () => {
    const home = tempDir();
    const first = await startServe(['--home', home]);
    await first.stop();
    const second = await startServe(['--home', home]);
    await second.stop();
    expect(first.token).not.toBe(second.token);
  });

  it('refuses a non-loopback host that only comes from the environment', () => {
    const { status, stderr } = runCli(['serve', '--port', '0', '--home', tempDir()], {
      TUNESMITH_HOST: '0.0.0.0',
    });
    expect(status).toBe(2);
    expect(stderr).toMatch(/Pass --host explicitly/);
  });

  it('binds a non-loopback host given with --host, with a warning', async () => {
    const serve = await startServe(['--host', '0.0.0.0', '--home', tempDir()]);
    try {
      expect(serve.output()).toMatch(/Warning: listening on 0\.0\.0\.0/);
    } finally {
      await serve.stop();
    }
  });

  it('refuses to start on a corrupt database, and leaves the file as it was', () => {
    const home = tempDir();
    const db = join(home, 'tunesmith.db');
    writeFileSync(db, Buffer.alloc(8192, 7));
    const { status, stderr } = runCli(['serve', '--port', '0', '--home', home]);
    expect(status).toBe(1);
    expect(stderr).toMatch(/tunesmith\.db/);
    expect(readFileSync(db).equals(Buffer.alloc(8192, 7))).toBe(true);
  });

  it('rejects a port that is not a number', () => {
    const { status, stderr } = runCli(['serve', '--port', 'eighty', '--home', tempDir()]);
    expect(status).toBe(2);
    expect(stderr).toMatch(/--port must be a whole number/);
  });
});
