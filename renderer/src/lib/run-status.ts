// A run's state in plain words, with the tone it is shown in, and how long it has trained. One list
// for every screen (the badge, the run table and its filter, Home, the Train step).
import type { RunSummary } from '../../../main/api/contract';

export type Tone = 'active' | 'ok' | 'warn' | 'danger' | 'muted';

/** A trainer that died leaves its run paused with error code `interrupted` (see main/core/runs/service.ts). */
export function isInterrupted(run: RunSummary): boolean {
  return run.status === 'paused' && run.error?.code === 'interrupted';
}

/** The status filter's choices: the stored statuses plus `interrupted`, which is a kind of pause. */
export type StatusFilter = RunSummary['status'] | 'interrupted' | 'all';

export const STATUS_WORDS: Record<Exclude<StatusFilter, 'all'>, { label: string; tone: Tone }> = {
  created: { label: 'Not started', tone: 'muted' },
  queued: { label: 'Waiting to start', tone: 'muted' },
  running: { label: 'Training', tone: 'active' },
  paused: { label: 'Paused', tone: 'warn' },
  interrupted: { label: 'Stopped unexpectedly', tone: 'danger' },
  completed: { label: 'Finished', tone: 'ok' },
  failed: { label: 'Failed', tone: 'danger' },
  cancelled: { label: 'Cancelled', tone: 'muted' },
};

export function statusKey(run: RunSummary): Exclude<StatusFilter, 'all'> {
  return isInterrupted(run) ? 'interrupted' : run.status;
}

export function statusWords(run: RunSummary): { label: string; tone: Tone } {
  return STATUS_WORDS[statusKey(run)];
}

/** Seconds the run has trained (so far, for a running one). */
export function runSeconds(run: RunSummary, now = Date.now()): number | null {
  if (run.startedAt === null) return null;
  const end = run.finishedAt ?? (run.status === 'running' ? now : null);
  return end === null ? null : Math.max(0, (end - run.startedAt) / 1000);
}
