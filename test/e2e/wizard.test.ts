// The whole wizard in a real browser against a real `tunesmith serve`, walked as someone would who
// has never trained a model: the demo model, the sample CSV with one example missing its reply
// (fixed in the editor), a quick training run on the CPU, a chat with the result, an Ollama export
// checked in llama.cpp, and the run and export in the history. Then what goes wrong: a file that
// cannot be read, and a run cancelled halfway. Every screen is saved in test-results/wizard/, in
// order, so the steps can be followed without running anything.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasChromium, launchChromium } from '../helpers/chromium.js';
import { REPO_ROOT, type ServeProcess, startServe, tempDir } from '../helpers/cli.js';
import { serveCall } from '../helpers/serve-api.js';

const SHOTS = join(REPO_ROOT, 'test-results', 'wizard');
const DATA = join(REPO_ROOT, 'test/fixtures/data');
const VIEWPORT = { width: 1280, height: 800 };
/** The reply typed into the example that had none. */
const FIXED_REPLY = 'Machine learning lets a computer learn patterns from examples instead of fixed rules.';
/**
 * A run of a few seconds on the tiny model: 8 steps, a check and a checkpoint every 4, learning fast
 * enough for the loss to move (as `tunesmith demo` does).
 */
const QUICK_RUN: Record<string, string> = {
  maxSteps: '8',
  lr: '1e-2',
  warmupSteps: '1',
  evalEvery: '4',
  checkpointEvery: '4',
  samples: '2',
  sampleMaxNewTokens: '16',
  maxLen: '128',
};

