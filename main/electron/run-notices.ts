// What the desktop app tells a person about runs outside the window's pages: a trainer that died
// (a message, never a dead window), runs found interrupted at start, and how a run ended while the
// window was hidden. Pure decisions; main/index.ts shows them as a dialog or a system notification.
import type { RunEvent } from '../core/runs/service.js';
import type { RunRow } from '../core/store/index.js';

export interface RunNotice {
  /** Runs the notice is about; "Resume" resumes these. */
  runIds: number[];
  title: string;
  body: string;
  /** The runs stopped part-way and continue from their last checkpoint: offer "Resume". */
  canResume: boolean;
  /** A dialog over the window when it is visible; a system notification when the app is in the background. */
  via: 'dialog' | 'notification';
}

export interface NoticeContext {
  /** The app is quitting: its own shutdown interrupts runs, which is no news. */
  quitting: boolean;
  /** The window is hidden while runs train in the background. */
  inBackground: boolean;
}

const isInterrupted = (run: RunRow) => run.status === 'paused' && run.error?.code === 'interrupted';

/** The notice for one run event, or undefined when the window's own pages say enough. */
export function noticeForRunEvent(event: RunEvent, context: NoticeContext): RunNotice | undefined {
  if (event.type !== 'status' || context.quitting) return undefined;
  const { run } = event;
  const via = context.inBackground ? 'notification' : 'dialog';
  if (isInterrupted(run)) {
    return {
      runIds: [run.id],
      title: 'Training stopped unexpectedly',
      body: `“${run.name}” stopped: ${run.error?.message ?? 'its trainer process ended.'} Resume continues from its last checkpoint.`,
      canResume: true,
      via,
    };
  }
  // The run's page shows failures and completions; only a hidden window needs telling.
  if (!context.inBackground) return undefined;
  if (run.status === 'failed' || (run.status === 'paused' && run.error)) {
    return {
      runIds: [run.id],
      title: 'Training stopped',
      body: [`“${run.name}”: ${run.error?.message ?? 'the run stopped.'}`, run.error?.hint]
        .filter(Boolean)
        .join(' '),
      canResume: run.status === 'paused',
      via,
    };
  }
  if (run.status === 'completed') {
    return {
      runIds: [run.id],
      title: 'Training finished',
      body: `“${run.name}” has finished training. Open Tunesmith to try it and export it.`,
      canResume: false,
      via,
    };
  }
  return undefined;
}

/** Runs that were training when the app (or the computer) last stopped. */
export function interruptedAtStartNotice(runs: RunRow[]): RunNotice | undefined {
  if (runs.length === 0) return undefined;
  const names = runs.slice(0, 3).map((r) => `“${r.name}”`);
  if (runs.length > 3) names.push(`and ${runs.length - 3} more`);
  return {
    runIds: runs.map((r) => r.id),
    title: runs.length === 1 ? 'A run was interrupted' : `${runs.length} runs were interrupted`,
    body:
      `Training stopped while Tunesmith or the computer was off: ${names.join(', ')}. ` +
      `Resume continues ${runs.length === 1 ? 'it' : 'each'} from ${runs.length === 1 ? 'its' : 'their'} last checkpoint.`,
    canResume: true,
    via: 'dialog',
  };
}

/** The dialog's buttons: "Resume now" first when the runs can continue, else a plain OK. */
export function noticeButtons(notice: RunNotice): { buttons: string[]; defaultId: number; cancelId: number } {
  return notice.canResume
    ? { buttons: ['Resume now', 'Not now'], defaultId: 0, cancelId: 1 }
    : { buttons: ['OK'], defaultId: 0, cancelId: 0 };
}

/** The runs to resume for the dialog's answer (button index). */
export function runsToResume(notice: RunNotice, response: number): number[] {
  return notice.canResume && response === 0 ? notice.runIds : [];
}
