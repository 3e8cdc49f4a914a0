// The renderer shell in a real browser against a real `tunesmith serve`.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '../helpers/chromium.js';
import { REPO_ROOT, type ServeProcess, startServe, tempDir } from '../helpers/cli.js';

const screenshots = join(REPO_ROOT, 'test-results');

describe.skipIf(!hasChromium)('renderer shell in Chromium', () => {
  let browser: Browser;
  let serve: ServeProcess;
  const home = tempDir();

  beforeAll(async () => {
    mkdirSync(screenshots, { recursive: true });
    [browser, serve] = await Promise.all([launchChromium(), startServe(['--home', home])]);
  });

  afterAll(async () => {
    await browser?.close();
    await serve?.stop();
  });

  it('shows the doctor information: backend, GPU state, home folder', async () => {
    const page = await browser.newPage();
    await page.goto(serve.openUrl);
    const status = page.getByTestId('system-status');
    await status.waitFor({ timeout: 20_000 });
    expect(await page.getByTestId('backends').textContent()).toMatch(/backends: cpu/);
    expect(await page.getByTestId('home').textContent()).toContain(home);
    expect(await page.getByTestId('gpu').textContent()).toMatch(
      /No NVIDIA GPU found — training will use the CPU/,
    );
    // The token leaves the address bar once read.
    expect(page.url()).not.toContain('token=');
    await page.screenshot({ path: join(screenshots, 'shell-connected.png'), fullPage: true });
    // A reload keeps working (the token is kept for this tab).
    await page.reload();
    await page.getByTestId('system-status').waitFor({ timeout: 20_000 });
    await page.close();
  });

  it('explains what to do when opened without the token', async () => {
    const page = await browser.newPage();
    await page.goto(serve.baseUrl);
    const banner = page.getByTestId('connection-banner');
    await banner.waitFor({ timeout: 20_000 });
    expect(await banner.textContent()).toMatch(/no valid access token/);
    expect(await page.getByTestId('system-status').count()).toBe(0);
    await page.close();
  });

  it('says "not connected" when the server goes away', async () => {
    const page = await browser.newPage();
    await page.goto(serve.openUrl);
    await page.getByTestId('system-status').waitFor({ timeout: 20_000 });
    await serve.stop();
    const banner = page.getByTestId('connection-banner');
    await banner.waitFor({ timeout: 20_000 });
    expect(await banner.textContent()).toMatch(/Not connected to Tunesmith/);
    await page.screenshot({ path: join(screenshots, 'shell-disconnected.png'), fullPage: true });

    // Started again on the same port, the server has a new token: the page says to open the new URL.
    const port = new URL(serve.baseUrl).port;
    serve = await startServe(['--home', home, '--port', port]);
    await page.getByText('no valid access token').waitFor({ timeout: 30_000 });
    await page.close();
  });
});