describe.skipIf(!hasChromium)('the fine-tune wizard in Chromium, as a first-time user walks it', () => {
  let browser: Browser;
  let serve: ServeProcess;
  let page: Page;
  const home = tempDir('tunesmith-wizard-');
  /** What the walk made, for the later steps. */
  let runId = 0;

  const shot = (name: string, target: Page = page) =>
    target.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });
  const text = async (locator: Locator) => ((await locator.textContent()) ?? '').replace(/\s+/g, ' ').trim();

  /** A fresh tab (its own saved wizard state) opened on the server's URL. */
  async function openApp(): Promise<Page> {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const tab = await context.newPage();
    await tab.goto(serve.openUrl);
    await tab.getByTestId('page-Home').waitFor();
    return tab;
  }

  /** Home → New fine-tune → the demo model → Data step. */
  async function toDataStep(tab: Page): Promise<void> {
    await tab.getByTestId('new-finetune').click();
    await tab.getByTestId('page-ModelStep').waitFor();
    await tab.getByTestId('demo-model-button').click();
    await tab.getByTestId('model-fit').waitFor();
    await tab.getByTestId('model-continue').click();
    await tab.getByTestId('page-DataStep').waitFor();
  }

  /** The Advanced settings fields for a run, as a person types them, and the CPU. */
  async function typeSettings(tab: Page, settings: Record<string, string>): Promise<void> {
    await tab.getByTestId('advanced-toggle').click();
    await tab.getByTestId('setting-backend').selectOption('cpu');
    for (const [key, value] of Object.entries(settings)) {
      await tab.getByTestId(`setting-${key}`).fill(value);
    }
  }

  /** The step numbers the Train step shows, read until `done` holds; every distinct "N of M" seen. */
  async function watchSteps(tab: Page, done: () => Promise<boolean>, timeoutMs: number): Promise<number[]> {
    const seen: number[] = [];
    const end = Date.now() + timeoutMs;
    while (!(await done())) {
      if (Date.now() > end) throw new Error(`gave up after ${timeoutMs} ms; steps seen: ${seen.join(', ')}`);
      const match = /^(\d+) of (\d+)$/.exec(await text(tab.getByTestId('run-step')));
      const step = Number(match?.[1] ?? -1);
      if (match && seen.at(-1) !== step) seen.push(step);
      await tab.waitForTimeout(50);
    }
    return seen;
  }

  beforeAll(async () => {
    rmSync(SHOTS, { recursive: true, force: true });
    mkdirSync(SHOTS, { recursive: true });
    [browser, serve] = await Promise.all([launchChromium(), startServe(['--home', home])]);
    page = await browser.newPage({ viewport: VIEWPORT });
    page.setDefaultTimeout(30_000);
  });

  afterAll(async () => {
    await browser?.close();
    const code = await serve?.stop();
    if (code !== 0 && code !== null) console.warn(`serve exited with ${code}:\n${serve.output()}`);
    rmSync(home, { recursive: true, force: true });
  });

  it('1. Home → New fine-tune → the built-in demo model, with whether it fits this computer', async () => {
    await page.goto(serve.openUrl);
    await page.getByTestId('page-Home').waitFor();
    expect(await text(page.locator('h1'))).toBe('Teach a model with your own examples');
    await shot('01-home');

    await page.getByTestId('new-finetune').click();
    await page.getByTestId('page-ModelStep').waitFor();
    expect(await page.getByTestId('model-continue').isDisabled()).toBe(true);
    await page.getByTestId('demo-model-button').click();
    const fit = page.getByTestId('model-fit');
    await fit.waitFor();
    expect(await text(fit)).toMatch(/^Yes\. /);
    expect(await text(page.getByTestId('model-details'))).toMatch(/random weights/);
    expect(await page.getByTestId('model-continue').isEnabled()).toBe(true);
    await shot('02-model-demo-chosen');
    await page.getByTestId('model-continue').click();
    await page.getByTestId('page-DataStep').waitFor();
  });

  it('2. Data: the sample CSV is read, its empty reply stops training until it is fixed in the editor', async () => {
    await page.getByTestId('file-input').setInputFiles(join(DATA, 'wizard-sample.csv'));
    const imported = page.getByTestId('import-result');
    await imported.waitFor();
    expect(await text(imported)).toMatch(/wizard-sample.*version 1 · 20 examples/);

    // How the file was read: the format and which column is which, with the reason.
    expect(await text(page.getByTestId('detected-format'))).toMatch(/^CSV \(comma-separated spreadsheet\)\./);
    expect(await text(page.getByTestId('mapping-reason'))).not.toBe('');
    expect(await page.getByTestId('map-user').inputValue()).toBe('question');
    expect(await page.getByTestId('map-assistant').inputValue()).toBe('chosen');
    expect(await page.getByTestId('map-system').inputValue()).toBe('system');

    // Example 4 has no reply: the report says it stops training, and Continue says why it waits.
    expect(await text(page.getByTestId('blocking-note'))).toMatch(
      /^1 example has a problem that stops training\./,
    );
    expect(await text(page.getByTestId('report-rule-empty-reply'))).toMatch(
      /Empty reply\s*1\s*Stops training/,
    );
    const proceed = page.getByTestId('data-continue');
    expect(await proceed.isDisabled()).toBe(true);
    expect(await text(page.getByTestId('data-continue-reason'))).toMatch(
      /1 example has a problem that stops training\. Tick “Only rows with issues”/,
    );
    await page.getByTestId('length-histogram').getByTestId('lengths-summary').waitFor();
    await shot('03-data-imported-one-blocking-problem');

    // Only the rows with issues, then the reply typed into example 4.
    await page.getByTestId('report-show-issues').click();
    expect(await page.getByTestId('editor-only-issues').isChecked()).toBe(true);
    const row = page.getByTestId('editor-row-3');
    await row.waitFor();
    await page.getByTestId('editor-row-0').waitFor({ state: 'detached' });
    expect(await text(page.getByTestId('editor-count'))).toBe('1 matching of 20');
    await row.getByRole('button', { name: 'Preview example 4' }).click();
    expect(await text(page.getByTestId('preview-issues'))).not.toBe('');
    await shot('04-data-only-the-row-with-the-problem');

    await row.getByLabel('Example 4, reply').fill(FIXED_REPLY);
    expect(await text(page.getByTestId('editor-pending'))).toBe('1 change not saved yet.');
    expect(await text(page.getByTestId('data-continue-reason'))).toBe(
      'Save your changes (or discard them) first.',
    );
    await shot('05-data-reply-typed-not-saved-yet');

    await page.getByTestId('editor-save').click();
    expect(await text(page.getByTestId('editor-saved'))).toBe(
      'Saved as version 2. The earlier version is kept.',
    );
    expect(await text(imported)).toMatch(/version 2 · 20 examples/);
    await page.getByTestId('blocking-note').waitFor({ state: 'detached' });
    expect(await text(page.getByTestId('validation-report'))).toMatch(
      /All 20 examples look right\.|Nothing stops training\./,
    );
    await expect.poll(() => proceed.isEnabled(), { timeout: 10_000 }).toBe(true);
    expect(await page.getByTestId('data-continue-reason').count()).toBe(0);

    // The fixed example as the model will see it: the new reply is what it learns, then the end token.
    const preview = page.getByTestId('preview');
    await expect
      .poll(() => text(preview.locator('h3')), { timeout: 10_000 })
      .toBe('Example 4 as the model sees it');
    await expect
      .poll(async () => (await preview.getByTestId('preview-trained').allTextContents()).join(''), {
        timeout: 20_000,
      })
      .toContain(FIXED_REPLY);
    const endToken = await text(preview.getByTestId('preview-end-token').locator('code'));
    expect(endToken).not.toBe('');
    expect(await text(preview.getByTestId('preview-text'))).toContain(endToken);
    expect(await preview.getByTestId('preview-issues').count()).toBe(0);
    // How long the examples are, against the max length.
    expect(await text(page.getByTestId('lengths-summary'))).toMatch(
      /^Half of the examples are under \d+ tokens, 95% under \d+; the longest has \d+\.$/,
    );
    expect(await page.getByTestId('length-histogram').locator('svg, canvas').count()).toBeGreaterThan(0);
    await shot('06-data-fixed-ready-to-continue');
    await proceed.click();
    await page.getByTestId('page-SettingsStep').waitFor();
  });

  it('3. Settings: the quick preset, a few steps in Advanced, the estimate, Start', async () => {
    await page.getByTestId('preset-quick').locator('input').check();
    await typeSettings(page, QUICK_RUN);
    const steps = page.getByTestId('plan-steps');
    await expect.poll(() => text(steps), { timeout: 20_000 }).toMatch(/^8 steps, /);
    expect(await text(page.getByTestId('plan-estimate'))).toMatch(/tokens at about .* tokens a second/);
    expect(await text(steps)).toMatch(/Progress is checked on \d+ examples it does not train on\./);
    expect(await text(page.getByTestId('plan-memory'))).toMatch(/^Needs about .* of memory; .* is free\./);
    await shot('07-settings-quick-preset-few-steps');

    const start = page.getByTestId('start-training');
    await expect.poll(() => start.isEnabled(), { timeout: 20_000 }).toBe(true);
    await start.click();
    await page.getByTestId('page-TrainStep').waitFor();
  });

  it('4. Train: the step count, the loss chart and the sample replies update until it finishes', async () => {
    const chart = page.getByTestId('loss-chart').locator('canvas').first();
    const picture = () => chart.evaluate((canvas: HTMLCanvasElement) => canvas.toDataURL());
    await chart.waitFor();
    const emptyChart = await picture();
    const status = page.getByTestId('run-status');

    // Halfway (two steps or more, so the chart has a line): a screenshot, and the chart as it was then.
    let midChart: string | null = null;
    const steps = await watchSteps(
      page,
      async () => {
        const now = await text(status);
        if (
          now === 'Training' &&
          midChart === null &&
          /^[2-7] of 8$/.test(await text(page.getByTestId('run-step')))
        ) {
          await expect.poll(picture, { timeout: 5_000 }).not.toBe(emptyChart);
          midChart = await picture();
          await shot('08-train-running');
        }
        return now === 'Finished';
      },
      90_000,
    );
    // The count moved up while training, not only from nothing to done, and the chart with it.
    expect(steps.length, `steps seen: ${steps}`).toBeGreaterThanOrEqual(3);
    expect(steps).toEqual([...steps].sort((a, b) => a - b));
    expect(steps.at(-1)).toBe(8);
    expect(midChart).not.toBeNull();
    await expect.poll(picture, { timeout: 5_000 }).not.toBe(midChart);
    expect(await text(page.getByTestId('run-step'))).toBe('8 of 8');
    expect(await text(page.getByTestId('run-loss'))).toMatch(/^\d/);
    expect(await text(page.getByTestId('run-eval-loss'))).toMatch(/^\d/);

    // Samples at each check, with the share of replies that ended by themselves.
    const samples = page.getByTestId('samples');
    await samples.getByTestId('samples-step-8').waitFor();
    expect(await samples.getByTestId('samples-step-4').count()).toBe(1);
    expect(await text(samples.getByTestId('sample-stop-rate').first())).toMatch(
      /^stop rate \d+(\.\d+)?\s?%$/,
    );
    expect(await text(page.getByTestId('next-steps'))).toMatch(/^Training finished\./);
    const runs = await serveCall(serve, 'runs.list', { limit: 10 });
    expect(runs.map((r) => r.status)).toEqual(['completed']);
    runId = runs[0]!.id;
    await shot('09-train-finished');
    await page.getByTestId('next-try').click();
    await page.getByTestId('page-TryStep').waitFor();
  });

  it('5. Try it: a reply streams in and says how it ended; then next to the base model', async () => {
    // The streamed pieces, as the page receives them.
    const streamed: string[] = [];
    page.on('websocket', (socket) =>
      socket.on('framereceived', ({ payload }) => {
        const message = JSON.parse(String(payload)) as { event: string; payload: { text: string } };
        if (message.event === 'chat.token') streamed.push(message.payload.text);
      }),
    );
    // The socket is already open: reload so its frames are seen (the wizard resumes where it was).
    await page.reload();
    await page.getByTestId('page-TryStep').waitFor();

    await page.locator('summary', { hasText: 'Reply settings' }).click();
    await page.getByTestId('chat-max-tokens').fill('24');
    await page.getByTestId('chat-input').fill('What is the capital of France?');
    await page.getByTestId('chat-input').press('Enter');
    const ending = page.getByTestId('chat-ending-tuned');
    await ending.waitFor({ timeout: 60_000 });
    const reply = await page.getByTestId('chat-reply').textContent();
    expect(reply?.trim()).not.toBe('');
    expect(streamed.length).toBeGreaterThan(1);
    expect(streamed.join('')).toBe(reply);
    expect(await text(ending)).toMatch(
      /^(Ended by itself|Stopped at the length limit) · \d+ tokens at .*\/s · run \d+, checkpoint at step \d+/,
    );
    await shot('10-try-a-reply');

    await page.getByTestId('chat-side-by-side').check();
    await page.getByTestId('chat-input').fill('Write a haiku about autumn.');
    await page.getByTestId('chat-send').click();
    await page.getByTestId('chat-ending-base').waitFor({ timeout: 60_000 });
    await expect.poll(() => page.getByTestId('chat-ending-tuned').count(), { timeout: 60_000 }).toBe(2);
    expect(await text(page.getByTestId('chat-ending-base'))).toMatch(
      / · base model of run \d+ \(without its training\)$/,
    );
    expect(await text(page.getByTestId('chat-transcript-base'))).toMatch(/Write a haiku about autumn\./);
    // The newest reply is in view in the scrolling conversation, not below its fold.
    const conversation = await page.getByTestId('chat-conversation').boundingBox();
    const newest = await page.getByTestId('chat-ending-tuned').last().boundingBox();
    expect(newest!.y + newest!.height).toBeLessThanOrEqual(conversation!.y + conversation!.height + 1);
    await shot('11-try-side-by-side-with-the-base-model');
  });

  it('6. Export: Ollama, checked in llama.cpp, with the command to run and the files on disk', async () => {
    await page.getByTestId('page-TryStep').getByRole('link', { name: 'Happy with it? Export' }).click();
    await page.getByTestId('page-ExportStep').waitFor();
    expect(await page.getByTestId('export-format-ollama').locator('input').isChecked()).toBe(true);
    expect(await page.getByTestId('export-verify').isChecked()).toBe(true);
    await page.getByTestId('export-start').click();
    await page.getByTestId('export-progress').waitFor();
    const verification = page.getByTestId('export-verification');
    await verification.waitFor({ timeout: 150_000 });
    expect(await text(verification)).toMatch(/^✓ Verified in llama\.cpp/);
    expect(await page.getByTestId('export-error').count()).toBe(0);
    const command = await text(page.getByTestId('ollama-command'));
    expect(command).toMatch(/^ollama create \S+ -f Modelfile$/);

    // The browser cannot open folders on the server's computer: it shows where the files are.
    await page.getByTestId('open-folder').click();
    const folder = await text(page.getByTestId('export-path'));
    expect(folder.startsWith(home)).toBe(true);
    expect(existsSync(join(folder, 'Modelfile'))).toBe(true);
    await shot('12-export-verified-for-ollama');
  }, 240_000);

  it('7. Runs: the run is listed as finished, with its checkpoints, and the export with its lineage', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Runs' }).click();
    const row = page.getByTestId(`run-row-${runId}`);
    await row.waitFor();
    expect(await text(row.getByTestId('run-status'))).toBe('Finished');
    await shot('13-runs-history');

    await row.getByRole('link').click();
    await page.getByTestId('run-page').getByTestId('run-summary').waitFor();
    const checkpoints = page.getByTestId('run-checkpoints').locator('tbody tr');
    expect(await checkpoints.count()).toBe(2);
    expect(await text(checkpoints.first())).toMatch(/^4\b/);
    expect(await text(page.getByTestId('run-exports'))).toMatch(/Export #\d+/);
    await shot('14-run-page-checkpoints');

    await page
      .getByTestId('run-exports')
      .getByRole('link', { name: /Export #\d+/ })
      .click();
    const lineage = page.getByTestId('lineage');
    await lineage.waitFor();
    expect(await text(lineage.getByTestId('lineage-dataset'))).toMatch(/wizard-sample.*, version 2/);
    expect(await text(lineage.getByTestId('lineage-run'))).toContain(`run #${runId}, completed`);
    expect(await text(lineage.getByTestId('lineage-checkpoint'))).toMatch(/^Checkpoint step 8\b/);
    expect(await text(lineage.getByTestId('lineage-files'))).toContain('Modelfile');
    await shot('15-export-lineage');
  });

  it('a file that cannot be read says what is wrong and what to do, and imports nothing', async () => {
    const before = await serveCall(serve, 'datasets.list', { limit: 1000 });
    const tab = await openApp();
    await toDataStep(tab);
    await tab.getByTestId('file-input').setInputFiles(join(DATA, 'broken.jsonl'));
    const error = tab.getByTestId('data-error');
    await error.waitFor();
    const shown = await text(error);
    expect(shown).toMatch(/^Tunesmith could not use these examples/);
    expect(shown).toMatch(/line 2/i);
    expect(shown).toMatch(/What to do: /);
    expect(await tab.getByTestId('import-result').count()).toBe(0);
    expect(await tab.getByTestId('data-continue').isDisabled()).toBe(true);
    expect(await text(tab.getByTestId('data-continue-reason'))).toBe('Import your examples first.');
    // The file chooser is still there to try again.
    expect(await tab.getByTestId('file-input').isEnabled()).toBe(true);
    await shot('16-problem-a-file-that-cannot-be-read', tab);
    expect(await serveCall(serve, 'datasets.list', { limit: 1000 })).toEqual(before);
    await tab.context().close();
  });

  it('a run cancelled halfway says "Cancelled" in plain words', async () => {
    const tab = await openApp();
    await toDataStep(tab);
    // The examples fixed before, from the list of earlier imports.
    const earlier = tab.getByTestId('data-previous').locator('option', { hasText: 'wizard-sample' });
    expect(await text(earlier)).toMatch(/\(version 2, 20 examples\)$/);
    await tab.getByTestId('data-previous').selectOption((await earlier.getAttribute('value')) ?? '');
    await tab.getByRole('button', { name: 'Use it' }).click();
    await tab.getByTestId('import-result').waitFor();
    await tab.getByTestId('data-continue').click();
    await tab.getByTestId('page-SettingsStep').waitFor();
    await typeSettings(tab, { ...QUICK_RUN, maxSteps: '400', evalEvery: '200', checkpointEvery: '200' });
    await expect.poll(() => text(tab.getByTestId('plan-steps')), { timeout: 20_000 }).toMatch(/^400 steps, /);
    await expect.poll(() => tab.getByTestId('start-training').isEnabled(), { timeout: 20_000 }).toBe(true);
    await tab.getByTestId('start-training').click();
    await tab.getByTestId('page-TrainStep').waitFor();

    await expect
      .poll(() => text(tab.getByTestId('run-step')), { timeout: 60_000 })
      .toMatch(/^[1-9]\d* of 400$/);
    await tab.getByTestId('cancel-run').click();
    expect(await text(tab.getByRole('alert').filter({ hasText: 'Stop for good?' }))).toMatch(
      /^Stop for good\? Saved checkpoints stay usable\./,
    );
    await tab.getByTestId('cancel-confirm').click();
    await expect.poll(() => text(tab.getByTestId('run-status')), { timeout: 30_000 }).toBe('Cancelled');
    // Cancelling is not a failure: no error box, no technical words.
    expect(await tab.getByTestId('run-error').count()).toBe(0);
    expect(await tab.getByTestId('action-error').count()).toBe(0);
    expect(await text(tab.getByTestId('page-TrainStep'))).not.toMatch(
      /SIGTERM|exit code|Error:|undefined|null/,
    );
    expect(await tab.getByTestId('pause-run').count()).toBe(0);
    expect(await tab.getByTestId('cancel-run').count()).toBe(0);
    await shot('17-problem-a-run-cancelled', tab);
    await tab.context().close();
  });
});
