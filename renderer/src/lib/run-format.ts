// How runs read on screen: plain status words, numbers, sizes, times. Shared by the run pages.
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

export function formatDuration(seconds: number | null): string {
  if (seconds === null || !Number.isFinite(seconds)) return '—';
  const s = Math.round(seconds);
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min ${s % 60} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}

export function formatDate(ms: number | null): string {
  if (ms === null) return '—';
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** Losses and other measurements: four significant digits, small numbers in e-notation. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(2);
  return Number(value.toPrecision(4)).toString();
}

export function formatPercent(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return '—';
  return `${Math.round(share * 100)}%`;
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) return '—';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** The last path segment, for long folders shown in full elsewhere. */
export function baseName(path: string): string {
  return (
    path
      .replace(/[\\/]+$/, '')
      .split(/[\\/]/)
      .pop() ?? path
  );
}
