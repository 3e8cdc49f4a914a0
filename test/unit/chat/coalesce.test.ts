// Streamed chat text merged into at most one event per interval, none lost, order kept.
import { describe, expect, it } from 'vitest';
import { type CoalesceClock, TextCoalescer } from '../../../main/core/chat/coalesce.js';

/** A clock the test moves by hand; timers fire when it passes them. */
function manualClock() {
  let now = 0;
  let timers: { at: number; run: () => void; id: number }[] = [];
  let nextId = 1;
  const clock: CoalesceClock = {
    now: () => now,
    setTimeout: (run, ms) => {
      const id = nextId++;
      timers.push({ at: now + ms, run, id });
      return id;
    },
    clearTimeout: (id) => {
      timers = timers.filter((t) => t.id !== id);
    },
  };
  const advance = (ms: number) => {
    now += ms;
    for (const t of timers.filter((t) => t.at <= now)) {
      timers = timers.filter((x) => x !== t);
      t.run();
    }
  };
  return { clock, advance, pending: () => timers.length };
}

describe('TextCoalescer', () => {
  it('sends the first piece at once and merges the next ones until the interval has passed', () => {
    const { clock, advance } = manualClock();
    const sent: string[] = [];
    const c = new TextCoalescer((t) => sent.push(t), 50, clock);
    c.push('Hel');
    expect(sent).toEqual(['Hel']);
    advance(10);
    c.push('lo');
    advance(10);
    c.push(',');
    c.push(' world');
    expect(sent).toEqual(['Hel']);
    advance(30);
    expect(sent).toEqual(['Hel', 'lo, world']);
    advance(100);
    c.push('!');
    expect(sent).toEqual(['Hel', 'lo, world', '!']);
  });

  it('sends at most one event per interval however fast pieces come', () => {
    const { clock, advance } = manualClock();
    const sent: string[] = [];
    const c = new TextCoalescer((t) => sent.push(t), 50, clock);
    for (let i = 0; i < 1000; i++) {
      c.push(`${i % 10}`);
      advance(1);
    }
    c.flush();
    // 1000 ms of pieces: about 20 events, and every character arrives once, in order.
    expect(sent.length).toBeLessThanOrEqual(21);
    expect(sent.join('')).toBe(Array.from({ length: 1000 }, (_, i) => `${i % 10}`).join(''));
  });

  it('flush sends what is held and cancels the pending timer; empty pieces send nothing', () => {
    const { clock, advance, pending } = manualClock();
    const sent: string[] = [];
    const c = new TextCoalescer((t) => sent.push(t), 50, clock);
    c.push('a');
    c.push('b');
    expect(pending()).toBe(1);
    c.flush();
    expect(sent).toEqual(['a', 'b']);
    expect(pending()).toBe(0);
    c.flush();
    c.push('');
    advance(100);
    expect(sent).toEqual(['a', 'b']);
  });
});
