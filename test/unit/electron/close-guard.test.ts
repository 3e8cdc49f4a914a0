// Closing the window while a run trains asks first; its three answers and the safe default.
import { describe, expect, it } from 'vitest';
import {
  closeChoice,
  closeQuestion,
  mustAskBeforeClosing,
  shouldQuitFromBackground,
} from '../../../main/electron/close-guard.js';

describe('close guard', () => {
  it('asks only while this app trains something, and not once the person chose to quit', () => {
    expect(mustAskBeforeClosing({ activeRuns: 0, closeAllowed: false })).toBe(false);
    expect(mustAskBeforeClosing({ activeRuns: 1, closeAllowed: false })).toBe(true);
    expect(mustAskBeforeClosing({ activeRuns: 2, closeAllowed: true })).toBe(false);
  });

  it('offers stop, keep in the background and cancel; Enter keeps training, Esc cancels', () => {
    const q = closeQuestion(['Support bot · Quick']);
    expect(q.message).toBe('“Support bot · Quick” is still training.');
    expect(q.buttons).toEqual(['Stop training and quit', 'Keep training in the background', 'Cancel']);
    expect(closeChoice(q.defaultId)).toBe('background');
    expect(closeChoice(q.cancelId)).toBe('cancel');
    expect(q.buttons.map((_, i) => closeChoice(i))).toEqual(['stop', 'background', 'cancel']);
    expect(q.detail).toMatch(/checkpoint/);
  });

  it('counts several runs, and treats an unknown answer as Cancel', () => {
    expect(closeQuestion(['a', 'b', 'c']).message).toBe('3 runs are still training.');
    expect(closeChoice(7)).toBe('cancel');
    expect(closeChoice(-1)).toBe('cancel');
  });

  it('quits from the background once nothing trains, never while the window is shown', () => {
    expect(shouldQuitFromBackground({ inBackground: true, activeRuns: 0 })).toBe(true);
    expect(shouldQuitFromBackground({ inBackground: true, activeRuns: 1 })).toBe(false);
    expect(shouldQuitFromBackground({ inBackground: false, activeRuns: 0 })).toBe(false);
  });
});
