// What the app says about runs outside its pages: a dead trainer, interrupted runs at start, and
// how background runs ended.
import { describe, expect, it } from 'vitest';
import type { RunEvent } from '../../../main/core/runs/service.js';
import type { RunRow } from '../../../main/core/store/index.js';
import {
  interruptedAtStartNotice,
  noticeButtons,
  noticeForRunEvent,
  runsToResume,
} from '../../../main/electron/run-notices.js';

function run(id: number, status: RunRow['status'], error: RunRow['error'] = null): RunRow {
  return {
    id,
    name: `Run ${id} · Quick`,
    status,
    error,
    modelId: null,
    datasetVersionId: 1,
    config: {},
    backend: 'cpu',
    device: 'CPU',
    createdAt: 0,
    startedAt: 0,
    finishedAt: null,
  };
}

const status = (r: RunRow): RunEvent => ({ runId: r.id, type: 'status', run: r });
const crashed = run(3, 'paused', {
  code: 'interrupted',
  message: 'The trainer stopped unexpectedly (exit code 139). The last good checkpoint is step 40.',
  hint: 'Run `tunesmith runs resume 3` to continue from step 40.',
});
const shown = { quitting: false, inBackground: false };
const hidden = { quitting: false, inBackground: true };

describe('run notices', () => {
  it('a trainer that died gets a dialog that names the run, says why and offers Resume', () => {
    const notice = noticeForRunEvent(status(crashed), shown)!;
    expect(notice).toMatchObject({ title: 'Training stopped unexpectedly', via: 'dialog', canResume: true });
    expect(notice.body).toContain('“Run 3 · Quick”');
    expect(notice.body).toContain('exit code 139');
    expect(notice.body).toMatch(/Resume continues from its last checkpoint/);
    expect(noticeButtons(notice).buttons).toEqual(['Resume now', 'Not now']);
    expect(runsToResume(notice, 0)).toEqual([3]);
    expect(runsToResume(notice, 1)).toEqual([]);
  });

  it('becomes a notification when the window is hidden, and says nothing while the app quits', () => {
    expect(noticeForRunEvent(status(crashed), hidden)?.via).toBe('notification');
    expect(noticeForRunEvent(status(crashed), { quitting: true, inBackground: false })).toBeUndefined();
  });

  it('leaves ordinary progress and window-visible endings to the run page', () => {
    expect(noticeForRunEvent(status(run(1, 'running')), shown)).toBeUndefined();
    expect(noticeForRunEvent(status(run(1, 'completed')), shown)).toBeUndefined();
    expect(noticeForRunEvent({ runId: 1, type: 'completed', step: 12 }, hidden)).toBeUndefined();
    expect(
      noticeForRunEvent(
        status(run(1, 'failed', { code: 'loss-not-finite', message: 'Training diverged.' })),
        shown,
      ),
    ).toBeUndefined();
  });

  it('tells a hidden window how a run ended: finished, failed with its hint, or paused for a full disk', () => {
    expect(noticeForRunEvent(status(run(1, 'completed')), hidden)).toMatchObject({
      title: 'Training finished',
      canResume: false,
    });
    const failed = noticeForRunEvent(
      status(
        run(2, 'failed', { code: 'out-of-memory', message: 'Out of memory.', hint: 'Use microBatch=1.' }),
      ),
      hidden,
    )!;
    expect(failed.body).toBe('“Run 2 · Quick”: Out of memory. Use microBatch=1.');
    expect(failed.canResume).toBe(false);
    const full = noticeForRunEvent(
      status(run(4, 'paused', { code: 'disk-full', message: 'The disk is full.' })),
      hidden,
    );
    expect(full?.canResume).toBe(true);
  });

  it('reports runs found interrupted at start, naming up to three', () => {
    expect(interruptedAtStartNotice([])).toBeUndefined();
    const one = interruptedAtStartNotice([crashed])!;
    expect(one.title).toBe('A run was interrupted');
    expect(one.body).toMatch(/“Run 3 · Quick”.*its last checkpoint/);
    const many = interruptedAtStartNotice([1, 2, 3, 4, 5].map((id) => run(id, 'paused')))!;
    expect(many.title).toBe('5 runs were interrupted');
    expect(many.body).toContain('“Run 3 · Quick”, and 2 more');
    expect(many.body).not.toContain('Run 4');
    expect(runsToResume(many, 0)).toEqual([1, 2, 3, 4, 5]);
  });
});
