// Closing the window while a run trains: ask, don't kill. The choices are stopping (each run saves a
// checkpoint at its next optimizer step, then the app quits) or keeping the trainer going with the
// window hidden (it comes back when Tunesmith is started again or from the tray icon). Pure, so the
// question's wording and the button order are tested; main/index.ts shows it.

export type CloseChoice = 'stop' | 'background' | 'cancel';

/** Button order is the choice order; `cancelId` answers Esc and closing the dialog. */
const CHOICES: readonly { choice: CloseChoice; label: string }[] = [
  { choice: 'stop', label: 'Stop training and quit' },
  { choice: 'background', label: 'Keep training in the background' },
  { choice: 'cancel', label: 'Cancel' },
];

/** How long "Stop" waits for each run to save its checkpoint before quitting anyway. */
export const STOP_GRACE_MS = 30_000;

export interface CloseQuestion {
  type: 'question';
  title: string;
  message: string;
  detail: string;
  buttons: string[];
  defaultId: number;
  cancelId: number;
  noLink: true;
}

/** Whether closing the window needs the question: only while this app's trainers run. */
export function mustAskBeforeClosing(state: { activeRuns: number; closeAllowed: boolean }): boolean {
  return state.activeRuns > 0 && !state.closeAllowed;
}

export function closeQuestion(runNames: string[]): CloseQuestion {
  const message =
    runNames.length === 1
      ? `“${runNames[0]}” is still training.`
      : `${runNames.length} runs are still training.`;
  return {
    type: 'question',
    title: 'Training is running',
    message,
    detail: [
      'Stop: training stops after the current step and saves a checkpoint; Resume continues from there later.',
      'Keep training: the window closes and training goes on. Start Tunesmith again (or use its icon ' +
        'in the system tray) to see how it is doing.',
    ].join('\n\n'),
    buttons: CHOICES.map((c) => c.label),
    // Keeping the work going is the safe default for an accidental Enter.
    defaultId: CHOICES.findIndex((c) => c.choice === 'background'),
    cancelId: CHOICES.findIndex((c) => c.choice === 'cancel'),
    noLink: true,
  };
}

/** The dialog's answer (button index) as a choice; anything unexpected is Cancel. */
export function closeChoice(response: number): CloseChoice {
  return CHOICES[response]?.choice ?? 'cancel';
}

/**
 * The hidden window exists only for training: once the background runs have ended (their notices
 * said how), the app quits rather than linger invisibly. Started again, it opens normally.
 */
export function shouldQuitFromBackground(state: { inBackground: boolean; activeRuns: number }): boolean {
  return state.inBackground && state.activeRuns === 0;
}
